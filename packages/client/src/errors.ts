import type { components } from "./schema.js";

export type Problem = components["schemas"]["Problem"];
export type ProblemCode = Problem["code"];
export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * An answer that is not a success, as the API describes it (application/problem+json, SPEC §11):
 * `code` is stable, switch on it; `issues` are the validation errors by field path
 * (`components.2.tiers.0.up_to`, `query.cursor`). A non-problem answer (a proxy's HTML 502) keeps
 * its status and is coded `unexpected_response`.
 */
export class AforoError extends Error {
  override readonly name = "AforoError";
  readonly status: number;
  readonly code: ProblemCode | "unexpected_response";
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly issues: readonly FieldIssue[];
  /** From `Retry-After`, when the answer carries one (429, 503). */
  readonly retryAfterMs: number | null;

  constructor(init: {
    status: number;
    code: ProblemCode | "unexpected_response";
    title: string;
    detail: string;
    type?: string;
    issues?: readonly FieldIssue[];
    retryAfterMs?: number | null;
  }) {
    super(`${init.status} ${init.code}: ${init.detail}`);
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.type = init.type ?? "about:blank";
    this.issues = init.issues ?? [];
    this.retryAfterMs = init.retryAfterMs ?? null;
  }

  /** The validation issues grouped by field path: `byField()["body.name"]` → its messages. */
  byField(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const issue of this.issues) {
      out[issue.path] = [...(out[issue.path] ?? []), issue.message];
    }
    return out;
  }

  /** Builds the error from an answer; `body` is the already parsed body when there is one. */
  static fromResponse(res: Response, body: unknown, now = Date.now()): AforoError {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), now);
    if (isProblem(body)) {
      return new AforoError({
        status: body.status,
        code: body.code,
        title: body.title,
        detail: body.detail,
        type: body.type,
        issues: body.errors ?? [],
        retryAfterMs,
      });
    }
    const text = typeof body === "string" ? body.slice(0, 200) : "";
    return new AforoError({
      status: res.status,
      code: "unexpected_response",
      title: res.statusText || `HTTP ${res.status}`,
      detail: text || `HTTP ${res.status} without a problem+json body`,
      retryAfterMs,
    });
  }
}

function isProblem(body: unknown): body is Problem {
  if (!body || typeof body !== "object") return false;
  const b = body as Record<string, unknown>;
  return typeof b.code === "string" && typeof b.status === "number" && typeof b.detail === "string";
}

/**
 * `Retry-After` in milliseconds: delay-seconds (`"3"`) or an HTTP date, never negative; null when
 * absent or unreadable (RFC 9110 §10.2.3).
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (!/[a-z]/i.test(trimmed) || Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}
