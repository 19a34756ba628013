import { LATENCY_BUCKETS, type PipelineCell } from "../domain/pipeline-telemetry";

// Pipeline telemetry in D1 (schema/0023_pipeline_telemetry.sql): a flush's cells as one
// additive upsert. The cells travel as one bound JSON array (a flush can hold hundreds, far past
// D1's 100 bound parameters per statement) and each lands on its (tenant, hour, series,
// outcome) row by adding to it, so flushes from any number of isolates, in any order, sum.

const BUCKET_COLUMNS = Array.from({ length: LATENCY_BUCKETS }, (_, i) => `b${i}`);
const FIXED = ["tenant_id", "hour", "series", "outcome", "count", "errors", "items"];
const COLUMNS = [...FIXED, "latency_sum_us", "latency_max_us", ...BUCKET_COLUMNS];
const ADDED = ["count", "errors", "items", "latency_sum_us", ...BUCKET_COLUMNS];

const UPSERT = `INSERT INTO pipeline_hourly (${COLUMNS.join(", ")})
  SELECT ${COLUMNS.map((_, i) => `j.value ->> ${i}`).join(", ")} FROM json_each(?) AS j WHERE true
  ON CONFLICT (tenant_id, hour, series, outcome) DO UPDATE SET
    ${ADDED.map((c) => `${c} = ${c} + excluded.${c}`).join(",\n    ")},
    latency_max_us = CASE WHEN latency_max_us IS NULL THEN excluded.latency_max_us
      WHEN excluded.latency_max_us IS NULL THEN latency_max_us
      ELSE MAX(latency_max_us, excluded.latency_max_us) END`;

/** Adds the cells to their rows, in one statement (one transaction). */
export async function addPipelineCells(
  db: D1Database,
  cells: readonly PipelineCell[],
): Promise<void> {
  if (cells.length === 0) return;
  const tuples = cells.map((c) => [
    c.tenant_id,
    c.hour,
    c.series,
    c.outcome,
    c.count,
    c.errors,
    c.items,
    c.latency_sum_us,
    c.latency_max_us,
    ...c.buckets,
  ]);
  await db.prepare(UPSERT).bind(JSON.stringify(tuples)).run();
}
