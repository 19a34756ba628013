import { OpenAPIHono } from "@hono/zod-openapi";
import { ApiError, fieldErrors, problemResponse } from "./problem";

export interface AppEnv {
  Bindings: Env;
  Variables: { tenantId: string; keyId: string };
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
