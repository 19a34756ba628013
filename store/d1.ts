import type { z } from "zod";

// Small helpers every store module shares. The store layer holds all D1 SQL and the row ↔ domain
// mapping; it imports only domain/, contracts/ and store/, never the edge app (workers/).

/** A JSON column read back through its schema: a stored document that no longer matches is a
 * bug worth a clear message, never a silently wrong cast. */
export function parseStored<S extends z.ZodType>(
  schema: S,
  text: string,
  what: string,
): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StoredDataError(`${what}: stored JSON does not parse`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new StoredDataError(
      `${what}: stored document does not match its schema (${first?.path.join(".") ?? ""}: ${first?.message ?? "invalid"})`,
    );
  }
  return parsed.data;
}

export class StoredDataError extends Error {
  override readonly name = "StoredDataError";
}

/** True when a D1 write failed on a UNIQUE or PRIMARY KEY constraint. */
export const isUniqueViolation = (err: unknown): boolean =>
  err instanceof Error &&
  /UNIQUE constraint failed|PRIMARY KEY constraint failed/i.test(err.message);
