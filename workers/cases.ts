import {
  assignCase,
  type CaseAssignment,
  type CaseSignal,
  churnRecovered,
  closeDecision,
  DAY,
  groupingRule,
} from "../domain/cases";
import {
  type CaseRecord,
  caseStatements,
  casesBackfilled,
  closeCase,
  customerProductsInPeriod,
  latestUsageHours,
  markCasesBackfilled,
  openCases,
  productUnitsByMetric,
} from "../store/cases";
import { signalsOfCase, unfiledSignals } from "../store/signals";
import { hashId } from "./ladder/ids";

// Cases as a service (domain/cases.ts, store/cases.ts): filing new signals (the events
// consumer's transaction), grouping signals recorded before cases existed (backfill), and the
// periodic closing (the tenant clock's jobs, workers/periodic.ts: a DO alarm, locally and
// deployed alike).

/** A case's id: from its key and the signal that opened it, so a replay finds the same id. */
export const caseId = (tenantId: string, key: string, signalId: string) =>
  hashId("case", tenantId, key, signalId);

/** Where a signal goes. A customer-level margin finding asks which products the customer's
 * margin is judged on that period (`extraProducts`: those of the batch that carries it). */
export async function assignmentFor(
  db: D1Database,
  tenantId: string,
  signal: CaseSignal,
  extraProducts: readonly string[] = [],
): Promise<CaseAssignment> {
  if (signal.detector !== "MarginGuard" || signal.product) return assignCase(signal);
  const products = await customerProductsInPeriod(db, tenantId, signal.customer, signal.window);
  return assignCase(signal, { customerProducts: [...products, ...extraProducts] });
}

/** The statements filing one recorded signal into its case. */
export async function fileSignalStatements(
  db: D1Database,
  tenantId: string,
  signalId: string,
  signal: CaseSignal,
  now: number,
  extraProducts: readonly string[] = [],
): Promise<D1PreparedStatement[]> {
  const a = await assignmentFor(db, tenantId, signal, extraProducts);
  return caseStatements(
    db,
    tenantId,
    await caseId(tenantId, a.key, signalId),
    a,
    { signalId, window: signal.window, magnitude: signal.magnitude },
    now,
  );
}

const BACKFILL_CHUNK = 40;

/** Files the tenant's signals recorded before cases existed (oldest window first, so episodes
 * group as they would have live), once; later signals are filed as they are recorded. */
export async function backfillCases(db: D1Database, tenantId: string, now: number) {
  if (await casesBackfilled(db, tenantId)) return 0;
  let filed = 0;
  for (;;) {
    const signals = await unfiledSignals(db, tenantId, BACKFILL_CHUNK);
    if (signals.length === 0) break;
    const statements: D1PreparedStatement[] = [];
    for (const s of signals) {
      statements.push(...(await fileSignalStatements(db, tenantId, s.id, s, s.created_at)));
    }
    await db.batch(statements);
    filed += signals.length;
    if (signals.length < BACKFILL_CHUNK) break;
  }
  await markCasesBackfilled(db, tenantId, now);
  return filed;
}

const CLOSING_PAGE = 500;

/** Closes the open cases whose period has closed, whose condition has cleared or whose watch
 * expired (domain/cases.ts closeDecision), each with its reason. Idempotent. */
export async function closeSettledCases(db: D1Database, tenantId: string, now: number) {
  const open = await openCases(db, tenantId, CLOSING_PAGE);
  const episodes = open.filter((c) => groupingRule(c.detector).kind === "episode");
  const latest = await latestUsageHours(db, tenantId, [
    ...new Set(episodes.map((c) => c.customer)),
  ]);
  const closing: { c: CaseRecord; reason: NonNullable<ReturnType<typeof closeDecision>> }[] = [];
  const today = Math.floor(now / DAY) * DAY;
  for (const c of open) {
    const recovered =
      c.detector === "WeeklyChurnSignalDetector" && c.product
        ? await churnCaseRecovered(db, tenantId, c, today)
        : false;
    const reason = closeDecision(c, {
      now,
      latestData: latest.get(c.customer) ?? null,
      churnRecovered: recovered,
    });
    if (reason) closing.push({ c, reason });
  }
  for (const { c, reason } of closing) {
    await closeCase(db, tenantId, c.id, { at: now, by: "system", reason, note: null });
  }
  return closing.length;
}

/** A churn case's customer is back: the last 7 closed days against the week before the drop
 * its first signal recorded (domain/cases.ts churnRecovered). */
async function churnCaseRecovered(
  db: D1Database,
  tenantId: string,
  c: CaseRecord,
  today: number,
): Promise<boolean> {
  const [first] = await signalsOfCase(db, tenantId, c.id, 1);
  if (!first || !c.product) return false;
  const last7 = await productUnitsByMetric(
    db,
    tenantId,
    c.customer,
    c.product,
    today - 7 * DAY,
    today,
  );
  return churnRecovered(first.details, last7);
}

/** The periodic part: backfill once, then close what has settled. */
export async function runCaseJobs(db: D1Database, tenantId: string, now: number) {
  await backfillCases(db, tenantId, now);
  await closeSettledCases(db, tenantId, now);
}
