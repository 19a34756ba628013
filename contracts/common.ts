// Shapes shared by every route (SPEC §11): cursor pages and the problem+json error body.
// Type-only: the API's zod schemas must produce exactly these (workers/contracts-check.ts).

/** A page of a list: `next_cursor` goes back as `cursor` for the next page; null at the end. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** One field that failed validation: a dotted path into the request and why. */
export interface FieldError {
  path: string;
  message: string;
}

/** Every error: application/problem+json (RFC 9457) with a stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Stable machine-readable code (validation_failed, not_found, conflict, …). */
  code: string;
  errors?: FieldError[];
}
