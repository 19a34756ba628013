import { z } from "zod";
import type { ReportQuery, SavedReport } from "../contracts/reports";
import { PIPELINE_FLUSH_EVERY_MS } from "../domain/pipeline-telemetry";
import type { CompiledReport } from "../domain/reports/compile";
import { parseStored } from "./d1";
import { tenantFeedEnd } from "./rollups";

// Reports in D1: running a compiled report query (domain/reports/compile.ts builds the SQL
// with Kysely; it is run here, bound, in one batch) and saved reports (schema/0019_reports.sql).

type Row = Record<string, unknown>;

/** The raw rows of a compiled report: its grouped rows, totals and comparison totals, read in
 * one D1 batch (one snapshot). */
export interface CompiledRows {
  rows: Row[];
  totals: Row | null;
  comparison: Row | null;
}

export async function runCompiledReport(
  db: D1Database,
  compiled: CompiledReport,
): Promise<CompiledRows> {
  const statements = [
    compiled.rows,
    compiled.totals,
    ...(compiled.comparison ? [compiled.comparison.query] : []),
  ].map((q) => db.prepare(q.sql).bind(...(q.parameters as unknown[])));
  const [rows, totals, comparison] = await db.batch<Row>(statements);
  return {
    rows: rows?.results ?? [],
    totals: totals?.results[0] ?? null,
    comparison: comparison?.results[0] ?? null,
  };
}

/** What a usage answer reflects: the end of the tenant's latest hour with usage in the rollups
 * (never later than now), and so a sessions answer's (session_rollups_hourly is written in the
 * same transactions as the rollups, store/rollups.ts); pipeline telemetry reaches D1 up to one
 * flush window late; other datasets are read live, so now. */
export async function reportDataAsOf(
  db: D1Database,
  tenantId: string,
  dataset: string,
  now: number,
): Promise<number> {
  if (dataset === "pipeline") return now - PIPELINE_FLUSH_EVERY_MS;
  if (dataset !== "usage" && dataset !== "sessions") return now;
  const end = await tenantFeedEnd(db, tenantId);
  return end === null ? now : Math.min(end, now);
}

// ---- Saved reports ------------------------------------------------------------------------------

export type ReportView = SavedReport["view"];

export interface SavedReportRecord {
  id: string;
  name: string;
  description: string;
  query: ReportQuery;
  template: string | null;
  view: ReportView;
  created_by: string;
  created_at: number;
  updated_at: number;
}

/** A stored query is read back as an object; its shape is the route's to check on write. */
const StoredQuery = z.looseObject({ dataset: z.string(), measures: z.array(z.string()) });

const COLUMNS = "id, name, description, query, template, view, created_by, created_at, updated_at";

function toRecord(row: Row): SavedReportRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    description: String(row.description ?? ""),
    query: parseStored(
      StoredQuery,
      String(row.query),
      `report ${row.id}`,
    ) as unknown as ReportQuery,
    template: row.template === null || row.template === undefined ? null : String(row.template),
    view: String(row.view) as ReportView,
    created_by: String(row.created_by),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

export async function insertReport(
  db: D1Database,
  tenantId: string,
  r: SavedReportRecord,
): Promise<void> {
  await db
    .prepare(
      `INSERT INTO reports (tenant_id, ${COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
    )
    .bind(
      tenantId,
      r.id,
      r.name,
      r.description,
      JSON.stringify(r.query),
      r.template,
      r.view,
      r.created_by,
      r.created_at,
      r.updated_at,
    )
    .run();
}

export async function getReport(
  db: D1Database,
  tenantId: string,
  id: string,
): Promise<SavedReportRecord | null> {
  const row = await db
    .prepare(`SELECT ${COLUMNS} FROM reports WHERE tenant_id = ?1 AND id = ?2`)
    .bind(tenantId, id)
    .first<Row>();
  return row ? toRecord(row) : null;
}

/** Newest first; `after` is the last row's (created_at, id). */
export async function listReports(
  db: D1Database,
  tenantId: string,
  after: readonly [number, string] | null,
  limit: number,
): Promise<SavedReportRecord[]> {
  const { results } = await db
    .prepare(
      `SELECT ${COLUMNS} FROM reports
       WHERE tenant_id = ?1 AND (?2 IS NULL OR created_at < ?2 OR (created_at = ?2 AND id > ?3))
       ORDER BY created_at DESC, id LIMIT ?4`,
    )
    .bind(tenantId, after?.[0] ?? null, after?.[1] ?? "", limit)
    .all<Row>();
  return results.map(toRecord);
}

/** Replaces the changeable fields; false when the report does not exist. */
export async function updateReport(
  db: D1Database,
  tenantId: string,
  r: SavedReportRecord,
): Promise<boolean> {
  const res = await db
    .prepare(
      `UPDATE reports SET name = ?3, description = ?4, query = ?5, view = ?6, updated_at = ?7
       WHERE tenant_id = ?1 AND id = ?2`,
    )
    .bind(tenantId, r.id, r.name, r.description, JSON.stringify(r.query), r.view, r.updated_at)
    .run();
  return res.meta.changes > 0;
}

export async function deleteReport(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  const res = await db
    .prepare("DELETE FROM reports WHERE tenant_id = ?1 AND id = ?2")
    .bind(tenantId, id)
    .run();
  return res.meta.changes > 0;
}
