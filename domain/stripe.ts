import { NANOS_PER_UNIT } from "./money";
import type { PaymentStatus } from "./payments";

// Stripe-shaped payment webhooks (issue 14), the pure part: the Stripe-Signature check and what
// an event means as a payment attempt. Web Crypto only (Workers and Node both have it), no SDK.
//
// Signature (https://docs.stripe.com/webhooks#verify-manually): the header is
// `t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`; each v1 is HMAC-SHA256 of `${t}.${rawBody}`
// keyed by the endpoint's signing secret (the whole `whsec_…` string). Any v1 may match (Stripe
// sends two while a secret is being rolled); crypto.subtle.verify compares in constant time. A
// timestamp more than the tolerance away from now is refused, so a captured delivery cannot be
// replayed later.

export const SIGNATURE_TOLERANCE_S = 300;

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "missing" | "malformed" | "stale" | "mismatch"; detail: string };

const HEX = /^[0-9a-f]{64}$/i;

const hmacKey = (secret: string, usage: "sign" | "verify") =>
  crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [usage],
  );

const hexBytes = (hex: string) =>
  Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));

/** The header's timestamp and v1 signatures, or null when it has neither. */
export function parseSignatureHeader(header: string): { t: number; v1: string[] } | null {
  let t: number | null = null;
  const v1: string[] = [];
  for (const part of header.split(",")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) t = Number(value);
    else if (key === "v1" && HEX.test(value)) v1.push(value.toLowerCase());
  }
  return t === null || v1.length === 0 ? null : { t, v1 };
}

export async function verifyStripeSignature(
  header: string | null | undefined,
  rawBody: string,
  secret: string,
  nowMs: number,
  toleranceS = SIGNATURE_TOLERANCE_S,
): Promise<SignatureCheck> {
  if (!header) {
    return { ok: false, reason: "missing", detail: "Send the Stripe-Signature header" };
  }
  const parsed = parseSignatureHeader(header);
  if (!parsed) {
    return {
      ok: false,
      reason: "malformed",
      detail: "Stripe-Signature must carry t=<timestamp> and at least one v1=<hex signature>",
    };
  }
  if (Math.abs(nowMs / 1000 - parsed.t) > toleranceS) {
    return {
      ok: false,
      reason: "stale",
      detail: `The signature's timestamp is more than ${toleranceS} s from now (a replayed or delayed delivery)`,
    };
  }
  const key = await hmacKey(secret, "verify");
  const signed = new TextEncoder().encode(`${parsed.t}.${rawBody}`);
  for (const candidate of parsed.v1) {
    if (await crypto.subtle.verify("HMAC", key, hexBytes(candidate), signed)) {
      return { ok: true, timestamp: parsed.t };
    }
  }
  return {
    ok: false,
    reason: "mismatch",
    detail: "No v1 signature matches the body with this tenant's Stripe signing secret",
  };
}

/** The Stripe-Signature header for `rawBody` at `t` (unix seconds): what Stripe sends, for
 * tests and local demos. */
export async function signStripePayload(secret: string, t: number, rawBody: string) {
  const key = await hmacKey(secret, "sign");
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${t}.${rawBody}`)),
  );
  const hex = Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${t},v1=${hex}`;
}

// ---------------------------------------------------------------------------------------------
// Amounts: Stripe sends integers in the currency's smallest unit.

/** https://docs.stripe.com/currencies#zero-decimal and #three-decimal */
const ZERO_DECIMAL = new Set(
  "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split(" "),
);
const THREE_DECIMAL = new Set("bhd jod kwd omr tnd".split(" "));

export const minorUnitDigits = (currency: string): number => {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  return THREE_DECIMAL.has(c) ? 3 : 2;
};

/** A Stripe amount (integer minor units) in nanos, or null when it is not a whole number. */
export function minorToNanos(amount: unknown, currency: string): bigint | null {
  if (typeof amount !== "number" || !Number.isSafeInteger(amount)) return null;
  return (BigInt(amount) * NANOS_PER_UNIT) / 10n ** BigInt(minorUnitDigits(currency));
}

// ---------------------------------------------------------------------------------------------
// Events → payment attempts.

/** A payment attempt read off a Stripe event, before the invoice is looked up. */
export interface StripePayment {
  status: PaymentStatus;
  /** The payment's reference: the event's object id and type (and what makes two deliveries of
   * one happening the same), so a retried webhook is the same attempt. */
  reference: string;
  /** Aforo's invoice id, from the object's metadata.aforo_invoice_id, when it has one. */
  aforo_invoice_id: string | null;
  /** The Stripe invoice the object belongs to (the object itself, or a charge's `invoice`). */
  stripe_invoice: string | null;
  /** The Stripe object's own id (in_…, ch_…): kept as the payment's provider_id. */
  provider_id: string;
  currency: string;
  /** Nanos. For charge.refunded: what the charge has had refunded in all (Stripe's
   * amount_refunded is cumulative); the refund is that less what was recorded before. */
  amount: bigint;
  reason: string | null;
  decline_code: string | null;
  /** Epoch ms. */
  at: number;
}

export type StripeReading =
  | { kind: "payment"; payment: StripePayment }
  | { kind: "ignored"; detail: string };

export const HANDLED_EVENTS = [
  "invoice.payment_succeeded",
  "invoice.payment_failed",
  "charge.refunded",
] as const;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : null;
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
const seconds = (v: unknown): number | null =>
  typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v * 1000 : null;
const idOf = (v: unknown): string | null => str(v) ?? str(obj(v)?.id);

/** What a (signature-checked) Stripe event means for Aforo's payments. */
export function readStripeEvent(event: unknown): StripeReading {
  const e = obj(event);
  const type = str(e?.type);
  const o = obj(obj(e?.data)?.object);
  if (!e || !type || !o) {
    return { kind: "ignored", detail: "Not a Stripe event (type and data.object expected)" };
  }
  if (!(HANDLED_EVENTS as readonly string[]).includes(type)) {
    return { kind: "ignored", detail: `Event type ${type} is not one Aforo records` };
  }
  const id = str(o.id);
  const currency = str(o.currency);
  if (!id || !currency) {
    return { kind: "ignored", detail: `${type}: data.object has no id or currency` };
  }
  const created = seconds(e.created);
  const metadata = obj(o.metadata);
  const base = {
    aforo_invoice_id: str(metadata?.aforo_invoice_id),
    provider_id: id,
    currency: currency.toUpperCase(),
  };

  if (type === "invoice.payment_succeeded") {
    const amount = minorToNanos(o.amount_paid, currency);
    const paidAt = seconds(obj(o.status_transitions)?.paid_at) ?? created;
    if (amount === null || paidAt === null) {
      return { kind: "ignored", detail: `${type}: amount_paid or the payment time is missing` };
    }
    return {
      kind: "payment",
      payment: {
        ...base,
        status: "succeeded",
        reference: `stripe:${id}:${type}`,
        stripe_invoice: id,
        amount,
        reason: null,
        decline_code: null,
        at: paidAt,
      },
    };
  }

  if (type === "invoice.payment_failed") {
    const amount = minorToNanos(o.amount_due, currency);
    if (amount === null || created === null) {
      return { kind: "ignored", detail: `${type}: amount_due or created is missing` };
    }
    // Why it failed: the invoice's last_finalization_error, or the charge when it is expanded.
    const error = obj(o.last_finalization_error);
    const charge = obj(o.charge);
    const attempt = typeof o.attempt_count === "number" ? o.attempt_count : 0;
    return {
      kind: "payment",
      payment: {
        ...base,
        status: "failed",
        // Each retry Stripe makes is its own attempt.
        reference: `stripe:${id}:${type}:${attempt}`,
        stripe_invoice: id,
        amount,
        reason: str(error?.message) ?? str(charge?.failure_message),
        decline_code:
          str(error?.decline_code) ?? str(error?.code) ?? str(charge?.failure_code) ?? null,
        at: created,
      },
    };
  }

  // charge.refunded: amount_refunded is what the charge has had refunded in all.
  const refunded = minorToNanos(o.amount_refunded, currency);
  if (refunded === null || created === null) {
    return { kind: "ignored", detail: `${type}: amount_refunded or created is missing` };
  }
  return {
    kind: "payment",
    payment: {
      ...base,
      status: "refunded",
      // A later partial refund of the same charge has a new cumulative amount: a new attempt.
      reference: `stripe:${id}:${type}:${o.amount_refunded}`,
      stripe_invoice: idOf(o.invoice),
      amount: refunded,
      reason: null,
      decline_code: null,
      at: created,
    },
  };
}
