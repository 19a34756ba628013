// A report's answer drawn: the table (every row, totals underneath), a line / bar / stacked bar
// chart on the existing Chart.js setup, and a heatmap as a table of shaded cells (hour of week,
// or any two dimensions) whose numbers stay readable (a title on each cell, visually hidden
// text for screen readers).

import { useMemo } from "preact/hooks";
import type {
  ReportCell,
  ReportColumn,
  ReportResult,
  ReportValueType,
} from "../../../contracts/reports";
import { decimal, integer, LOCALE, money, moneyCompact, num, percent } from "../lib/format";
import { hourOfWeek, type ReportView, WEEKDAYS } from "../lib/reports";
import { ChartView } from "./charts";
import { DataTable } from "./data-table";

const SERIES_COLORS = [
  "#2563eb",
  "#16a34a",
  "#f59e0b",
  "#dc2626",
  "#7c3aed",
  "#0ea5e9",
  "#db2777",
  "#65a30d",
  "#ea580c",
  "#475569",
  "#14b8a6",
  "#a855f7",
];
const MAX_SERIES = 10;

export interface CellFormat {
  currency: string;
  zone: string;
  granularity: string | undefined;
}

const timeFormatters = new Map<string, Intl.DateTimeFormat>();
function timeLabel(v: ReportCell, f: CellFormat): string {
  if (typeof v !== "string") return v === null ? "—" : String(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return v;
  const key = `${f.zone}|${f.granularity ?? ""}`;
  let fmt = timeFormatters.get(key);
  if (!fmt) {
    const opts: Intl.DateTimeFormatOptions =
      f.granularity === "hour"
        ? { dateStyle: "medium", timeStyle: "short" }
        : f.granularity === "month"
          ? { month: "short", year: "numeric" }
          : { dateStyle: "medium" };
    fmt = new Intl.DateTimeFormat(LOCALE, { timeZone: f.zone, ...opts });
    timeFormatters.set(key, fmt);
  }
  return fmt.format(t);
}

/** One cell as people read it: money in the tenant currency, ratios as percentages, a time
 * bucket in the query's zone. */
export function formatCell(v: ReportCell, type: ReportValueType, f: CellFormat): string {
  if (v === null || v === undefined) return "—";
  switch (type) {
    case "money":
      return money(v, f.currency);
    case "percent":
      return percent(v);
    case "number":
      return Number.isInteger(num(v)) ? integer(v) : decimal(v, 4);
    case "time":
      return timeLabel(v, f);
    case "boolean":
      return v === true || v === "true" ? "yes" : "no";
    default:
      return String(v);
  }
}

export function ResultTable(props: { result: ReportResult; format: CellFormat }) {
  const { result, format } = props;
  const cols = result.columns;
  return (
    <DataTable<Record<string, ReportCell>>
      testid="report-table"
      caption="Report rows"
      compact
      columns={cols.map((c, i) => ({
        header: c.label,
        key: c.name,
        num: c.kind === "measure",
        rowHeader: i === 0 && c.kind === "dimension",
        cell: (row) => formatCell(row[c.name] ?? null, c.type, format),
        cellProps: () => ({ "data-field": c.name }) as Record<string, string>,
      }))}
      rows={result.rows}
      rowKey={(_, i) => i}
      foot={cols.map((c, i) => {
        if (c.kind === "measure") {
          return (
            <td key={c.name} class="num" data-total={c.name}>
              {formatCell(result.totals[c.name] ?? null, c.type, format)}
            </td>
          );
        }
        return i === 0 ? (
          <th key={c.name} scope="row">
            Total (all rows matched)
          </th>
        ) : (
          <td key={c.name} />
        );
      })}
    />
  );
}

/** The x axis, the series split and the measures a chart of this answer draws. */
function chartShape(result: ReportResult) {
  const dims = result.columns.filter((c) => c.kind === "dimension");
  const measures = result.columns.filter((c) => c.kind === "measure");
  const x = dims.find((d) => d.name === "time") ?? dims[0] ?? null;
  const split = dims.find((d) => d !== x) ?? null;
  return { x, split, measures };
}

const keyOf = (v: ReportCell) => (v === null ? "∅" : String(v));

export function ResultChart(props: {
  result: ReportResult;
  view: Exclude<ReportView, "table" | "heatmap">;
  format: CellFormat;
}) {
  const { result, view, format } = props;
  const config = useMemo(() => {
    const { x, split, measures } = chartShape(result);
    const first = measures[0];
    if (!first) return null;
    const xs: ReportCell[] = [];
    const xIndex = new Map<string, number>();
    for (const row of result.rows) {
      const k = x ? keyOf(row[x.name] ?? null) : "all";
      if (!xIndex.has(k)) {
        xIndex.set(k, xs.length);
        xs.push(x ? (row[x.name] ?? null) : "all");
      }
    }
    if (x?.type === "time") {
      const order = xs
        .map((v, i) => ({ v, i, t: typeof v === "string" ? Date.parse(v) : 0 }))
        .sort((a, b) => a.t - b.t);
      xs.splice(0, xs.length, ...order.map((o) => o.v));
      xIndex.clear();
      xs.forEach((v, i) => {
        xIndex.set(keyOf(v), i);
      });
    }
    const labels = xs.map((v) => (x ? formatCell(v, x.type, format) : "Total"));
    const series: { label: string; data: number[]; measure: ReportColumn }[] = [];
    if (split) {
      const bySeries = new Map<string, { label: string; data: number[]; total: number }>();
      for (const row of result.rows) {
        const sv = row[split.name] ?? null;
        const sk = keyOf(sv);
        let s = bySeries.get(sk);
        if (!s) {
          s = { label: formatCell(sv, split.type, format), data: xs.map(() => 0), total: 0 };
          bySeries.set(sk, s);
        }
        const v = num(row[first.name]) ?? 0;
        const xi = xIndex.get(x ? keyOf(row[x.name] ?? null) : "all") ?? 0;
        s.data[xi] = (s.data[xi] ?? 0) + v;
        s.total += Math.abs(v);
      }
      const ranked = [...bySeries.values()].sort((a, b) => b.total - a.total);
      for (const s of ranked.slice(0, MAX_SERIES)) series.push({ ...s, measure: first });
      if (ranked.length > MAX_SERIES) {
        const other = xs.map(() => 0);
        for (const s of ranked.slice(MAX_SERIES)) {
          for (const [i, v] of s.data.entries()) other[i] = (other[i] ?? 0) + v;
        }
        series.push({
          label: `${ranked.length - MAX_SERIES} others`,
          data: other,
          measure: first,
        });
      }
    } else {
      for (const m of measures) {
        const data = xs.map(() => 0);
        for (const row of result.rows) {
          const xi = xIndex.get(x ? keyOf(row[x.name] ?? null) : "all") ?? 0;
          data[xi] = (data[xi] ?? 0) + (num(row[m.name]) ?? 0);
        }
        series.push({ label: m.label, data, measure: m });
      }
    }
    const stacked = view === "stacked_bar";
    const tick = (v: number | string) =>
      first.type === "money"
        ? moneyCompact(v, format.currency)
        : first.type === "percent"
          ? percent(v, 0)
          : integer(v);
    return {
      type: view === "line" ? "line" : "bar",
      data: {
        labels,
        datasets: series.map((s, i) => {
          const color = SERIES_COLORS[i % SERIES_COLORS.length] ?? "#2563eb";
          return {
            label: s.label,
            data: s.data,
            borderColor: color,
            backgroundColor: view === "line" ? `${color}22` : color,
            borderWidth: view === "line" ? 2 : 0,
            pointRadius: view === "line" && xs.length < 40 ? 2 : 0,
            tension: 0.2,
          };
        }),
      },
      options: {
        interaction: { intersect: false, mode: "index" },
        plugins: {
          legend: { display: series.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: (ctx: { dataset: { label: string }; parsed: { y: number } }) =>
                `${ctx.dataset.label}: ${formatCell(ctx.parsed.y, first.type, format)}`,
            },
          },
        },
        scales: {
          x: { stacked, ticks: { maxRotation: 0, autoSkip: true } },
          y: { stacked, beginAtZero: true, ticks: { callback: tick } },
        },
      },
    };
  }, [result, view, format]);
  if (!config) return null;
  const { x, split, measures } = chartShape(result);
  const label = `${config.type === "line" ? "Line" : "Bar"} chart of ${
    split ? (measures[0]?.label ?? "") : measures.map((m) => m.label).join(", ")
  }${x ? ` by ${x.label}` : ""}${split ? ` and ${split.label}` : ""}; the table below holds the numbers`;
  return (
    <div data-testid="report-chart" data-chart={view}>
      <ChartView config={config} label={label} height={300} />
    </div>
  );
}

interface HeatGrid {
  rows: { key: string; label: string }[];
  cols: { key: string; label: string }[];
  values: Map<string, number>;
  measure: ReportColumn;
  rowTitle: string;
  colTitle: string;
}

function heatGrid(result: ReportResult, format: CellFormat): HeatGrid | string {
  const dims = result.columns.filter((c) => c.kind === "dimension");
  const measure = result.columns.find((c) => c.kind === "measure");
  if (!measure) return "A heatmap needs a measure.";
  const values = new Map<string, number>();
  const add = (r: string, c: string, v: number) =>
    values.set(`${r}|${c}`, (values.get(`${r}|${c}`) ?? 0) + v);
  const how = dims.find((d) => d.name === "hour_of_week");
  if (how) {
    for (const row of result.rows) {
      const at = hourOfWeek(row[how.name]);
      if (at) add(String(at.day), String(at.hour), num(row[measure.name]) ?? 0);
    }
    return {
      rows: WEEKDAYS.map((w, i) => ({ key: String(i), label: w })),
      cols: Array.from({ length: 24 }, (_, h) => ({
        key: String(h),
        label: String(h).padStart(2, "0"),
      })),
      values,
      measure,
      rowTitle: "Weekday",
      colTitle: "Hour",
    };
  }
  const [a, b] = dims;
  if (!a || !b) return "A heatmap needs the hour-of-week dimension, or two dimensions.";
  const rows = new Map<string, string>();
  const cols = new Map<string, string>();
  for (const row of result.rows) {
    const rv = row[a.name] ?? null;
    const cv = row[b.name] ?? null;
    if (!rows.has(keyOf(rv)) && rows.size < 60) rows.set(keyOf(rv), formatCell(rv, a.type, format));
    if (!cols.has(keyOf(cv)) && cols.size < 60) cols.set(keyOf(cv), formatCell(cv, b.type, format));
    add(keyOf(rv), keyOf(cv), num(row[measure.name]) ?? 0);
  }
  const sorted = (m: Map<string, string>, type: ReportValueType) => {
    const list = [...m].map(([key, label]) => ({ key, label }));
    if (type === "time") list.sort((x, y) => Date.parse(x.key) - Date.parse(y.key));
    return list;
  };
  return {
    rows: sorted(rows, a.type),
    cols: sorted(cols, b.type),
    values,
    measure,
    rowTitle: a.label,
    colTitle: b.label,
  };
}

export function Heatmap(props: { result: ReportResult; format: CellFormat }) {
  const grid = useMemo(() => heatGrid(props.result, props.format), [props.result, props.format]);
  if (typeof grid === "string") {
    return (
      <p class="notice" data-testid="heatmap-unavailable">
        {grid}
      </p>
    );
  }
  const max = Math.max(0, ...[...grid.values.values()].map(Math.abs));
  const m = grid.measure;
  return (
    <div class="heatmap-wrap" data-testid="report-heatmap">
      <table class="heatmap">
        <caption class="sr-only">
          {m.label} by {grid.rowTitle} (rows) and {grid.colTitle} (columns)
        </caption>
        <thead>
          <tr>
            <th scope="col" class="heatmap-corner">
              <span class="sr-only">{grid.rowTitle}</span>
            </th>
            {grid.cols.map((c) => (
              <th key={c.key} scope="col">
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{r.label}</th>
              {grid.cols.map((c) => {
                const v = grid.values.get(`${r.key}|${c.key}`) ?? 0;
                const shade = max > 0 ? Math.abs(v) / max : 0;
                const text = formatCell(v, m.type, props.format);
                return (
                  <td
                    key={c.key}
                    title={`${r.label}, ${grid.colTitle.toLowerCase()} ${c.label}: ${text}`}
                    data-value={v}
                    style={{
                      background: `rgba(37, 99, 235, ${(0.06 + shade * 0.94).toFixed(3)})`,
                      color: shade > 0.55 ? "#fff" : "var(--ink)",
                    }}
                  >
                    <span class="sr-only">{text}</span>
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small heatmap-legend">
        Darker is more {m.label.toLowerCase()}; the darkest cell is{" "}
        {formatCell(max, m.type, props.format)}.
      </p>
    </div>
  );
}
