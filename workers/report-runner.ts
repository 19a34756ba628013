import type { ReportResult } from "../contracts/reports";
import { type CompiledReport, compileReport, type SumMode } from "../domain/reports/compile";
import {
  ACTOR_CONCURRENCY,
  customersStatement,
  MAX_ACTORS_PER_QUERY,
  mergeEvents,
  retentionIssues,
} from "../domain/reports/compile-events";
import type { Checked } from "../domain/reports/query";
import { actorName } from "../durable-objects/customer-actor";
import { type CompiledRows, reportDataAsOf, runCompiledReport } from "../store/reports";
import { loadTenantSettings } from "../store/tenants";
import { pool } from "./billing/plans";
import { ApiError, validationError } from "./problem";

// The one way a checked report query is run (POST /api/reports/run and its CSV and Parquet,
// schedules, share links): the D1 datasets through compile.ts in one D1 batch; `events` as a
// scatter-gather over the customers' actors (domain/reports/compile-events.ts): D1's rollups
// name the customers with usage in the range, each of their actors runs the one compiled
// statement over its own events, and the partials are merged exactly here.

export type CheckedQuery = Extract<Checked, { ok: true }>;

/** The answer to a checked query. Throws ApiError (400 naming the field, 422) when an events
 * query reaches past raw retention or would ask too many actors. */
export async function executeReport(
  env: Env,
  tenantId: string,
  checked: CheckedQuery,
  now: number,
): Promise<ReportResult> {
  if (checked.query.dataset === "events") return runEvents(env, tenantId, checked, now);
  const compile = (sums: SumMode) =>
    compileReport(tenantId, checked.query, checked.from, checked.to, now, sums);
  const run = async (): Promise<{ compiled: CompiledReport; raw: CompiledRows }> => {
    const plain = compile("plain");
    try {
      return { compiled: plain, raw: await runCompiledReport(env.DB, plain) };
    } catch (err) {
      // A sum past 2^63 (domain/limits.ts lets one customer-day come close): SQLite refused it
      // rather than round, so the same statements are run again summing in halves.
      if (!/integer overflow/i.test(String(err))) throw err;
      const halves = compile("halves");
      return { compiled: halves, raw: await runCompiledReport(env.DB, halves) };
    }
  };
  const [{ compiled, raw }, asOf] = await Promise.all([
    run(),
    reportDataAsOf(env.DB, tenantId, checked.query.dataset, now),
  ]);
  return {
    ...compiled.decode(raw.rows, raw.totals, raw.comparison),
    data_as_of: new Date(asOf).toISOString(),
  };
}

async function runEvents(
  env: Env,
  tenantId: string,
  { query, from, to }: CheckedQuery,
  now: number,
): Promise<ReportResult> {
  const settings = await loadTenantSettings(env.DB, tenantId);
  const issues = retentionIssues(query, from, to, settings.raw_retention_days, now);
  if (issues.length > 0) throw validationError(issues);
  const pick = customersStatement(tenantId, query, from, to);
  const { results } = await env.DB.prepare(pick.sql)
    .bind(...(pick.parameters as unknown[]))
    .all<{ customer: string }>();
  if (results.length > MAX_ACTORS_PER_QUERY) {
    const message = `more than ${MAX_ACTORS_PER_QUERY.toLocaleString("en-US")} customers have usage in this range: raw events are kept in each customer's own store and one report may read at most ${MAX_ACTORS_PER_QUERY.toLocaleString("en-US")} of them (each read is a subrequest, and a Worker's subrequests are limited); filter on customer (or product, metric), shorten the range, or use dataset \`usage\``;
    throw new ApiError("unprocessable", message, [{ path: "filters", message }]);
  }
  const input = { query, from, to };
  const partials = await pool(results, ACTOR_CONCURRENCY, async ({ customer }) => ({
    customer,
    rows: await env.CUSTOMER_ACTOR.getByName(actorName(tenantId, customer)).reportEvents(input),
  }));
  // Each actor answered from its own storage as it stood when asked: the events are current
  // to the instant of the run.
  return { ...mergeEvents(query, from, to, partials), data_as_of: new Date(now).toISOString() };
}
