import { createRoute, z } from "@hono/zod-openapi";
import {
  compareReplayDate,
  type DateComparison,
  dateHours,
  dateMatches,
  MAX_REPLAY_DAYS,
  REPLAY_SAMPLE_LIMIT,
  replayDates,
  splitReplayKey,
  totalsJson,
} from "../../domain/exports/archive-replay";
import { DAY_MS } from "../../domain/time";
import { actorName } from "../../durable-objects/customer-actor";
import { listArchivePartitions } from "../../store/event-archive";
import {
  daysWithRollups,
  hourlyRollupsOfDay,
  REBUILD_GUARD_FAILED,
  rebuildDayStatements,
} from "../../store/rollup-rebuild";
import { createRouter } from "../app";
import { hasStagedRows, replayArchiveRollups } from "../event-archive";
import { permit } from "../permit";
import { ApiError, problemResponses, validationError } from "../problem";
import { jsonBody, jsonResponse } from "../schemas";

// The replay path of issue 16 §1 as an operation: a tenant's D1 rollups compared with the event
// archive's totals for a range of UTC dates, and, asked to, rebuilt from them
// (docs/exports.md "Replay: rollups from the archive"). The comparison is
// domain/exports/archive-replay.ts, the write store/rollup-rebuild.ts.
export const archiveReplay = createRouter();
const security = [{ operatorToken: [] }];

/** Tables the rebuild leaves as they are, and why (the answer names them every time). */
const NOT_REBUILT = [
  {
    table: "rollups_model_tenant_hourly, rollups_model_tenant_daily",
    reason:
      "kept from the consumer's provider/model facets; they are not derived from rollups_hourly",
  },
  {
    table: "session_rollups_hourly, session_totals, session_rollups_tenant_hourly",
    reason:
      "kept from the consumer's session deltas, not derived from rollups_hourly; the archive has the session only inside `properties`, and this rebuild does not re-derive them",
  },
  {
    table: "customer_api_key_usage_daily",
    reason: "the archive carries no API key id column",
  },
];

const ReplayDate = z.iso.date().openapi({ description: "A UTC date, YYYY-MM-DD" });

const Totals = z
  .object({
    events: z.number().int(),
    units: z.string().openapi({ description: "Exact decimal (micro-units)" }),
    revenue: z.string().openapi({ description: "Exact decimal (nanos)" }),
    cost: z.string().openapi({ description: "Exact decimal (nanos)" }),
    uncosted_events: z.number().int(),
    uncosted_revenue: z.string(),
  })
  .openapi("ReplayTotals");

const RowCounts = z
  .object({
    matching: z.number().int(),
    differing: z.number().int(),
    missing_in_d1: z.number().int(),
    only_in_d1: z.number().int(),
  })
  .openapi("ReplayRowCounts", {
    description: "(customer, hour, product, metric) rows by how D1 compares with the archive",
  });

const Sample = z
  .object({
    customer: z.string(),
    hour: z.string().openapi({ description: "The hour's start, ISO-8601 UTC" }),
    product: z.string(),
    metric: z.string(),
    kind: z.enum(["differs", "missing_in_d1", "only_in_d1"]),
    archive: Totals.nullable(),
    d1: Totals.nullable(),
  })
  .openapi("ReplaySample");

const DateReplay = z
  .object({
    date: z.string(),
    archive_partition: z
      .boolean()
      .openapi({ description: "Whether the archive has a compacted partition for the date" }),
    staged: z.boolean().openapi({
      description:
        "Whether events of the date are staged but not yet compacted (the archive lags D1 by them)",
    }),
    archive: Totals,
    d1: Totals,
    rows: RowCounts,
    matches: z.boolean(),
    samples: z.array(Sample).openapi({
      description: `Up to ${REPLAY_SAMPLE_LIMIT} of the date's differences, in key order`,
    }),
    rebuilt: z
      .object({
        rows_set: z.number().int(),
        rows_deleted: z.number().int(),
        d1: Totals,
        rows: RowCounts,
        matches: z.boolean(),
      })
      .nullable()
      .openapi({
        description:
          "With apply: what was written and the comparison read back after the write (null when the date already matched, or on a dry run)",
      }),
  })
  .openapi("ArchiveReplayDate");

const ReplayAnswer = z
  .object({
    from: z.string(),
    to: z.string(),
    applied: z.boolean(),
    dates: z.array(DateReplay),
    not_rebuilt: z.array(z.object({ table: z.string(), reason: z.string() })),
    warnings: z.array(z.string()),
  })
  .openapi("ArchiveReplay");

const sampleJson = (c: DateComparison) =>
  c.samples.map((s) => ({
    customer: s.customer,
    hour: new Date(s.hour).toISOString(),
    product: s.product,
    metric: s.metric,
    kind: s.kind,
    archive: s.archive ? totalsJson(s.archive) : null,
    d1: s.d1 ? totalsJson(s.d1) : null,
  }));

/** Actors asked at once whether their usage of a date has reached D1. */
const CONCURRENT_ACTORS = 20;

/** Of these customers, those whose actors hold usage of the date's hours that D1 has not
 * applied yet. Setting their rows from the archive could count those events twice: once from
 * the archive now, once more when their batch applies. */
async function customersAwaitingD1(
  env: Env,
  tenantId: string,
  customers: readonly string[],
  day: number,
): Promise<string[]> {
  const unique = [...new Set(customers)].sort();
  const waiting: string[] = [];
  for (let i = 0; i < unique.length; i += CONCURRENT_ACTORS) {
    const chunk = unique.slice(i, i + CONCURRENT_ACTORS);
    const answers = await Promise.all(
      chunk.map((id) =>
        env.CUSTOMER_ACTOR.getByName(actorName(tenantId, id)).usageAwaitsD1(day, day + DAY_MS),
      ),
    );
    for (const [j, id] of chunk.entries()) if (answers[j]) waiting.push(id);
  }
  return waiting;
}

archiveReplay.openapi(
  createRoute(
    permit("pipeline:operate", "rollups.rebuild", {
      method: "post",
      path: "/archive/replay",
      tags: ["exports"],
      summary: "Compare the tenant's D1 rollups with the event archive, and rebuild them from it",
      description: `For the UTC dates from \`from\` to \`to\` (both inclusive, at most ${MAX_REPLAY_DAYS}): the archive's totals per (customer, hour, product, metric) against rollups_hourly, per date: both sides' sums (exact decimals) and the rows that match, differ, are missing in D1 or are in D1 only, with up to ${REPLAY_SAMPLE_LIMIT} samples. A dry run by default. With \`apply: true\`, each date that differs is rebuilt in one D1 transaction: rollups_hourly takes the archive's rows (all six columns, the uncosted ones from \`cost_status\`) and loses those the archive lacks, and rollups_daily, rollups_weekly, rollups_tenant_hourly and rollups_tenant_daily are derived again for the date; the answer carries the comparison read back afterwards. Apply is refused (409) for today or a later date, for a date with events staged but not compacted, for a date some customer's usage of has yet to reach D1 from its actor, and when live events reach a date's rollups during its rebuild (that date is left unchanged); (422) for a date D1 has usage for but the archive has no partition for. \`from\` after \`to\` or a longer range is a 400 naming the field.`,
      security,
      request: {
        body: jsonBody(
          z.object({
            from: ReplayDate.openapi({ description: "The first UTC date, inclusive" }),
            to: ReplayDate.openapi({ description: "The last UTC date, inclusive" }),
            apply: z.boolean().default(false).openapi({
              description: "Write the archive's totals into D1 (default: compare only)",
            }),
          }),
        ),
      },
      responses: {
        200: jsonResponse(ReplayAnswer, "The comparison (and, with apply, the rebuild)"),
        ...problemResponses,
      },
    }),
  ),
  async (c) => {
    const { from, to, apply } = c.req.valid("json");
    const range = replayDates(from, to);
    if ("error" in range) throw validationError([range.error]);
    const { dates } = range;
    const db = c.env.DB;
    const bucket = c.env.EXPORTS;
    const tenantId = c.var.tenantId;
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    const first = dateHours(from).start;
    const last = dateHours(to).end;
    const partitions = new Set(
      (await listArchivePartitions(db, tenantId, from, to)).map((p) => p.date),
    );
    const staged = new Set<string>();
    for (const date of dates) if (await hasStagedRows(bucket, tenantId, date)) staged.add(date);
    const warnings: string[] = [];

    if (apply) {
      // What refuses the request as a whole, before the first write. The checks that need a
      // date's comparison (an actor's unapplied usage, the write's guard) come at that date.
      const unsettled = dates.filter((d) => dateHours(d).start >= today);
      if (unsettled.length > 0) {
        throw new ApiError(
          "conflict",
          `Rollups of ${unsettled.join(", ")} still take live events; rebuild dates before today (UTC) only`,
        );
      }
      const lagging = dates.filter((d) => staged.has(d));
      if (lagging.length > 0) {
        throw new ApiError(
          "conflict",
          `The archive has events of ${lagging.join(", ")} staged but not yet compacted, which D1 already counts; retry after the next compaction tick (at most 5 minutes)`,
        );
      }
      const withUsage = await daysWithRollups(db, tenantId, first, last);
      const uncovered = dates.filter(
        (d) => !partitions.has(d) && withUsage.has(dateHours(d).start),
      );
      if (uncovered.length > 0) {
        throw new ApiError(
          "unprocessable",
          `The archive has no partition for ${uncovered.join(", ")}, where D1 has usage: a rebuild would delete it`,
        );
      }
    } else {
      for (const date of dates) {
        if (staged.has(date)) {
          warnings.push(
            `${date}: events are staged but not yet compacted; the archive's totals lag D1 by them until the next compaction tick`,
          );
        } else if (dateHours(date).start >= today) {
          warnings.push(`${date}: the date is not over; its rollups still take live events`);
        }
      }
    }

    const answers: z.infer<typeof DateReplay>[] = [];
    const rebuiltDates: string[] = [];
    for (const date of dates) {
      const { start } = dateHours(date);
      const archive = await replayArchiveRollups(bucket, tenantId, [date]);
      const stored = await hourlyRollupsOfDay(db, tenantId, start);
      const before = compareReplayDate(date, archive, stored.rows);
      let rebuilt: z.infer<typeof DateReplay>["rebuilt"] = null;
      if (apply && !dateMatches(before)) {
        const waiting = await customersAwaitingD1(
          c.env,
          tenantId,
          before.writes.set.map(([key]) => splitReplayKey(key).customer),
          start,
        );
        if (waiting.length > 0) {
          throw new ApiError(
            "conflict",
            `Usage of ${date} for ${waiting.join(", ")} has yet to reach D1 (the events queue lags), and the archive may hold it already; nothing of ${date} was written${
              rebuiltDates.length ? ` (rebuilt before it: ${rebuiltDates.join(", ")})` : ""
            }; retry once the queue has caught up`,
          );
        }
        try {
          await db.batch(
            rebuildDayStatements(db, tenantId, start, stored.fingerprint, before.writes),
          );
        } catch (error) {
          if (!REBUILD_GUARD_FAILED.test(String(error))) throw error;
          throw new ApiError(
            "conflict",
            `Live events reached the rollups of ${date} during its rebuild, which was rolled back${
              rebuiltDates.length ? ` (rebuilt before it: ${rebuiltDates.join(", ")})` : ""
            }; retry once the date is quiet`,
          );
        }
        rebuiltDates.push(date);
        const after = compareReplayDate(
          date,
          archive,
          (await hourlyRollupsOfDay(db, tenantId, start)).rows,
        );
        rebuilt = {
          rows_set: before.writes.set.length,
          rows_deleted: before.writes.delete.length,
          d1: totalsJson(after.d1),
          rows: after.rows,
          matches: dateMatches(after),
        };
        // Rows staged since the request began: their events may be in D1 already and were not
        // in what was read.
        if (await hasStagedRows(bucket, tenantId, date)) {
          warnings.push(
            `${date}: events were staged during the rebuild; run it again after the next compaction tick`,
          );
        }
      }
      answers.push({
        date,
        archive_partition: partitions.has(date),
        staged: staged.has(date),
        archive: totalsJson(before.archive),
        d1: totalsJson(before.d1),
        rows: before.rows,
        matches: dateMatches(before),
        samples: sampleJson(before),
        rebuilt,
      });
    }
    return c.json(
      { from, to, applied: apply, dates: answers, not_rebuilt: NOT_REBUILT, warnings },
      200,
    );
  },
);
