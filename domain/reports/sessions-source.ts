import { sql } from "kysely";
import { formatMoney, formatScaled, QUANTITY_SCALE } from "../money";
import type { AggValues, Measure, Raw, Source } from "./compile";
import type { FilledQuery } from "./query";

// The `sessions` dataset's SQL (domain/reports/compile.ts `source()`): the usage of agent
// sessions per UTC hour × customer × product × session in session_rollups_hourly
// (schema/0025_session_rollups.sql), which the events-queue consumer writes from the actors'
// outbox exactly once. One row is one customer's, so revenue and cost are single integers there
// (summed as compile.ts sums any such column); units and tokens are kept in halves and summed
// so. Time buckets are compile.ts's segments over the rows' hours, as for `usage`: an hour
// belongs to the local bucket its start falls in.
//
// The rows of a query cut by customer × session and nothing else (Agentic Session Analysis) read
// whole sessions instead (`readsWholeSessions`): session_totals (schema/0036_session_totals.sql)
// holds each session's sums over all its hours, kept by triggers in the same statements as the
// hours, with its first and last hour. A session whose hours all start inside the range is its
// one row there, read without grouping; one straddling an edge of the range (or whose bounds a
// deletion widened) is grouped from its hours inside the range, read by key. Each session is in
// exactly one of the two, so together they are the range's hours grouped by session, without
// sorting every session-hour into groups. Every amount is in halves there (a session is not
// bounded as a customer-day is), so that source sums revenue and cost in halves too, and the
// straddling sessions' hours are read split so. Their totals read the range's hours, as any
// other sessions statement (summing needs no groups).
//
// A statement that only sums (no `sessions`, no `duration`) and filters on nothing but the
// product (every statement's totals and comparison of Agentic Session Analysis) reads the
// tenant's hours instead (`readsTenantSessionHours`): session_rollups_tenant_hourly
// (schema/0042_reports_perf.sql) is the sum over customers and sessions of each (hour, product)'s
// session-hours, kept by triggers in the same statements as the hours, so it answers the same to
// the nano from a few rows an hour. Every amount is in halves there (a tenant hour is not bounded
// as a customer-day is).

const ref = (name: string) => sql.ref(name) as Raw;
const B = sql.raw("1000000000");
const big = (v: bigint | number | null | undefined) => (typeof v === "bigint" ? v : BigInt(v ?? 0));
const num = (v: bigint | number | null | undefined) => Number(v ?? 0);
/** The float total of a column kept in halves: it only decides the order. */
const totalOfHalves = (col: string): Raw =>
  sql`(TOTAL(${ref(`s.${col}_hi`)}) * ${B} + TOTAL(${ref(`s.${col}_lo`)}))`;
const halves = (col: string) => ({
  kind: "halves" as const,
  hi: ref(`s.${col}_hi`),
  lo: ref(`s.${col}_lo`),
});
/** The same of one row (compile.ts `Measure.orderOne`): the float its group of one totals to. */
const oneOfHalves = (col: string): Raw =>
  sql`(CAST(${ref(`s.${col}_hi`)} AS REAL) * ${B} + ${ref(`s.${col}_lo`)})`;
const tokens = (col: string): Measure => ({
  aggs: [col],
  order: totalOfHalves(col),
  orderOne: oneOfHalves(col),
  value: (a) => num(a[col]),
});

/** A session is one customer's (the same id sent for two customers is two sessions, as the
 * events dataset counts them): customer ids have no space (their pattern), so the pair is
 * unambiguous. */
const SESSION_KEY = sql`s.customer_id || ' ' || s.session_id`;

const SESSION_HOURS = "session_rollups_hourly";
const SESSION_TOTALS = "session_totals";
const TENANT_SESSION_HOURS = "session_rollups_tenant_hourly";
type SessionsTable = typeof SESSION_HOURS | typeof SESSION_TOTALS | typeof TENANT_SESSION_HOURS;

/** Money in the session-hours: one integer per row; in the whole sessions' rows and the tenant's
 * hours: halves. */
const moneyAgg = (col: string, inHalves: boolean) =>
  inHalves ? halves(col) : { kind: "exact" as const, expr: ref(`s.${col}`) };
const moneyTotal = (col: string, inHalves: boolean): Raw =>
  inHalves ? totalOfHalves(col) : sql`TOTAL(${ref(`s.${col}`)})`;
const moneyOne = (col: string, inHalves: boolean): Raw =>
  inHalves ? oneOfHalves(col) : sql`CAST(${ref(`s.${col}`)} AS REAL)`;

/** The sessions' source: over session-hours; over whole sessions (`wholeSessionsInside`,
 * `straddlingSessionHours`), whose rows are read one row a group (each session inside the range
 * is its own group): the aggregates' and orders' values of one row (`one`, `orderOne`) spare
 * SQLite a group each; or over the tenant's hours (`readsTenantSessionHours`), cut by product
 * only and summing only what they keep. */
export function sessionsSource(table: SessionsTable = SESSION_HOURS): Source {
  const inHalves = table !== SESSION_HOURS;
  const REVENUE = moneyTotal("revenue", inHalves);
  const COST = moneyTotal("cost", inHalves);
  const REVENUE_ONE = moneyOne("revenue", inHalves);
  const COST_ONE = moneyOne("cost", inHalves);
  const tenantWide = table === TENANT_SESSION_HOURS;
  return {
    table,
    alias: "s",
    time: "s.start",
    dims: tenantWide
      ? { product: ref("s.product_id") }
      : {
          customer: ref("s.customer_id"),
          session: ref("s.session_id"),
          product: ref("s.product_id"),
        },
    aggs: {
      events: { kind: "count", expr: sql`SUM(s.events)`, one: ref("s.events") },
      units: halves("units"),
      revenue: moneyAgg("revenue", inHalves),
      cost: moneyAgg("cost", inHalves),
      input_tokens: halves("input_tokens"),
      output_tokens: halves("output_tokens"),
      cached_input_tokens: halves("cached_input_tokens"),
      ...(tenantWide
        ? {}
        : {
            sessions: { kind: "count", expr: sql`COUNT(DISTINCT ${SESSION_KEY})`, one: sql`1` },
            first_at: { kind: "max", expr: sql`MIN(s.first_at)`, one: ref("s.first_at") },
            last_at: { kind: "max", expr: sql`MAX(s.last_at)`, one: ref("s.last_at") },
          }),
    },
    measures: {
      events: {
        aggs: ["events"],
        order: sql`SUM(s.events)`,
        orderOne: ref("s.events"),
        value: (a) => num(a.events),
      },
      units: {
        aggs: ["units"],
        order: totalOfHalves("units"),
        orderOne: oneOfHalves("units"),
        value: (a) => Number(formatScaled(big(a.units), QUANTITY_SCALE)),
      },
      revenue: {
        aggs: ["revenue"],
        order: REVENUE,
        orderOne: REVENUE_ONE,
        value: (a) => formatMoney(big(a.revenue)),
      },
      cogs: {
        aggs: ["cost"],
        order: COST,
        orderOne: COST_ONE,
        value: (a) => formatMoney(big(a.cost)),
      },
      margin: {
        aggs: ["revenue", "cost"],
        order: sql`${REVENUE} - ${COST}`,
        orderOne: sql`${REVENUE_ONE} - ${COST_ONE}`,
        value: (a) => formatMoney(big(a.revenue) - big(a.cost)),
      },
      margin_pct: {
        aggs: ["revenue", "cost"],
        order: sql`(${REVENUE} - ${COST}) / NULLIF(${REVENUE}, 0)`,
        orderOne: sql`(${REVENUE_ONE} - ${COST_ONE}) / NULLIF(${REVENUE_ONE}, 0)`,
        value: (a: AggValues) => {
          const r = big(a.revenue);
          if (r === 0n) return null;
          // Six significant decimals of the fraction, from exact integers (as usage).
          return Number(((r - big(a.cost)) * 1_000_000n) / r) / 1_000_000;
        },
      },
      input_tokens: tokens("input_tokens"),
      output_tokens: tokens("output_tokens"),
      cached_input_tokens: tokens("cached_input_tokens"),
      sessions: {
        aggs: ["sessions"],
        order: sql`COUNT(DISTINCT ${SESSION_KEY})`,
        orderOne: sql`1`,
        value: (a) => num(a.sessions),
      },
      // First to last event of the group, in seconds: one session's length when cut by session
      // (its hours' rows span it), the stretch its sessions cover otherwise.
      duration: {
        aggs: ["first_at", "last_at"],
        order: sql`MAX(s.last_at) - MIN(s.first_at)`,
        orderOne: sql`s.last_at - s.first_at`,
        value: (a) =>
          a.first_at === null || a.first_at === undefined || a.last_at == null
            ? null
            : (num(a.last_at) - num(a.first_at)) / 1000,
      },
    },
  };
}

/** The sums a tenant hour keeps (schema/0042_reports_perf.sql): no first or last event time and
 * no session count, which an update or deletion of an hour could not take back. */
const TENANT_HOUR_AGGS = new Set([
  "events",
  "units",
  "revenue",
  "cost",
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
]);

/** Whether a sessions statement that reads the aggregates `aggs` (no dimensions: totals and
 * comparison) can read the tenant's session hours: it filters on the product alone, and sums
 * only what a tenant hour keeps. */
export function readsTenantSessionHours(q: FilledQuery, aggs: string[]): boolean {
  return (
    q.dataset === "sessions" &&
    (q.filters ?? []).every((f) => f.dimension === "product") &&
    aggs.every((name) => TENANT_HOUR_AGGS.has(name))
  );
}

/** The fields a whole session's row answers for: one row is one (customer, session). */
const WHOLE_SESSION_FIELDS = new Set(["customer", "session"]);

/** Whether a sessions query's rows read whole sessions (session_totals) rather than grouping
 * every session-hour of its range: cut by customer and session and by nothing else (one row is
 * one session; no time bucket), filtered on those alone (a session's totals are over all its
 * products). */
export function readsWholeSessions(q: FilledQuery): boolean {
  return (
    q.dataset === "sessions" &&
    q.dimensions.length === WHOLE_SESSION_FIELDS.size &&
    q.dimensions.every((d) => WHOLE_SESSION_FIELDS.has(d)) &&
    (q.filters ?? []).every((f) => WHOLE_SESSION_FIELDS.has(f.dimension))
  );
}

/** The halves a whole-session row and a session-hour both keep. */
const HALVES_COLUMNS = ["units", "input_tokens", "output_tokens", "cached_input_tokens"].flatMap(
  (c) => [`${c}_hi`, `${c}_lo`],
);

/** The sessions of the tenant whose hours all start in [from, to): their session_totals rows,
 * searched on the table's key (tenant, first hour), its alias `s`. first_start < to follows from
 * last_start < to, and bounds the key's range. */
export function wholeSessionsInside(tenantId: string, from: number, to: number) {
  return {
    table: SESSION_TOTALS,
    where: sql<boolean>`s.tenant_id = ${tenantId} AND s.first_start >= ${from}
      AND s.first_start < ${to} AND s.last_start < ${to}`,
  };
}

/** The hours in [from, to) of the tenant's sessions that have hours in the range and outside it
 * (or bounds a deletion widened, first_start -1): those ending inside the range but starting
 * before it, and those ending after it but starting before its end, found on session_totals'
 * (tenant, last hour) index; their hours read by (customer, session) (the planner is told the
 * index: the table's own key starts with the hour, and the range would look as selective).
 * Under the whole sessions' column names, money split in halves. */
export function straddlingSessionHours(tenantId: string, from: number, to: number): Raw {
  const split = (col: string) =>
    sql`h.${sql.raw(col)} / ${B} AS ${sql.raw(`${col}_hi`)}, h.${sql.raw(col)} % ${B} AS ${sql.raw(`${col}_lo`)}`;
  return sql`(SELECT h.customer_id, h.session_id, h.events,
      ${sql.join(HALVES_COLUMNS.map((c) => sql.ref(`h.${c}`)))},
      ${split("revenue")}, ${split("cost")}, h.first_at, h.last_at
    FROM (SELECT customer_id, session_id FROM ${sql.table(SESSION_TOTALS)}
        WHERE tenant_id = ${tenantId} AND last_start >= ${from} AND last_start < ${to}
          AND first_start < ${from}
      UNION ALL SELECT customer_id, session_id FROM ${sql.table(SESSION_TOTALS)}
        WHERE tenant_id = ${tenantId} AND last_start >= ${to} AND first_start < ${to}) x
    CROSS JOIN session_rollups_hourly h INDEXED BY session_rollups_hourly_by_session
      ON h.tenant_id = ${tenantId} AND h.customer_id = x.customer_id
      AND h.session_id = x.session_id AND h.start >= ${from} AND h.start < ${to})`;
}
