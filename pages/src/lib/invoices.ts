// The Invoices page's URL state (STYLE.md: state lives in the URL) and its small pure helpers.

import type { Invoice, InvoiceStatus } from "../../../contracts/invoices";
import { cursor, id, optionalOf, type Param, type Spec } from "./url-state";

export const INVOICE_STATUSES = [
  "draft",
  "open",
  "paid",
  "void",
] as const satisfies readonly InvoiceStatus[];

/** A month YYYY-MM. */
export const month: Param<string | null> = {
  parse: (raw) => (raw && /^\d{4}-(0[1-9]|1[0-2])$/.test(raw) ? raw : null),
  format: (v) => v,
};

export const invoicesSpec = {
  status: optionalOf(INVOICE_STATUSES),
  customer: id,
  period: month,
  cursor,
  invoice: id,
};
export type InvoicesState = {
  status: InvoiceStatus | null;
  customer: string | null;
  period: string | null;
  cursor: string | null;
  /** The invoice open in the detail panel. */
  invoice: string | null;
};
const _check: Spec<InvoicesState> = invoicesSpec;
void _check;

export type InvoiceAction = "finalize" | "pay" | "void";

/** What an operator may do with an invoice in its state (domain/invoice-states.ts). */
export function actionsFor(status: InvoiceStatus): InvoiceAction[] {
  if (status === "draft") return ["finalize", "void"];
  if (status === "open") return ["pay", "void"];
  return [];
}

/** The `at` of a payment recorded for a calendar date: the end of that UTC day, or now when
 * that is still ahead (the API refuses a future instant). Empty date → now (omitted). */
export function paidAtFor(date: string, now = Date.now()): string | undefined {
  if (!date) return undefined;
  const end = Date.parse(`${date}T23:59:59.000Z`);
  if (!Number.isFinite(end)) return undefined;
  return end >= now ? undefined : new Date(end).toISOString();
}

export const statusTone = (inv: Pick<Invoice, "status" | "days_past_due">): string =>
  inv.status === "paid"
    ? "good"
    : inv.status === "void"
      ? "neutral"
      : inv.status === "draft"
        ? "info"
        : (inv.days_past_due ?? 0) > 0
          ? "bad"
          : "warn";
