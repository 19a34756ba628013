// Exact fixed-point arithmetic for money and quantities, on bigint: no binary floating-point
// drift anywhere between an event's price and an invoice total (SPEC §11 "Amounts").
//
// - Money is held in nanos: 1e-9 of the currency unit (so $3 per million tokens is 3,000 nanos
//   per token). Rounded to cents only where a human-facing total needs it (invoices).
// - Quantities are held in micro-units: 1e-6 of the metric's unit (fractional GB-hours work).

export const NANOS_PER_UNIT = 1_000_000_000n;
export const MICROS_PER_UNIT = 1_000_000n;
export const MONEY_SCALE = 9;
export const QUANTITY_SCALE = 6;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/** Parses a decimal string or finite number into an integer scaled by 10^scale, exactly.
 * Throws RangeError when the value has more fractional digits than the scale holds. */
export function parseScaled(value: string | number, scale: number): bigint {
  // Whole numbers (most quantities: calls, tokens) need no decimal parsing; same result.
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value) * pow10(scale);
  const text = typeof value === "number" ? numberToText(value) : value.trim();
  const m = DECIMAL.exec(text);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new RangeError(`not a decimal: ${text}`);
  const [, sign, intPart = "", fracPartRaw = "", expRaw] = m;
  const exp = expRaw ? Number(expRaw) : 0;
  let digits = intPart + fracPartRaw;
  let pointShift = fracPartRaw.length - exp; // digits right of the point
  // Drop trailing zeros that sit right of the point: "1.50" at scale 1 is fine.
  while (pointShift > scale && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    pointShift--;
  }
  if (pointShift > scale) throw new RangeError(`${text} has more than ${scale} decimal places`);
  const magnitude = BigInt(digits === "" ? "0" : digits) * 10n ** BigInt(scale - pointShift);
  return sign === "-" ? -magnitude : magnitude;
}

/** 10^0 … 10^18: every scale money and quantities use. */
const POW10 = Array.from({ length: 19 }, (_, i) => 10n ** BigInt(i));
const pow10 = (n: number): bigint => POW10[n] ?? 10n ** BigInt(n);

function numberToText(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return String(value);
}

export const toNanos = (value: string | number): bigint => parseScaled(value, MONEY_SCALE);
export const toMicros = (value: string | number): bigint => parseScaled(value, QUANTITY_SCALE);

/** Integer division rounding half to even (banker's rounding), for any signs. */
export function divRound(numerator: bigint, denominator: bigint): bigint {
  if (denominator === 0n) throw new RangeError("division by zero");
  if (denominator < 0n) return divRound(-numerator, -denominator);
  const q = numerator / denominator;
  const r = numerator - q * denominator;
  const twice = 2n * (r < 0n ? -r : r);
  if (twice < denominator) return q;
  const away = numerator < 0n ? q - 1n : q + 1n;
  if (twice > denominator) return away;
  return q % 2n === 0n ? q : away;
}

/** quantity (micros) × unit price (nanos) → nanos, rounded half-even once. */
export const multiply = (quantityMicros: bigint, unitPriceNanos: bigint): bigint =>
  divRound(quantityMicros * unitPriceNanos, MICROS_PER_UNIT);

/** Rounds nanos to a number of decimal places of the currency unit (2 for cents). */
export function roundNanos(nanos: bigint, decimals = 2): bigint {
  const step = 10n ** BigInt(MONEY_SCALE - decimals);
  return divRound(nanos, step) * step;
}

/** Formats a scaled integer as a decimal string, trimming trailing zeros but keeping
 * at least `minDecimals` places ("12.50" for money with minDecimals 2). */
export function formatScaled(value: bigint, scale: number, minDecimals = 0): string {
  const negative = value < 0n;
  const abs = (negative ? -value : value).toString().padStart(scale + 1, "0");
  const intPart = abs.slice(0, abs.length - scale);
  let frac = abs.slice(abs.length - scale).replace(/0+$/, "");
  if (frac.length < minDecimals) frac = frac.padEnd(minDecimals, "0");
  return `${negative ? "-" : ""}${intPart}${frac ? `.${frac}` : ""}`;
}

export const formatMoney = (nanos: bigint, minDecimals = 2): string =>
  formatScaled(nanos, MONEY_SCALE, minDecimals);
export const formatQuantity = (micros: bigint): string => formatScaled(micros, QUANTITY_SCALE);

export const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);
export const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);
