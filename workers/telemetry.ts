import {
  PIPELINE_FLUSH_EVERY_MS,
  PipelineAggregate,
  type PipelineCell,
  type PipelineObservation,
} from "../domain/pipeline-telemetry";
import { addPipelineCells } from "../store/pipeline-telemetry";

// The per-isolate recorder of pipeline telemetry (docs/reports.md "pipeline"). The hot paths
// (ingest, the gate: p99 < 5 ms) only add to an in-memory aggregate — a map lookup and a few
// additions, no I/O. The aggregate goes to D1 as one additive upsert (store/pipeline-telemetry.ts)
// once its oldest observation is FLUSH_EVERY_MS old or it holds FLUSH_AT_CELLS cells, handed to
// the request's waitUntil, so no request ever awaits the write; the request that opens a window
// also hands waitUntil a timer for the window's end, so counts arrive within ~10 s when traffic
// stops. Background jobs (queue batches, the tenant clock's tick, an operator's invoicing run)
// await a flush at their end: they have no latency budget, and nothing outlives them to flush.
//
// What can be lost: an isolate evicted (or crashed) before its next flush takes its last
// seconds of counts with it; while D1 refuses writes, a failed flush's cells are kept for the
// next one up to MAX_KEPT_CELLS, and dropped past that. That is acceptable for telemetry, a rate
// and a latency distribution, not a ledger — never for billing, whose events are durable in the
// customer actor before POST /v1/events answers.
//
// Durations come from the Workers clock, which advances only on I/O (a Spectre mitigation): a
// measured latency is the time from the handler's start to its last I/O completing (the actor
// RPC, the D1 write), and CPU time after the last I/O reads as 0. So the gate's numbers are its
// round trip to the customer actor at the clock's resolution, not the CPU the edge spent.

const FLUSH_EVERY_MS = PIPELINE_FLUSH_EVERY_MS;
const FLUSH_AT_CELLS = 256;
/** Cells a failed flush may put back; past this, the recorder drops them rather than grow. */
const MAX_KEPT_CELLS = 5_000;

const pending = new PipelineAggregate();
let pendingSince: number | null = null;
/** When the waiting flush was handed to a keepAlive (null: none waits). */
let timerSetAt: number | null = null;

/** A monotonic clock for durations (ms). */
export const clockMs = (): number => performance.now();

/**
 * Records one observation. When the isolate's aggregate is due, its flush is handed to
 * `keepAlive` (the request's or batch's waitUntil); without one (a job that flushes at its end)
 * it waits for the next flush.
 */
export function observe(
  db: D1Database,
  keepAlive: ((p: Promise<unknown>) => void) | null,
  o: Omit<PipelineObservation, "at"> & { at?: number },
): void {
  const at = o.at ?? Date.now();
  pending.add({ ...o, at });
  pendingSince ??= at;
  if (!keepAlive) return;
  if (pending.size >= FLUSH_AT_CELLS || at - pendingSince >= FLUSH_EVERY_MS) {
    keepAlive(flushPipelineTelemetry(db));
  } else if (timerSetAt === null || at - timerSetAt > 2 * FLUSH_EVERY_MS) {
    // The request that opens a window keeps a timer for its end, so the window's counts reach
    // D1 when traffic stops too. A timer whose invocation was cut short is replaced after two
    // windows.
    timerSetAt = at;
    keepAlive(
      scheduler.wait(FLUSH_EVERY_MS - (at - pendingSince)).then(() => {
        timerSetAt = null;
        return flushPipelineTelemetry(db);
      }),
    );
  }
}

/** Writes what the isolate has gathered now. Never throws: a failed write puts its cells back
 * for the next flush (one statement is one transaction: nothing of it was written). */
export async function flushPipelineTelemetry(db: D1Database): Promise<void> {
  if (pending.size === 0) return;
  const cells = pending.drain();
  pendingSince = null;
  try {
    await addPipelineCells(db, cells);
  } catch (err) {
    console.error(`pipeline telemetry flush of ${cells.length} cells failed`, err);
    putBack(cells);
  }
}

function putBack(cells: PipelineCell[]) {
  if (pending.size + cells.length > MAX_KEPT_CELLS) {
    console.error(`pipeline telemetry: dropped ${cells.length} cells (D1 unavailable)`);
    return;
  }
  pending.merge(cells);
  pendingSince ??= Date.now();
}
