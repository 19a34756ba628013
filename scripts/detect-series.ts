// npm run detect:series -- FILE.csv [--out OUT.csv] [--agg sum|mean] [--scale auto|N]
// Runs BillableUnitAnomalyDetector (shipped defaults) over any `timestamp,value` series and
// writes `timestamp,value,anomaly_score` (the Numenta Anomaly Benchmark results format) to OUT
// or stdout. How rows are bucketed and scored: domain/detectors/series.ts and docs/detectors.md.

import { readFileSync, writeFileSync } from "node:fs";
import { formatResults, parseSeriesCsv, scoreSeries } from "../domain/detectors/series";

function usage(message?: string): never {
  if (message) console.error(`detect:series: ${message}`);
  console.error(
    "usage: npm run detect:series -- FILE.csv [--out OUT.csv] [--agg sum|mean] [--scale auto|N]",
  );
  process.exit(2);
}

function main() {
  const args = process.argv.slice(2);
  let file: string | undefined;
  let out: string | undefined;
  let agg: "sum" | "mean" = "sum";
  let scale: number | "auto" = "auto";
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const next = () => {
      const v = args[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === "--out" || a === "-o") out = next();
    else if (a === "--agg") {
      const v = next();
      if (v !== "sum" && v !== "mean") usage("--agg is sum or mean");
      agg = v;
    } else if (a === "--scale") {
      const v = next();
      if (v === "auto") scale = "auto";
      else {
        const n = Number(v);
        if (!(n > 0) || !Number.isFinite(n)) usage("--scale is auto or a positive number");
        scale = n;
      }
    } else if (a === "--help" || a === "-h") usage();
    else if (a.startsWith("-")) usage(`unknown option ${a}`);
    else if (file === undefined) file = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!file) usage("no input file");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    usage(`cannot read ${file}: ${(e as Error).message}`);
  }
  let rows: ReturnType<typeof parseSeriesCsv>;
  try {
    rows = parseSeriesCsv(text);
  } catch (e) {
    usage(`${file}: ${(e as Error).message}`);
  }
  if (rows.length === 0) usage(`${file}: no rows`);
  const result = scoreSeries(rows, { agg, scale });
  const csv = formatResults(rows, result.scores);
  if (out) {
    writeFileSync(out, csv);
    console.error(
      `detect:series: ${rows.length} rows, ${result.hours} hours (${agg}, scale ${+result.scale.toPrecision(4)}), ` +
        `${result.signals} signals -> ${out}`,
    );
  } else process.stdout.write(csv);
}

main();
