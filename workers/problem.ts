import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";

// One error shape for the whole API: RFC 9457 problem+json with a stable `code` (SPEC §11).
// Every code maps to exactly one HTTP status here; handlers throw ApiError, never build errors.
export const PROBLEM_STATUS = {
  validation_failed: 400,
  malformed_json: 400,
  unauthorized: 401,
  forbidden: 403,
  wrong_key_kind: 403,
  // A customer API key (sk_live_…) that no customer of this tenant holds, or one revoked.
  unknown_api_key: 401,
  revoked_api_key: 401,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  // Well-formed, but the state it names does not take it (a payment above what is due).
  unprocessable: 422,
  payload_too_large: 413,
  unavailable: 503,
  upstream_failed: 502,
  unsupported_media_type: 415,
  rate_limited: 429,
  // The AI platform (docs/ai.md): screening refused the request; the call would pass the
  // tenant's daily AI cost cap.
  ai_refused: 422,
  ai_cap_reached: 429,
  key_quota_exceeded: 429,
  // Brand Auto-Extract (docs/storefront.md): the site answered with an error, a redirect loop or
  // no HTML; the URL (or a redirect) points where Aforo does not fetch; the page did not arrive
  // within the time limit; the page is larger than the size limit. All 422: each says the
  // address the operator gave cannot be read as a brand, while 5xx stays for Aforo's own faults.
  brand_fetch_failed: 422,
  brand_url_refused: 422,
  brand_timeout: 422,
  brand_too_large: 422,
  internal: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

export interface FieldError {
  path: string;
  message: string;
}

const TITLES: Record<ProblemCode, string> = {
  validation_failed: "Request failed validation",
  malformed_json: "Body is not valid JSON",
  unauthorized: "Missing or invalid credentials",
  forbidden: "Not allowed",
  wrong_key_kind: "This key cannot be used on this path",
  unknown_api_key: "Unknown customer API key",
  revoked_api_key: "Revoked customer API key",
  csrf_failed: "Cross-site request refused",
  not_found: "Not found",
  method_not_allowed: "Method not allowed",
  conflict: "Conflict",
  unprocessable: "Does not fit the current state",
  payload_too_large: "Payload too large",
  unavailable: "Temporarily unavailable",
  upstream_failed: "The origin did not answer",
  unsupported_media_type: "Unsupported media type",
  rate_limited: "Too many requests",
  ai_refused: "The AI assistant refused the request",
  ai_cap_reached: "Daily AI cost cap reached",
  key_quota_exceeded: "The key's quota is used up",
  brand_fetch_failed: "The site could not be read",
  brand_url_refused: "Aforo does not fetch this address",
  brand_timeout: "The site did not answer in time",
  brand_too_large: "The page is larger than Aforo reads",
  internal: "Internal error",
};

export class ApiError extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError("not_found", `${what} '${id}' does not exist`);

export const validationError = (errors: FieldError[], detail?: string) =>
  new ApiError(
    "validation_failed",
    detail ?? errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; "),
    errors,
  );

export function problemBody(code: ProblemCode, detail: string, errors?: FieldError[]) {
  return {
    type: `https://aforo.dev/problems/${code.replaceAll("_", "-")}`,
    title: TITLES[code],
    status: PROBLEM_STATUS[code],
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

export function problemResponse(code: ProblemCode, detail: string, errors?: FieldError[]) {
  return new Response(JSON.stringify(problemBody(code, detail, errors)), {
    status: PROBLEM_STATUS[code],
    // 503 means "retrying works": say when.
    headers: {
      "content-type": "application/problem+json",
      ...(code === "unavailable" ? { "retry-after": "1" } : {}),
    },
  });
}

/** zod issues → field errors with dotted paths (`components.2.tiers.0.up_to`). */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], prefix = ""): FieldError[] {
  return issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join("."),
    message: issue.message,
  }));
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(Object.keys(PROBLEM_STATUS) as [ProblemCode, ...ProblemCode[]]),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

/** Standard error responses for route definitions, so /openapi.json lists them. */
export const problemResponses = {
  400: { description: "Invalid input", content: problemContent },
  401: { description: "Missing or invalid credentials", content: problemContent },
  403: {
    description:
      "Key of the wrong kind, a permission the caller's role lacks, or a failed CSRF check",
    content: problemContent,
  },
  404: { description: "Not found", content: problemContent },
} as const;

export const conflictResponse = {
  409: { description: "Conflicts with existing state", content: problemContent },
} as const;
