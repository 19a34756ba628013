// What a service returns instead of throwing: a value, or a refusal with a stable code. Only
// the HTTP boundary (workers/routes/*) turns a refusal into problem+json, so services stay
// callable from the ladder, the periodic jobs and tests without an HTTP layer.

/** A field that failed validation, as `{path, message}` (dotted path into the input). */
export interface FieldIssue {
  path: string;
  message: string;
}

export type FailureCode = "not_found" | "conflict" | "validation_failed";

export interface Failure {
  ok: false;
  code: FailureCode;
  detail: string;
  errors?: FieldIssue[];
}

export type Result<T = undefined> = { ok: true; value: T } | Failure;

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });

export const done: { ok: true; value: undefined } = { ok: true, value: undefined };

export const notFound = (what: string, id: string): Failure => ({
  ok: false,
  code: "not_found",
  detail: `${what} '${id}' does not exist`,
});

export const conflict = (detail: string): Failure => ({ ok: false, code: "conflict", detail });

/** A validation refusal; the detail lists the fields unless given. */
export const invalid = (errors: FieldIssue[], detail?: string): Failure => ({
  ok: false,
  code: "validation_failed",
  detail: detail ?? errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; "),
  errors,
});
