import { z } from "@hono/zod-openapi";
import { formatScaled, parseScaled } from "../domain/money";
import { ApiError } from "./problem";

// Shared building blocks for request and response schemas. Every string is bounded.

/** A tenant-chosen identifier (customer ids, product ids, metric ids, …). */
export const Id = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/,
    "use letters, digits and . _ : @ - (start alphanumeric)",
  );

export const Name = z.string().trim().min(1).max(200);

/** A decimal amount as a string ("12.50") or a finite non-negative number; always stored and
 * returned as a plain decimal string (never "3e-7"). */
export const Amount = z
  .union([
    z
      .string()
      .max(40, "at most 40 characters")
      .regex(/^\d+(\.\d+)?$/, 'a non-negative decimal such as "12.50"'),
    z.number().finite().nonnegative(),
  ])
  .transform((v, ctx) => {
    if (typeof v === "string") return v;
    try {
      return formatScaled(parseScaled(v, 18), 18);
    } catch {
      ctx.addIssue({ code: "custom", message: "too many decimal places" });
      return z.NEVER;
    }
  })
  .openapi({ type: "string", example: "12.50" });

export const Timestamp = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .openapi({ type: "string", format: "date-time", example: "2026-11-01T00:00:00Z" });

export const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ example: 50 }),
  cursor: z
    .string()
    .max(512)
    .optional()
    .openapi({ description: "next_cursor of the previous page" }),
});

export const page = <T extends z.ZodTypeAny>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() });

/** Opaque cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(key: unknown[]): string {
  return btoa(JSON.stringify(key)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

type KeyPart = "string" | "number";
type KeyOf<T extends readonly KeyPart[]> = {
  [I in keyof T]: T[I] extends "string" ? string : number;
};

/** Decodes a cursor whose parts must have the given types, or answers 400. */
export function decodeCursor<const T extends readonly KeyPart[]>(
  cursor: string | undefined,
  shape: T,
): KeyOf<T> | null {
  if (!cursor) return null;
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const key: unknown = JSON.parse(json);
    if (
      Array.isArray(key) &&
      key.length === shape.length &&
      key.every(
        (part, i) =>
          typeof part === shape[i] && (typeof part !== "number" || Number.isFinite(part)),
      )
    ) {
      return key as KeyOf<T>;
    }
  } catch {}
  throw new ApiError("validation_failed", "cursor is not one this API issued", [
    { path: "query.cursor", message: "invalid cursor" },
  ]);
}

/** Fetches limit+1 rows to know whether there is a next page. */
export function pageOf<R, T>(
  rows: R[],
  limit: number,
  toItem: (row: R) => T,
  key: (row: R) => unknown[],
) {
  const more = rows.length > limit;
  const slice = more ? rows.slice(0, limit) : rows;
  const last = slice.at(-1);
  return {
    data: slice.map(toItem),
    next_cursor: more && last !== undefined ? encodeCursor(key(last)) : null,
  };
}

export const jsonBody = <T extends z.ZodTypeAny>(schema: T, description?: string) => ({
  required: true,
  content: { "application/json": { schema } },
  ...(description ? { description } : {}),
});

export const jsonResponse = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
