import { parquetMetadata } from "hyparquet";
import { describe, expect, it } from "vitest";
import { ARCHIVE_COLUMNS, type ArchiveRow } from "../../domain/exports/archive-rows";
import { EVENT_COLUMNS, type ExportColumn, eventRow, jsonRow } from "../../domain/exports/datasets";
import { exportParquet } from "../../domain/exports/files";
import { readExactRows, unscaled } from "../../domain/exports/parquet-decimal";

// Money and quantities in export files (domain/exports/parquet-decimal.ts): DECIMAL(38,9) and
// DECIMAL(38,6) written from the unscaled integers and read back exactly — past 2^53, negative,
// at the edge of 38 digits, null — by the one decoder; and as exact decimal strings in JSON.

const columns: ExportColumn[] = [
  { name: "id", type: "string", nullable: false, description: "" },
  { name: "units", type: "quantity", nullable: false, description: "" },
  { name: "revenue", type: "money", nullable: true, description: "" },
];
const MAX = (10n ** 38n - 1n).toString();

describe("export decimals", () => {
  it("round-trips unscaled integers exactly through Parquet DECIMAL(38,s)", async () => {
    const rows = [
      { id: "a", units: "1", revenue: "9007199254740993" }, // 2^53 + 1: a float would lose it
      { id: "b", units: "-123456789", revenue: "-1" },
      { id: "c", units: MAX, revenue: `-${MAX}` },
      { id: "d", units: "0", revenue: null },
    ];
    const bytes = exportParquet(columns, rows, { dataset: "t", window: "w" });
    const schema = parquetMetadata(bytes.buffer as ArrayBuffer).schema;
    expect(schema.find((e) => e.name === "units")).toMatchObject({
      type: "FIXED_LEN_BYTE_ARRAY",
      logical_type: { type: "DECIMAL", precision: 38, scale: 6 },
    });
    expect(schema.find((e) => e.name === "revenue")).toMatchObject({
      logical_type: { type: "DECIMAL", precision: 38, scale: 9 },
    });
    expect(await readExactRows(bytes.buffer as ArrayBuffer)).toEqual(rows);
  });

  it("decodes two's complement of any width", () => {
    expect(unscaled(new Uint8Array([0xff, 0xff]))).toBe(-1n);
    expect(unscaled(new Uint8Array([0x80, 0x00]))).toBe(-32768n);
    expect(unscaled(new Uint8Array([0x7f, 0xff]))).toBe(32767n);
  });

  it("an archived event as an export row: the archive's columns after its id; JSON with exact decimal strings", () => {
    expect(EVENT_COLUMNS.map((c) => c.name)).toEqual(["id", ...ARCHIVE_COLUMNS.map((c) => c.name)]);
    const archived: ArchiveRow = {
      event_id: "evt_1",
      customer_id: "acme",
      event_time: Date.UTC(2026, 10, 5, 3),
      received_at: Date.UTC(2026, 10, 5, 3, 0, 1),
      product: "chat-api",
      metric: "input_tokens",
      quantity: "2500000000",
      revenue: "308642500",
      cost: "1",
      cost_status: "priced",
      provider: "anthropic",
      model: null,
      input_tokens: 2500,
      output_tokens: null,
      cached_input_tokens: null,
      subscription_id: "sub_1",
      flags: "",
      source: "api",
      properties: '{"endpoint":"/v1/chat"}',
    };
    expect(jsonRow(EVENT_COLUMNS, eventRow(archived))).toMatchObject({
      id: "acme|evt_1",
      event_time: "2026-11-05T03:00:00.000Z",
      quantity: "2500",
      revenue: "0.3086425",
      cost: "0.000000001",
      model: null,
      input_tokens: 2500,
      properties: { endpoint: "/v1/chat" },
    });
  });
});
