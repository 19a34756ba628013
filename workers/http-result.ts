import type { Failure, Result } from "../domain/result";
import { ApiError } from "./problem";

// The HTTP boundary for service results (domain/result.ts): a refusal becomes the ApiError of
// the same code, so its status, detail and field errors reach the client unchanged.

export const problemOf = (f: Failure): ApiError => new ApiError(f.code, f.detail, f.errors);

/** The value of a successful result; a refusal is thrown as problem+json. */
export function orThrow<T>(result: Result<T>): T {
  if (!result.ok) throw problemOf(result);
  return result.value;
}
