// Numbers, money and times for people: Intl formatters in the operator's locale, currency and
// time zone. The API sends money as decimal strings; they are parsed only for display.

// Read through globalThis so these pure helpers also run (and type-check) outside a browser.
const nav = (globalThis as { navigator?: { language?: string; languages?: readonly string[] } })
  .navigator;
export const LOCALE = nav?.languages?.[0] || nav?.language || "en-US";
export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** A decimal string, number or null from the API as a number (NaN → null). */
export function num(v: unknown): number | null {
  if (v === null || v === undefined || v === "") return null;
  const n = typeof v === "number" ? v : Number(v);
  return Number.isFinite(n) ? n : null;
}

const cache = new Map<string, Intl.NumberFormat>();
function nf(key: string, opts: Intl.NumberFormatOptions) {
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(LOCALE, opts);
    cache.set(key, f);
  }
  return f;
}

const DASH = "—";

export function money(v: unknown, currency = "USD", opts: { digits?: number } = {}): string {
  const n = num(v);
  if (n === null) return DASH;
  const digits = opts.digits ?? 2;
  return nf(`m:${currency}:${digits}`, {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n);
}

/** Money for unit prices: as many decimals as the price needs (up to 6). */
export function unitMoney(v: unknown, currency = "USD"): string {
  const n = num(v);
  if (n === null) return DASH;
  return nf(`u:${currency}`, {
    style: "currency",
    currency,
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(n);
}

/** Short money for chart axes: "$0", "$250", "$25K", "$1.2M". */
export function moneyCompact(v: unknown, currency = "USD"): string {
  const n = num(v);
  if (n === null) return DASH;
  return nf(`mc:${currency}`, {
    style: "currency",
    currency,
    notation: "compact",
    maximumFractionDigits: 1,
  }).format(n);
}

export function integer(v: unknown): string {
  const n = num(v);
  return n === null ? DASH : nf("int", { maximumFractionDigits: 0 }).format(n);
}

/** "1 customer", "3 customers" (English plural by -s). */
export function counted(n: number, noun: string): string {
  return `${integer(n)} ${noun}${n === 1 ? "" : "s"}`;
}

export function decimal(v: unknown, digits = 2): string {
  const n = num(v);
  return n === null ? DASH : nf(`d:${digits}`, { maximumFractionDigits: digits }).format(n);
}

export function compact(v: unknown): string {
  const n = num(v);
  return n === null
    ? DASH
    : nf("compact", { notation: "compact", maximumFractionDigits: 2 }).format(n);
}

/** A ratio (0.153) as a percentage ("15.3%"). */
export function percent(v: unknown, digits = 1): string {
  const n = num(v);
  return n === null
    ? DASH
    : nf(`p:${digits}`, {
        style: "percent",
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      }).format(n);
}

/** A signed change: "+12.3%" for ratios. */
export function signedPercent(v: unknown, digits = 1): string {
  const n = num(v);
  return n === null
    ? DASH
    : nf(`sp:${digits}`, {
        style: "percent",
        signDisplay: "exceptZero",
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      }).format(n);
}

/** Percentage points: 0.021 → "+2.1 pts". */
export function signedPoints(v: unknown, digits = 1): string {
  const n = num(v);
  return n === null
    ? DASH
    : `${nf(`pts:${digits}`, { signDisplay: "exceptZero", maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n * 100)} pts`;
}

export function signedMoney(v: unknown, currency = "USD"): string {
  const n = num(v);
  return n === null
    ? DASH
    : nf(`sm:${currency}`, {
        style: "currency",
        currency,
        signDisplay: "exceptZero",
        maximumFractionDigits: Math.abs(n) >= 1000 ? 0 : 2,
      }).format(n);
}

export function signedInteger(v: unknown): string {
  const n = num(v);
  return n === null
    ? DASH
    : nf("si", { signDisplay: "exceptZero", maximumFractionDigits: 0 }).format(n);
}

/** An instant (epoch ms or ISO string) as epoch ms. */
export function instant(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

const dtf = (opts: Intl.DateTimeFormatOptions) =>
  new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, ...opts });
const DATE_TIME = dtf({ dateStyle: "medium", timeStyle: "short" });
const DATE_TIME_SECONDS = dtf({ dateStyle: "short", timeStyle: "medium" });
const DATE = dtf({ dateStyle: "medium" });
const DAY = dtf({ month: "short", day: "numeric" });
const TIME = dtf({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
const MONTH = new Intl.DateTimeFormat(LOCALE, { timeZone: "UTC", month: "short", year: "numeric" });

export const dateTime = (v: unknown) => {
  const t = instant(v);
  return t === null ? DASH : DATE_TIME.format(t);
};
export const dateTimeSeconds = (v: unknown) => {
  const t = instant(v);
  return t === null ? DASH : DATE_TIME_SECONDS.format(t);
};
export const dateOnly = (v: unknown) => {
  const t = instant(v);
  return t === null ? DASH : DATE.format(t);
};
export const dayLabel = (v: unknown) => {
  const t = instant(v);
  return t === null ? DASH : DAY.format(t);
};
export const timeOnly = (v: unknown) => {
  const t = instant(v);
  return t === null ? DASH : TIME.format(t);
};
/** A UTC month ("2026-10" or an instant in it) as "Oct 2026". */
export const monthLabel = (v: unknown) => {
  if (typeof v === "string" && /^\d{4}-\d{2}$/.test(v))
    return MONTH.format(Date.parse(`${v}-01T00:00:00Z`));
  const t = instant(v);
  return t === null ? String(v ?? DASH) : MONTH.format(t);
};

/** A duration between two instants, roughly ("3 h", "2 d"). */
export function span(from: unknown, to: unknown): string {
  const a = instant(from);
  const b = instant(to);
  if (a === null || b === null) return DASH;
  const ms = Math.max(0, b - a);
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86_400_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** snake_case or camelCase identifiers as words ("input_tokens" → "input tokens"). */
export const words = (s: string) => s.replace(/_/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2");

/** A signal's or case's customer in words: "*" is a tenant-wide finding (a budget alert on a
 * product or segment), about no one customer. */
export const customerLabel = (customer: string) => (customer === "*" ? "All customers" : customer);
