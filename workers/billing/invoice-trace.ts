import type { InvoiceLineRecord, InvoiceRecord, UsageTotals } from "../../store/invoices";
import { usageTotals } from "../../store/invoices";

// An invoice traced to what it was computed from (GET /api/invoices/:id/trace): each usage
// line's metric and stretch of the period (its plan's service window) to the rollups of the
// customer's events over that window, fee lines (flat, minimum top-up) to the plan, and
// adjustments (coupons, rounding) as such. The events themselves are one more call away
// (GET /api/invoices/:id/events?line=N, from the customer's actor).

/** Line types priced from usage (they carry a metric). */
const USAGE_TYPES = new Set(["per_unit", "tiered", "package", "included", "discount"]);
const FEE_TYPES = new Set(["flat", "minimum"]);

export type LineKind = "usage" | "fee" | "adjustment";

export function lineKind(l: Pick<InvoiceLineRecord, "type" | "metric_id">): LineKind {
  if (USAGE_TYPES.has(l.type) && l.metric_id !== null) return "usage";
  if (FEE_TYPES.has(l.type)) return "fee";
  return "adjustment";
}

export interface UsageGroup {
  metric: string;
  from: number;
  to: number;
  positions: number[];
  /** Sum of the group's line amounts, nanos. */
  amount: bigint;
  rollups: UsageTotals;
}

export interface InvoiceTrace {
  kinds: Map<number, LineKind>;
  groups: UsageGroup[];
  totals: Record<LineKind, bigint>;
}

/** Groups the usage lines by metric and service window and sums the rollups behind each. */
export async function traceInvoice(
  db: D1Database,
  tenantId: string,
  inv: InvoiceRecord,
  lines: readonly InvoiceLineRecord[],
): Promise<InvoiceTrace> {
  const kinds = new Map<number, LineKind>();
  const totals: Record<LineKind, bigint> = { usage: 0n, fee: 0n, adjustment: 0n };
  const groups = new Map<string, Omit<UsageGroup, "rollups">>();
  for (const l of lines) {
    const kind = lineKind(l);
    kinds.set(l.position, kind);
    totals[kind] += l.amount;
    if (kind !== "usage") continue;
    const from = l.service_from ?? inv.period_start;
    const to = l.service_to ?? inv.closes_at;
    const key = `${l.metric_id}\u0000${from}\u0000${to}`;
    const g = groups.get(key) ?? {
      metric: l.metric_id as string,
      from,
      to,
      positions: [],
      amount: 0n,
    };
    g.positions.push(l.position);
    g.amount += l.amount;
    groups.set(key, g);
  }
  const traced = await Promise.all(
    [...groups.values()].map(async (g) => ({
      ...g,
      rollups: await usageTotals(db, tenantId, {
        customer: inv.customer_id,
        product: inv.product_id,
        metric: g.metric,
        from: g.from,
        to: g.to,
      }),
    })),
  );
  return { kinds, groups: traced, totals };
}
