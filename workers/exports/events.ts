import {
  type ArchiveRow,
  readArchiveRows,
  rowGroupRanges,
} from "../../domain/exports/archive-rows";
import { EVENT_COLUMNS, eventRow } from "../../domain/exports/datasets";
import { utcDate } from "../../domain/exports/files";
import { exactMetadata } from "../../domain/exports/parquet-decimal";
import { listArchivePartitions } from "../../store/event-archive";
import { archiveDayFiles, r2AsyncBuffer } from "../event-archive";
import type { ExportSource } from "./run";

// Raw events as an export source (docs/exports.md "Datasets"): read from the event archive, not
// from the customer actors, so a window reaches past their raw retention. The archive's day
// partitions are the event times' UTC dates, so a window [from, to) reads the parts of the dates
// it touches, skips a part whose event-time span misses the window, and keeps the rows whose
// event time is inside it. A part is read one row group at a time (the archive's own reader),
// so memory holds a row group and the file being filled, never a day.
//
// The rows come out date by date, each part in its stored order: a date's parts only gain rows
// and never lose or move one, so the same archive gives the same rows in the same order, and a
// re-run the same files.

const DAY = 86_400_000;

/** The UTC dates [from, to) touches, oldest first. */
function windowDates(from: number, to: number): string[] {
  const dates: string[] = [];
  for (let day = from - (from % DAY); day < to; day += DAY) dates.push(utcDate(day));
  return dates;
}

export async function eventsSource(
  env: Env,
  tenantId: string,
  from: number,
  to: number,
  now: number,
): Promise<ExportSource> {
  const dates = windowDates(from, to);
  // Freshness is the last compaction that changed one of the window's dates: events staged since
  // (at most one tick, ~5 minutes) are not in the archive yet.
  const partitions = await listArchivePartitions(
    env.DB,
    tenantId,
    dates[0] ?? utcDate(from),
    dates.at(-1) ?? utcDate(from),
  );
  const dataAsOf = partitions.reduce((at, p) => Math.max(at, p.compacted_at), 0);
  return {
    dataset: "events",
    columns: EVENT_COLUMNS,
    reportId: null,
    dataAsOf: dataAsOf > 0 ? dataAsOf : now,
    timeOf: (row) => Number(row.event_time),
    async *pages() {
      for (const date of dates) {
        for (const file of await archiveDayFiles(env.EXPORTS, tenantId, date)) {
          if (Date.parse(file.max_event_time) < from || Date.parse(file.min_event_time) >= to) {
            continue;
          }
          const source = await r2AsyncBuffer(env.EXPORTS, file.key);
          const metadata = await exactMetadata(source);
          for (const range of rowGroupRanges(metadata)) {
            const rows = await readArchiveRows(source, { ...range, metadata });
            yield rows
              .filter((r: ArchiveRow) => r.event_time >= from && r.event_time < to)
              .map(eventRow);
          }
        }
      }
    },
  };
}
