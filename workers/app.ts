import { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import type { Role } from "../domain/roles";
import { ApiError, fieldErrors, problemResponse } from "./problem";

/** Who is calling /api/*: a person signed in with a session, or an operator token. */
export interface Actor {
  kind: "member" | "token";
  /** The member id or the key id. */
  id: string;
  /** How trails and the audit log name them: `member:<email>` or `token:<key id>`. */
  ref: string;
  name: string | null;
  email: string | null;
  role: Role;
  /** The session's CSRF token (members only). */
  csrfToken: string | null;
  sessionId?: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    tenantId: string;
    actor: Actor;
    /** A page the worker renders itself (the public storefront) sets its own CSP here: its
     * nonce-tagged style and script. Nothing else may loosen the default. */
    pageCsp?: string;
  };
}

/** A router with the app's one validation hook: every zod failure becomes problem+json. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const errors = fieldErrors(
          result.error.issues,
          result.target === "json" ? "" : result.target,
        );
        throw new ApiError(
          "validation_failed",
          errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; "),
          errors,
        );
      }
    },
  });
}

/** Maps every thrown error to problem+json; unknown errors are logged, never echoed. */
export function handleError(err: Error): Response {
  if (err instanceof ApiError) return problemResponse(err.code, err.detail, err.errors);
  if (err instanceof SyntaxError) return problemResponse("malformed_json", err.message);
  const status = (err as { status?: number }).status;
  // Hono's own HTTPExceptions (e.g. a body it could not parse as JSON).
  if (status === 400) return problemResponse("malformed_json", "Body is not valid JSON");
  if (status === 415) {
    return problemResponse("unsupported_media_type", "Send the body as application/json");
  }
  console.error("unhandled error", err);
  return problemResponse("internal", "Something went wrong; the error was logged");
}

/** The largest request body on /api/* and /admin/*: the biggest legitimate ones (a 500-entry
 * cost catalog, a plan of 50 components × 50 tiers) stay under a third of it. */
export const API_BODY_LIMIT = 1024 * 1024;
/** A gate check is a few fields. */
export const GATE_BODY_LIMIT = 64 * 1024;

/**
 * Refuses a body over `maxBytes` with 413 before any handler parses it: a declared
 * content-length is refused at once, a streamed body as soon as it passes the limit (Hono's
 * bodyLimit reads at most `maxBytes` of it).
 */
export function limitBody(maxBytes: number, label: string): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `The body is larger than ${label}`);
    },
  });
}

const HSTS = "max-age=31536000; includeSubDomains";

/**
 * Security headers on every response the worker writes (the dashboard's static assets get
 * theirs from pages/public/_headers). The worker answers JSON, SSE and the proxied origin's
 * bodies, so its CSP allows nothing and sandboxes the document: a page an origin serves through
 * the proxy cannot run as Aforo's origin. The one page it renders itself, the public storefront,
 * names its own policy in `pageCsp`. HSTS only when the request came over https
 * (deployed), never on http://localhost; the browser keeps it for the whole host, so it covers
 * the dashboard too once any API call answered over https.
 */
export function securityHeaders(): MiddlewareHandler<AppEnv> {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      sandbox: [],
    },
    xFrameOptions: "DENY",
    referrerPolicy: "no-referrer",
    strictTransportSecurity: false,
  });
  return async (c, next) => {
    await headers(c, next);
    const pageCsp = c.get("pageCsp");
    if (pageCsp) c.res.headers.set("content-security-policy", pageCsp);
    if (c.req.url.startsWith("https:")) c.res.headers.set("strict-transport-security", HSTS);
  };
}
