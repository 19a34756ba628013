import { type ColumnSource, parquetWriteBuffer } from "hyparquet-writer";
import type { ReportCell, ReportColumn, ReportResult } from "../../contracts/reports";

// A report answer as a file: CSV (RFC 4180) and Parquet (hyparquet-writer, pure JS, runs in
// workerd). Both hold the same rows and columns as POST /api/reports/run.
//
// Parquet columns are typed from the catalog: strings as UTF-8 STRING, numbers and percents as
// DOUBLE, hour_of_week as INT32, time buckets as TIMESTAMP (milliseconds, UTC instant of the
// bucket's start), booleans as BOOLEAN, and money as STRING: the exact decimal of the API
// (money carries up to 9 decimals, so a DOUBLE would round it and a DECIMAL would need one
// fixed scale for every tenant and currency).

/** One CSV field: quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
function csvField(value: ReportCell): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** RFC 4180: a header row of column names, CRLF line ends. */
export function reportCsv(result: Pick<ReportResult, "columns" | "rows">): string {
  const names = result.columns.map((c) => c.name);
  const lines = [names.map(csvField).join(",")];
  for (const row of result.rows) lines.push(names.map((n) => csvField(row[n] ?? null)).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function parquetColumn(column: ReportColumn, rows: ReportResult["rows"]): ColumnSource {
  const values = rows.map((r) => r[column.name] ?? null);
  if (column.name === "hour_of_week") {
    return {
      name: column.name,
      type: "INT32",
      data: values.map((v) => (v === null ? null : Number(v))),
    };
  }
  switch (column.type) {
    case "number":
    case "percent":
      return {
        name: column.name,
        type: "DOUBLE",
        data: values.map((v) => (v === null ? null : Number(v))),
      };
    case "time":
      return {
        name: column.name,
        type: "TIMESTAMP",
        data: values.map((v) => (v === null ? null : new Date(String(v)))),
      };
    case "boolean":
      return {
        name: column.name,
        type: "BOOLEAN",
        data: values.map((v) => (v === null ? null : Boolean(v))),
      };
    default:
      return {
        name: column.name,
        type: "STRING",
        data: values.map((v) => (v === null ? null : String(v))),
      };
  }
}

export function reportParquet(result: Pick<ReportResult, "columns" | "rows">): ArrayBuffer {
  return parquetWriteBuffer({
    columnData: result.columns.map((c) => parquetColumn(c, result.rows)),
    kvMetadata: [{ key: "aforo.report.columns", value: JSON.stringify(result.columns) }],
    createdBy: "aforo reports",
  });
}

/** `report-<dataset>-<YYYY-MM-DD>.<ext>` (the UTC date of the download). */
export const reportFileName = (dataset: string, now: number, ext: "csv" | "parquet") =>
  `report-${dataset}-${new Date(now).toISOString().slice(0, 10)}.${ext}`;
