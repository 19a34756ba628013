// Sums of 64-bit money and quantities that stay exact at any row count (issue 11).
//
// SQLite's SUM() of integers fails past 2^63 − 1 ($9.2 billion in nanos): a tenant's books can
// pass that where no single customer's row does (domain/limits.ts bounds those). So a sum that
// spans customers is taken in two halves, SUM(x / 10^9) and SUM(x % 10^9), each far inside the
// range for any number of rows, and joined in JavaScript as bigints. Tables that store such
// sums keep the halves: <column>_hi × 10^9 + <column>_lo (schema/0009_exact_totals.sql).

const B = "1000000000"; // 10^9 as an integer literal: 1e9 would be REAL division in SQLite

/** `SUM(expr)` as `<alias>_hi` and `<alias>_lo` text halves (exact for any row count). */
export const sumHalves = (expr: string, alias: string) =>
  `CAST(SUM((${expr}) / ${B}) AS TEXT) AS ${alias}_hi, CAST(SUM((${expr}) % ${B}) AS TEXT) AS ${alias}_lo`;

/** The same sum as the two values to store in `<column>_hi`, `<column>_lo`: the low half's carry
 * moves up, so the stored low half stays under 10^9 in magnitude. */
export const sumIntoHalves = (expr: string) =>
  `SUM((${expr}) / ${B}) + SUM((${expr}) % ${B}) / ${B}, SUM((${expr}) % ${B}) % ${B}`;

/** The halves of an exact value, for binding into `<column>_hi`, `<column>_lo`. */
export const toHalves = (v: bigint): [string, string] => [
  (v / 1_000_000_000n).toString(),
  (v % 1_000_000_000n).toString(),
];

/** Joins two halves (text or integer; NULL as 0) into the exact value. */
export const joinHalves = (
  hi: string | number | bigint | null | undefined,
  lo: string | number | bigint | null | undefined,
): bigint => BigInt(hi ?? 0) * 1_000_000_000n + BigInt(lo ?? 0);
