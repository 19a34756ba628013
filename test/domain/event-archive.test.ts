import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import {
  anyTimeWithin,
  archiveDate,
  archiveFile,
  dedupeStaged,
  emptyManifest,
  nextManifest,
  OPEN_PART_ROWS,
  openPart,
  PART_ROWS,
  parseStaged,
  partIndex,
  partName,
  planParts,
  rowsByDate,
  sha256Hex,
  stagedBody,
  strayParts,
} from "../../domain/exports/archive-layout";
import { addReplayTotals, replayKey } from "../../domain/exports/archive-replay";
import {
  ARCHIVE_COLUMNS,
  ARCHIVE_ROW_GROUP_ROWS,
  ArchivePartWriter,
  type ArchiveRow,
  archiveKey,
  archiveParquet,
  compareArchiveRows,
  mergeRowGroups,
  readArchiveRows,
  rowGroupEventTimes,
} from "../../domain/exports/archive-rows";

// The event archive's pure parts (domain/exports/archive-*.ts): the Parquet rows read back
// exactly, the same rows always make the same bytes, de-duplication by (customer, id) does not
// depend on the order copies arrive in, and compaction's plan keeps a day to full parts and
// never moves a row out of the file it was first written to.

const T0 = Date.parse("2026-12-01T10:00:00Z");

function row(i: number, o: Partial<ArchiveRow> = {}): ArchiveRow {
  return {
    event_id: `evt_${String(i).padStart(6, "0")}`,
    customer_id: i % 2 === 0 ? "acme" : "globex",
    event_time: T0 + i * 1_000,
    received_at: T0 + i * 1_000 + 50,
    product: "chat-api",
    metric: "input_tokens",
    quantity: String(1_000_000 * (i + 1)),
    revenue: String(1_234_567_891 * (i + 1)),
    cost: String(3_333_333 * i),
    cost_status: i % 3 === 0 ? "uncosted" : "priced",
    provider: i % 3 === 0 ? null : "anthropic",
    model: i % 3 === 0 ? null : "claude-sonnet-4-5",
    input_tokens: i % 3 === 0 ? null : 1_200 + i,
    output_tokens: i % 3 === 0 ? null : 332,
    cached_input_tokens: null,
    subscription_id: "sub_1",
    flags: i % 3 === 0 ? "uncosted" : "",
    source: "api",
    properties: i % 2 === 0 ? JSON.stringify({ endpoint: "/v1/chat", n: i }) : null,
    ...o,
  };
}

const buffer = (bytes: Uint8Array) =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

describe("archive Parquet", () => {
  it("reads back every row exactly, amounts past 2^53 and negative ones included", async () => {
    const rows = [
      row(0),
      row(1, { revenue: "9223372036854775807", quantity: "123456789012345678901" }),
      row(2, { cost: "-5", revenue: "0" }),
      row(3),
    ].sort(compareArchiveRows);
    const file = buffer(archiveParquet(rows));
    expect(await readArchiveRows(file)).toEqual(rows);
    expect(await readArchiveRows(file, { rowStart: 1, rowEnd: 3 })).toEqual(rows.slice(1, 3));
  });

  it("types its columns: TIMESTAMP (UTC, millis), DECIMAL(38,9) money, DECIMAL(38,6) units", () => {
    const meta = parquetMetadata(buffer(archiveParquet([row(1)])));
    const byName = new Map(meta.schema.map((e) => [e.name, e]));
    expect(meta.schema.slice(1).map((e) => e.name)).toEqual(ARCHIVE_COLUMNS.map((c) => c.name));
    expect(byName.get("event_time")?.logical_type).toEqual({
      type: "TIMESTAMP",
      isAdjustedToUTC: true,
      unit: "MILLIS",
    });
    expect(byName.get("revenue")).toMatchObject({
      type: "FIXED_LEN_BYTE_ARRAY",
      precision: 38,
      scale: 9,
    });
    expect(byName.get("quantity")).toMatchObject({ precision: 38, scale: 6 });
    expect(byName.get("properties")?.logical_type).toEqual({ type: "JSON" });
    expect(meta.key_value_metadata).toContainEqual({
      key: "aforo.archive.schema_version",
      value: "1",
    });
  });

  it("is what a plain Parquet reader sees: decimals as their value", async () => {
    const objects = await parquetReadObjects({ file: buffer(archiveParquet([row(1)])) });
    expect(objects[0]).toMatchObject({ event_id: "evt_000001", quantity: 2, revenue: 2.469135782 });
  });

  it("writes the same bytes for the same rows, whatever order they came in", async () => {
    const rows = Array.from({ length: 500 }, (_, i) => row(i));
    const shuffled = [...rows].reverse().sort(compareArchiveRows);
    expect(await sha256Hex(archiveParquet(shuffled))).toBe(
      await sha256Hex(archiveParquet([...rows].sort(compareArchiveRows))),
    );
  });
});

describe("staging and partitions", () => {
  it("puts a late event in its own date's partition", () => {
    const late = row(5, { event_time: Date.parse("2026-11-30T23:59:59.999Z") });
    const byDate = rowsByDate([row(1), late, row(2)]);
    expect([...byDate.keys()]).toEqual(["2026-12-01", "2026-11-30"]);
    expect(byDate.get("2026-11-30")).toEqual([late]);
    expect(archiveDate(Date.parse("2026-12-01T00:00:00Z"))).toBe("2026-12-01");
  });

  it("round-trips a staged object", () => {
    const rows = [row(1), row(2)];
    expect(parseStaged(stagedBody(rows))).toEqual(rows);
  });

  it("keeps one copy per (customer, id), the same one whatever the order", () => {
    const a = row(1);
    const resent = { ...a };
    const reused = { ...a, received_at: a.received_at + 40 * 86_400_000, revenue: "1" };
    const other = row(1, { customer_id: "initech" });
    const one = dedupeStaged([a, resent, reused, other]);
    const two = dedupeStaged([reused, other, resent, a]);
    expect(one.size).toBe(2);
    expect([...one.values()].sort(compareArchiveRows)).toEqual(
      [...two.values()].sort(compareArchiveRows),
    );
    expect(one.get(archiveKey(a))).toEqual(a);
  });
});

describe("compaction plan", () => {
  const fake = (name: string, rows: number) => ({
    name,
    rows,
    bytes: 1,
    sha256: "",
    min_event_time: "",
    max_event_time: "",
  });

  it("starts a partition with one part, then rewrites only the open part", async () => {
    const empty = emptyManifest("t", "2026-12-01");
    const first = planParts(empty, 0, [row(3), row(1)]);
    expect(first.map((w) => [w.name, w.rewrite, w.fresh.map((r) => r.event_id)])).toEqual([
      [partName(0), false, ["evt_000001", "evt_000003"]],
    ]);
    const bytes = archiveParquet(first[0]?.fresh ?? []);
    const file = await archiveFile(
      partName(0),
      { rows: 2, minEventTime: T0 + 1_000, maxEventTime: T0 + 3_000 },
      bytes,
    );
    const manifest = nextManifest(empty, [file], 2, T0);
    expect(manifest).toMatchObject({
      rows: 2,
      files: [{ name: "part-00000.parquet", rows: 2 }],
      min_event_time: new Date(T0 + 1_000).toISOString(),
      max_event_time: new Date(T0 + 3_000).toISOString(),
      last_compaction: { changed: ["part-00000.parquet"], added_rows: 2 },
    });
    expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(openPart(manifest)?.name).toBe("part-00000.parquet");
    // A late row joins the open part; nothing fresh, nothing written.
    expect(planParts(manifest, 2, [row(0)])).toEqual([
      { name: partName(0), rewrite: true, fresh: [row(0)] },
    ]);
    expect(planParts(manifest, 2, [])).toEqual([]);
  });

  it("fills the open part, then starts full parts", () => {
    const manifest = {
      ...emptyManifest("t", "2026-12-01"),
      files: [fake(partName(0), PART_ROWS), fake(partName(1), 2)],
    };
    expect(openPart(manifest)?.name).toBe(partName(1));
    const fresh = Array.from({ length: 2 * PART_ROWS + 5 }, (_, i) => row(i)).reverse();
    const writes = planParts(manifest, 2, fresh);
    expect(writes.map((w) => [w.name, w.rewrite, w.fresh.length])).toEqual([
      [partName(1), true, PART_ROWS - 2],
      [partName(2), false, PART_ROWS],
      [partName(3), false, 7],
    ]);
    const sorted = [...fresh].sort(compareArchiveRows);
    expect(writes.flatMap((w) => w.fresh)).toEqual(sorted);
    // The open part as stored may hold more than its manifest entry (a run that stopped
    // before its manifest): the room is counted from what is stored.
    expect(planParts(manifest, PART_ROWS, [row(1)]).map((w) => [w.name, w.rewrite])).toEqual([
      [partName(2), false],
    ]);
  });

  it("closes a part once it holds OPEN_PART_ROWS: later rows start parts, numbered on from the last", () => {
    const small = {
      ...emptyManifest("t", "2026-12-01"),
      files: [fake(partName(0), PART_ROWS), fake(partName(1), OPEN_PART_ROWS - 1)],
    };
    expect(openPart(small)?.name).toBe(partName(1));
    const closed = {
      ...small,
      files: [fake(partName(0), PART_ROWS), fake(partName(1), OPEN_PART_ROWS)],
    };
    expect(openPart(closed)).toBeNull();
    // A run's rows after a closed part: new parts only, the closed part is not read for rows.
    const writes = planParts(closed, OPEN_PART_ROWS, [row(2), row(1)]);
    expect(writes.map((w) => [w.name, w.rewrite, w.fresh.map((r) => r.event_id)])).toEqual([
      [partName(2), false, ["evt_000001", "evt_000002"]],
    ]);
    // Numbered on from the last part's name, not the count of files (a gap is harmless).
    const gap = { ...closed, files: [fake(partName(0), PART_ROWS), fake(partName(7), PART_ROWS)] };
    expect(planParts(gap, PART_ROWS, [row(1)]).map((w) => w.name)).toEqual([partName(8)]);
  });

  it("finds the parts a stopped run left past the manifest's last", () => {
    const manifest = {
      ...emptyManifest("t", "2026-12-01"),
      files: [fake(partName(0), PART_ROWS), fake(partName(1), PART_ROWS)],
    };
    expect(partIndex("part-00012.parquet")).toBe(12);
    expect(partIndex("_manifest.json")).toBeNull();
    expect(strayParts(manifest, [partName(3), "_manifest.json", partName(2), partName(1)])).toEqual(
      [partName(2), partName(3)],
    );
    expect(strayParts(emptyManifest("t", "2026-12-01"), [partName(0)])).toEqual([partName(0)]);
    expect(strayParts(manifest, [])).toEqual([]);
  });

  it("tells which spans can hold a copy of a run's rows, from the manifest and row-group statistics", () => {
    const times = [10, 20, 30];
    expect(anyTimeWithin(times, 0, 9)).toBe(false);
    expect(anyTimeWithin(times, 0, 10)).toBe(true);
    expect(anyTimeWithin(times, 21, 29)).toBe(false);
    expect(anyTimeWithin(times, 30, 40)).toBe(true);
    expect(anyTimeWithin(times, 31, 40)).toBe(false);
    expect(anyTimeWithin([], 0, 100)).toBe(false);
    const rows = Array.from({ length: ARCHIVE_ROW_GROUP_ROWS + 5 }, (_, i) => row(i));
    const metadata = parquetMetadata(buffer(archiveParquet(rows)));
    expect(rowGroupEventTimes(metadata)).toEqual([
      { min: T0, max: T0 + (ARCHIVE_ROW_GROUP_ROWS - 1) * 1_000 },
      { min: T0 + ARCHIVE_ROW_GROUP_ROWS * 1_000, max: T0 + (ARCHIVE_ROW_GROUP_ROWS + 4) * 1_000 },
    ]);
  });

  it("merges a stored part a row group at a time into the bytes of one whole write", async () => {
    const stored = Array.from({ length: 25_000 }, (_, i) => row(2 * i));
    const fresh = Array.from({ length: 7_000 }, (_, i) => row(2 * i + 1));
    async function* groups() {
      for (let i = 0; i < stored.length; i += ARCHIVE_ROW_GROUP_ROWS) {
        yield stored.slice(i, i + ARCHIVE_ROW_GROUP_ROWS);
      }
    }
    const writer = new ArchivePartWriter();
    const sizes: number[] = [];
    for await (const group of mergeRowGroups(groups(), fresh)) {
      sizes.push(group.length);
      writer.write(group);
    }
    expect(sizes).toEqual([10_000, 10_000, 10_000, 2_000]);
    expect([writer.rows, writer.minEventTime, writer.maxEventTime]).toEqual([
      32_000,
      T0,
      T0 + 2 * 24_999 * 1_000,
    ]);
    const all = [...stored, ...fresh].sort(compareArchiveRows);
    expect(await sha256Hex(writer.finish())).toBe(await sha256Hex(archiveParquet(all)));
  });
});

describe("replay", () => {
  it("sums rows per (customer, hour, product, metric), exactly", () => {
    const rows = [
      row(0, { revenue: "9000000000000000000" }),
      row(2, { revenue: "9000000000000000000" }),
      row(1),
      row(2, { event_time: T0 + 3_600_000 }),
    ];
    const totals = addReplayTotals(new Map(), rows);
    expect(totals.get(replayKey("acme", T0, "chat-api", "input_tokens"))).toEqual({
      units: 4_000_000n,
      revenue: 18_000_000_000_000_000_000n,
      cost: 6_666_666n,
      events: 2,
      // row(0) is uncosted (its cost_status), row(2) priced.
      uncosted_events: 1,
      uncosted_revenue: 9_000_000_000_000_000_000n,
    });
    expect(totals.size).toBe(3);
  });
});
