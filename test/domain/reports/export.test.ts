import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import type { ReportColumn, ReportResult } from "../../../contracts/reports";
import { reportCsv, reportFileName, reportParquet } from "../../../domain/reports/export";

// domain/reports/export.ts: the same answer as CSV (RFC 4180) and Parquet (read back here with
// hyparquet, as a warehouse would).

const columns: ReportColumn[] = [
  { name: "time", label: "Time", kind: "dimension", type: "time" },
  { name: "hour_of_week", label: "Hour of week", kind: "dimension", type: "number" },
  { name: "customer", label: "Customer", kind: "dimension", type: "string" },
  { name: "revenue", label: "Revenue", kind: "measure", type: "money" },
  { name: "units", label: "Units", kind: "measure", type: "number" },
  { name: "margin_pct", label: "Margin %", kind: "measure", type: "percent" },
];
const rows: ReportResult["rows"] = [
  {
    time: "2026-03-08T00:00:00-05:00",
    hour_of_week: 144,
    customer: "Acme, Inc.",
    revenue: "123456789.123456789",
    units: 2000.5,
    margin_pct: 0.25,
  },
  {
    time: "2026-03-09T00:00:00-04:00",
    hour_of_week: 0,
    customer: 'The "Best"\nCo',
    revenue: "-1.50",
    units: 0,
    margin_pct: null,
  },
  {
    time: null,
    hour_of_week: null,
    customer: null,
    revenue: "0.00",
    units: 3,
    margin_pct: -0.5,
  },
];

/** A strict RFC 4180 reader (quoted fields, doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let i = 0;
  while (i < text.length) {
    let field = "";
    if (text[i] === '"') {
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new Error("unterminated quote");
        field += text.slice(i, q);
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
    } else {
      const end = text.slice(i).search(/,|\r\n/);
      field = end < 0 ? text.slice(i) : text.slice(i, i + end);
      i += field.length;
    }
    fields.push(field);
    if (text.startsWith(",", i)) i++;
    else if (text.startsWith("\r\n", i)) {
      records.push(fields);
      fields = [];
      i += 2;
    } else if (i < text.length) throw new Error(`bad CSV at ${i}`);
  }
  return records;
}

describe("CSV (RFC 4180)", () => {
  it("a header row of column names, CRLF line ends, fields with comma, quote or line break quoted, quotes doubled, null empty", () => {
    expect(reportCsv({ columns, rows })).toBe(
      [
        "time,hour_of_week,customer,revenue,units,margin_pct",
        '2026-03-08T00:00:00-05:00,144,"Acme, Inc.",123456789.123456789,2000.5,0.25',
        '2026-03-09T00:00:00-04:00,0,"The ""Best""\nCo",-1.50,0,',
        ",,,0.00,3,-0.5",
        "",
      ].join("\r\n"),
    );
  });

  it("quotes a lone CR, and a cell that is only a quote", () => {
    const csv = reportCsv({
      columns: [{ name: "c", label: "C", kind: "dimension", type: "string" }],
      rows: [{ c: "a\rb" }, { c: '"' }, { c: "plain text" }],
    });
    expect(csv).toBe('c\r\n"a\rb"\r\n""""\r\nplain text\r\n');
  });

  it("an empty answer is just the header", () => {
    expect(reportCsv({ columns, rows: [] })).toBe(
      "time,hour_of_week,customer,revenue,units,margin_pct\r\n",
    );
  });
});

describe("Parquet", () => {
  it("reads back with hyparquet to the same rows: time as the bucket's instant, money as its exact decimal", async () => {
    const file = reportParquet({ columns, rows });
    const back = await parquetReadObjects({ file });
    expect(back).toEqual([
      {
        time: new Date("2026-03-08T05:00:00Z"),
        hour_of_week: 144,
        customer: "Acme, Inc.",
        revenue: "123456789.123456789",
        units: 2000.5,
        margin_pct: 0.25,
      },
      {
        time: new Date("2026-03-09T04:00:00Z"),
        hour_of_week: 0,
        customer: 'The "Best"\nCo',
        revenue: "-1.50",
        units: 0,
        margin_pct: null,
      },
      {
        time: null,
        hour_of_week: null,
        customer: null,
        revenue: "0.00",
        units: 3,
        margin_pct: -0.5,
      },
    ]);
  });

  it("types its columns: TIMESTAMP millis, INT32, UTF-8 strings (money too), DOUBLE; the columns in metadata", () => {
    const meta = parquetMetadata(reportParquet({ columns, rows }));
    const types = Object.fromEntries(
      meta.schema.slice(1).map((s) => [s.name, [s.type, s.converted_type ?? null]]),
    );
    expect(types).toEqual({
      time: ["INT64", "TIMESTAMP_MILLIS"],
      hour_of_week: ["INT32", null],
      customer: ["BYTE_ARRAY", "UTF8"],
      revenue: ["BYTE_ARRAY", "UTF8"],
      units: ["DOUBLE", null],
      margin_pct: ["DOUBLE", null],
    });
    expect(Number(meta.num_rows)).toBe(3);
    const kv = meta.key_value_metadata?.find((k) => k.key === "aforo.report.columns");
    expect(JSON.parse(kv?.value ?? "null")).toEqual(columns);
  });

  it("holds the same rows as the CSV of the same answer", async () => {
    const back = await parquetReadObjects({ file: reportParquet({ columns, rows }) });
    const [header, ...csvRows] = parseCsv(reportCsv({ columns, rows }));
    expect(header).toEqual(columns.map((c) => c.name));
    expect(csvRows).toHaveLength(back.length);
    csvRows.forEach((cells, i) => {
      const p = back[i] as Record<string, unknown>;
      columns.forEach((c, j) => {
        const text = cells[j] as string;
        const v = p[c.name];
        if (v === null) expect(text, `${i} ${c.name}`).toBe("");
        else if (v instanceof Date) expect(Date.parse(text)).toBe(v.getTime());
        else expect(text, `${i} ${c.name}`).toBe(String(v));
      });
    });
  });

  it("an empty answer is a valid file with its columns and no rows", async () => {
    const file = reportParquet({ columns, rows: [] });
    expect(await parquetReadObjects({ file })).toEqual([]);
    expect(
      parquetMetadata(file)
        .schema.slice(1)
        .map((s) => s.name),
    ).toEqual(columns.map((c) => c.name));
  });
});

it("file names carry the dataset and the UTC date", () => {
  expect(reportFileName("usage", Date.parse("2026-03-08T23:30:00-05:00"), "csv")).toBe(
    "report-usage-2026-03-09.csv",
  );
  expect(reportFileName("invoices", Date.parse("2026-03-08T12:00:00Z"), "parquet")).toBe(
    "report-invoices-2026-03-08.parquet",
  );
});
