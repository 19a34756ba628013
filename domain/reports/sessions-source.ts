import { sql } from "kysely";
import { formatMoney, formatScaled, QUANTITY_SCALE } from "../money";
import type { AggValues, Measure, Raw, Source } from "./compile";

// The `sessions` dataset's SQL (domain/reports/compile.ts `source()`): the usage of agent
// sessions per UTC hour × customer × product × session in session_rollups_hourly
// (schema/0025_session_rollups.sql), which the events-queue consumer writes from the actors'
// outbox exactly once. One row is one customer's, so revenue and cost are single integers there
// (summed as compile.ts sums any such column); units and tokens are kept in halves and summed
// so. Time buckets are compile.ts's segments over the rows' hours, as for `usage`: an hour
// belongs to the local bucket its start falls in.

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
const tokens = (col: string): Measure => ({
  aggs: [col],
  order: totalOfHalves(col),
  value: (a) => num(a[col]),
});
const REVENUE = sql`TOTAL(s.revenue)`;
const COST = sql`TOTAL(s.cost)`;
/** A session is one customer's (the same id sent for two customers is two sessions, as the
 * events dataset counts them): customer ids have no space (their pattern), so the pair is
 * unambiguous. */
const SESSION_KEY = sql`s.customer_id || ' ' || s.session_id`;

export function sessionsSource(): Source {
  return {
    table: "session_rollups_hourly",
    alias: "s",
    time: "s.start",
    dims: {
      customer: ref("s.customer_id"),
      session: ref("s.session_id"),
      product: ref("s.product_id"),
    },
    aggs: {
      events: { kind: "count", expr: sql`SUM(s.events)` },
      units: halves("units"),
      revenue: { kind: "exact", expr: ref("s.revenue") },
      cost: { kind: "exact", expr: ref("s.cost") },
      input_tokens: halves("input_tokens"),
      output_tokens: halves("output_tokens"),
      cached_input_tokens: halves("cached_input_tokens"),
      sessions: { kind: "count", expr: sql`COUNT(DISTINCT ${SESSION_KEY})` },
      first_at: { kind: "max", expr: sql`MIN(s.first_at)` },
      last_at: { kind: "max", expr: sql`MAX(s.last_at)` },
    },
    measures: {
      events: { aggs: ["events"], order: sql`SUM(s.events)`, value: (a) => num(a.events) },
      units: {
        aggs: ["units"],
        order: totalOfHalves("units"),
        value: (a) => Number(formatScaled(big(a.units), QUANTITY_SCALE)),
      },
      revenue: { aggs: ["revenue"], order: REVENUE, value: (a) => formatMoney(big(a.revenue)) },
      cogs: { aggs: ["cost"], order: COST, value: (a) => formatMoney(big(a.cost)) },
      margin: {
        aggs: ["revenue", "cost"],
        order: sql`${REVENUE} - ${COST}`,
        value: (a) => formatMoney(big(a.revenue) - big(a.cost)),
      },
      margin_pct: {
        aggs: ["revenue", "cost"],
        order: sql`(${REVENUE} - ${COST}) / NULLIF(${REVENUE}, 0)`,
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
        value: (a) => num(a.sessions),
      },
      // First to last event of the group, in seconds: one session's length when cut by session
      // (its hours' rows span it), the stretch its sessions cover otherwise.
      duration: {
        aggs: ["first_at", "last_at"],
        order: sql`MAX(s.last_at) - MIN(s.first_at)`,
        value: (a) =>
          a.first_at === null || a.first_at === undefined || a.last_at == null
            ? null
            : (num(a.last_at) - num(a.first_at)) / 1000,
      },
    },
  };
}
