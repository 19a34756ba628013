// Invoice lifecycle (SPEC §3): draft → open → paid | void, draft → void. A draft finalised at
// zero is paid at once. Every other transition is refused.

export type InvoiceStatus = "draft" | "open" | "paid" | "void";

export type InvoiceTransition = "pay" | "void" | "finalize";

/** The states each transition leaves from, and the participle the refusal names it by. */
export const INVOICE_TRANSITIONS: Record<
  InvoiceTransition,
  { from: readonly InvoiceStatus[]; verb: string }
> = {
  pay: { from: ["open"], verb: "paid" },
  void: { from: ["draft", "open"], verb: "voided" },
  finalize: { from: ["draft"], verb: "finalised" },
};

/** Why an invoice in `status` cannot take `transition`, or null when it can. */
export function transitionRefusal(
  invoiceId: string,
  status: string,
  transition: InvoiceTransition,
): string | null {
  const { from, verb } = INVOICE_TRANSITIONS[transition];
  if ((from as readonly string[]).includes(status)) return null;
  return `Invoice '${invoiceId}' is ${status}; only ${from.join(" or ")} invoices can be ${verb}`;
}
