import {
  type AsyncBuffer,
  type FileMetaData,
  type ParquetParsers,
  parquetMetadataAsync,
  parquetReadObjects,
} from "hyparquet";
import type { SchemaElement } from "hyparquet-writer";

// Money and quantities in every export file (the event archive and the exports API alike) are
// Parquet DECIMALs at Aforo's two fixed scales: DECIMAL(38,9) for money (nanos) and
// DECIMAL(38,6) for quantities (micro-units), stored as 16-byte big-endian two's complement.
// They are written from the unscaled integer as a bigint, never through a float, so a warehouse
// loads them as its own exact decimal (BigQuery's NUMERIC is exactly 38,9) and sums them with
// no cast. hyparquet reads a DECIMAL as a JavaScript number, which rounds past 2^53, so the
// exact reader here drops the annotation and decodes the raw bytes itself: the one decoder
// every Aforo reader and test uses.

export const MONEY_DECIMAL = { precision: 38, scale: 9 } as const;
export const QUANTITY_DECIMAL = { precision: 38, scale: 6 } as const;

/** The schema element of a money or quantity column. */
export function decimalElement(
  name: string,
  kind: "money" | "quantity",
  repetition_type: "REQUIRED" | "OPTIONAL",
): SchemaElement {
  const { precision, scale } = kind === "money" ? MONEY_DECIMAL : QUANTITY_DECIMAL;
  return {
    name,
    type: "FIXED_LEN_BYTE_ARRAY",
    type_length: 16,
    converted_type: "DECIMAL",
    logical_type: { type: "DECIMAL", precision, scale },
    precision,
    scale,
    repetition_type,
  };
}

/** A column's values for the writer: the unscaled integers (decimal text or bigint) as bigints,
 * which hyparquet-writer stores as they are (a number would be scaled in float). */
export const decimalValues = (values: readonly unknown[]) =>
  values.map((v) => (v === null || v === undefined ? null : BigInt(v as string | bigint)));

/** A big-endian two's-complement integer (a DECIMAL's unscaled value). */
export function unscaled(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  const bits = BigInt(bytes.length * 8);
  return bytes.length > 0 && (bytes[0] ?? 0) & 0x80 ? v - (1n << bits) : v;
}

const isDecimal = (e: FileMetaData["schema"][number]) =>
  e.logical_type?.type === "DECIMAL" || e.converted_type === "DECIMAL";

export type ExactMetadata = FileMetaData & { decimals: Map<string, number> };

/** The file's metadata with its DECIMAL columns' annotation dropped, so hyparquet hands over
 * their raw bytes; `decimals` names those columns with their scale. */
export async function exactMetadata(file: AsyncBuffer): Promise<ExactMetadata> {
  const metadata = await parquetMetadataAsync(file);
  const decimals = new Map<string, number>();
  for (const e of metadata.schema) if (isDecimal(e)) decimals.set(e.name, Number(e.scale ?? 0));
  return {
    ...metadata,
    decimals,
    schema: metadata.schema.map((e) =>
      decimals.has(e.name) ? { ...e, converted_type: undefined, logical_type: undefined } : e,
    ),
  };
}

/**
 * Reads rows [rowStart, rowEnd) of a file exactly: each DECIMAL as its unscaled integer in
 * decimal text (nanos for money, micro-units for quantities), INT64 as a number. `file` may
 * fetch byte ranges on demand (an R2 object), so a read of a few columns or one row group loads
 * only those bytes; `metadata` is exactMetadata's, when the caller has it.
 */
export async function readExactRows(
  file: AsyncBuffer,
  o: {
    rowStart?: number;
    rowEnd?: number;
    columns?: string[];
    metadata?: ExactMetadata;
    parsers?: Partial<ParquetParsers>;
  } = {},
): Promise<Record<string, unknown>[]> {
  const metadata = o.metadata ?? (await exactMetadata(file));
  const objects = await parquetReadObjects({
    file,
    metadata,
    ...(o.parsers ? { parsers: o.parsers } : {}),
    ...(o.columns ? { columns: o.columns } : {}),
    ...(o.rowStart !== undefined ? { rowStart: o.rowStart } : {}),
    ...(o.rowEnd !== undefined ? { rowEnd: o.rowEnd } : {}),
  });
  return objects.map((obj) => {
    const row: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(obj)) {
      if (value === null || value === undefined) row[name] = null;
      else if (metadata.decimals.has(name)) row[name] = unscaled(value as Uint8Array).toString();
      else if (typeof value === "bigint") row[name] = Number(value);
      else row[name] = value;
    }
    return row;
  });
}
