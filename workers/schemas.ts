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

const CURSOR_VERSION = 1;
/** The deepest OFFSET a cursor may ask for (the margin ranking pages by position). */
export const MAX_CURSOR_OFFSET = 10_000_000;
const MAX_CURSOR_STRING = 256;

/**
 * Opaque cursors: base64url of `{"v":1,"k":[…]}`, the last row's sort key in an envelope, so a
 * hand-made key (`[1.5]`) is refused as one this API never issued. Forging an envelope gains
 * nothing: a cursor is only a position, and every part is checked to be the kind its query binds.
 */
export function encodeCursor(key: unknown[]): string {
  const json = JSON.stringify({ v: CURSOR_VERSION, k: key });
  return btoa(json).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * What one part of a cursor's key must be, as the SQL binds it:
 * - `string`: an id, at most 256 characters;
 * - `number`: a finite real (a signal's magnitude);
 * - `time`: epoch milliseconds, a safe integer;
 * - `row`: a row id or sequence number, a non-negative safe integer;
 * - `offset`: a position for OFFSET, an integer from 0 to MAX_CURSOR_OFFSET.
 */
export type KeyPart = "string" | "number" | "time" | "row" | "offset";
type KeyOf<T extends readonly KeyPart[]> = {
  [I in keyof T]: T[I] extends "string" ? string : number;
};

const PART_OK: Record<KeyPart, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string" && v.length <= MAX_CURSOR_STRING,
  number: (v) => typeof v === "number" && Number.isFinite(v),
  time: (v) => Number.isSafeInteger(v),
  row: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  offset: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_CURSOR_OFFSET,
};

/** Decodes a cursor whose key parts must be the given kinds, or answers 400. */
export function decodeCursor<const T extends readonly KeyPart[]>(
  cursor: string | undefined,
  shape: T,
): KeyOf<T> | null {
  if (!cursor) return null;
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const envelope: unknown = JSON.parse(json);
    const key =
      typeof envelope === "object" && envelope !== null && !Array.isArray(envelope)
        ? (envelope as { v?: unknown; k?: unknown })
        : null;
    if (
      key?.v === CURSOR_VERSION &&
      Array.isArray(key.k) &&
      key.k.length === shape.length &&
      key.k.every((part, i) => PART_OK[shape[i] as KeyPart](part))
    ) {
      // -0 is a valid position; normalise it so it binds as 0.
      return key.k.map((part) => (part === 0 ? 0 : part)) as KeyOf<T>;
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
