import type { SubscriptionHistory } from "../../../domain/kpi";
import { formatMoney } from "../../../domain/money";

// Shared by the KPI tests: dates by day, money as text, and subscriptions written as phases.

export const DAY = 86_400_000;

/** Midnight UTC of a YYYY-MM-DD date, epoch ms. */
export const d = (date: string) => Date.parse(`${date}T00:00:00Z`);

/** Nanos as the API's money text ("100.00"); null stays null. */
export function usd(n: bigint): string;
export function usd(n: bigint | null): string | null;
export function usd(n: bigint | null) {
  return n === null ? null : formatMoney(n);
}

/** A subscription from its phases: [plan, start date, end date or null]. */
export const sub = (
  id: string,
  customer: string,
  phases: [plan: string, start: string, end: string | null][],
  extra: Partial<SubscriptionHistory> = {},
): SubscriptionHistory => ({
  subscription_id: id,
  customer_id: customer,
  phases: phases.map(([plan_id, start, end]) => ({
    plan_id,
    start: d(start),
    end: end === null ? null : d(end),
  })),
  ...extra,
});
