// The small kit every detector's policy validator is written with: named checks that push
// `{path, message}` issues, so every nonsense field is named with the same words.

export interface PolicyIssue {
  path: string;
  message: string;
}

export type Rec = Record<string, unknown>;

/** `x` as a plain object, or an issue "must be an object" at `path` and null. */
export function asRecord(x: unknown, path: string, issues: PolicyIssue[]): Rec | null {
  if (typeof x === "object" && x !== null && !Array.isArray(x)) return x as Rec;
  issues.push({ path: path || "(root)", message: "must be an object" });
  return null;
}

/** Checks `obj[key]` is a finite number passing `check` (null = fine, else the message); the
 * number when it is valid. */
export function num(
  obj: Rec,
  section: string,
  key: string,
  check: (x: number) => string | null,
  issues: PolicyIssue[],
): number | undefined {
  const path = `${section}.${key}`;
  const x = obj[key];
  if (typeof x !== "number" || !Number.isFinite(x)) {
    issues.push({ path, message: "must be a finite number" });
    return undefined;
  }
  const problem = check(x);
  if (problem) issues.push({ path, message: problem });
  return problem ? undefined : x;
}

export const positive = (x: number) => (x > 0 ? null : "must be greater than 0");
export const nonNegative = (x: number) => (x >= 0 ? null : "must not be negative");
export const fraction = (x: number) => (x >= 0 && x < 1 ? null : "must be in [0, 1)");
export const pct = (x: number) => (x > 0 && x <= 100 ? null : "must be in (0, 100]");
export const positiveInt = (x: number) =>
  Number.isInteger(x) && x >= 1 ? null : "must be a whole number ≥ 1";
export const nonNegativeInt = (x: number) =>
  Number.isInteger(x) && x >= 0 ? null : "must be a whole number ≥ 0";
