// Imports a CSV of historical usage into Aforo with the batching sender: `npm start -- file.csv`
// (default usage.csv). Columns: time, customer, product, metric, quantity, and optionally id,
// provider, model, input_tokens, output_tokens, cost_usd. Each row's event id is the CSV's `id`
// or `<file name>:<line>`, so importing the same file again, or resuming after a crash, stores
// nothing twice: rows already stored come back as duplicates.
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createInterface } from "node:readline";
import { createSender, type Rejection, type TrackedEvent } from "../../packages/client/src";

const file = process.argv[2] ?? "usage.csv";
const baseUrl = process.env.AFORO_URL ?? "http://127.0.0.1:8787";
const demoKeys = join(
  process.env.AFORO_STATE_DIR ?? join(process.cwd(), "..", "..", ".wrangler", "state"),
  "aforo-demo.json",
);
const ingestKey =
  process.env.AFORO_INGEST_KEY ??
  (existsSync(demoKeys)
    ? (JSON.parse(readFileSync(demoKeys, "utf8")) as { ingest_key: string }).ingest_key
    : "");
if (!ingestKey) {
  console.error(
    "Set AFORO_INGEST_KEY (or start Aforo with `npm start` at the repository root first).",
  );
  process.exit(1);
}

const rejected: Rejection[] = [];
const sender = createSender({
  baseUrl,
  ingestKey,
  onRejected: (r) => rejected.push(...r),
  // A backfill has no user waiting: bigger pauses between retries are fine.
  retry: { maxAttempts: 20 },
});

/** One CSV line → fields (RFC 4180 quoting: "a,b" and "" inside quotes). */
function fields(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function toEvent(row: Record<string, string>, name: string, line: number): TrackedEvent {
  const tokens = row.input_tokens || row.output_tokens || row.model;
  const cost: TrackedEvent["cost"] = tokens
    ? {
        ...(row.provider ? { provider: row.provider } : {}),
        ...(row.model ? { model: row.model } : {}),
        ...(row.input_tokens ? { input_tokens: Number(row.input_tokens) } : {}),
        ...(row.output_tokens ? { output_tokens: Number(row.output_tokens) } : {}),
      }
    : row.cost_usd
      ? { usd: row.cost_usd }
      : undefined;
  return {
    id: row.id || `${name}:${line}`,
    time: row.time ?? "",
    customer: row.customer ?? "",
    product: row.product ?? "",
    metric: row.metric ?? "",
    quantity: Number(row.quantity),
    ...(cost ? { cost } : {}),
  };
}

const started = Date.now();
const lines = createInterface({
  input: createReadStream(file),
  crlfDelay: Number.POSITIVE_INFINITY,
});
let header: string[] | null = null;
let line = 0;
let rows = 0;
for await (const text of lines) {
  line++;
  if (!text.trim()) continue;
  if (!header) {
    header = fields(text).map((h) => h.trim());
    continue;
  }
  const values = fields(text);
  const row = Object.fromEntries(header.map((h, i) => [h, values[i]?.trim() ?? ""]));
  sender.track(toEvent(row, basename(file), line));
  rows++;
  // Backpressure: hold at most ~10 batches in memory, however large the file.
  const { queued, inFlight } = sender.stats();
  if (queued + inFlight >= 10_000) await sender.flush();
}
await sender.flush();

const stats = sender.stats();
console.log(
  `${rows} rows from ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${stats.accepted} stored, ${stats.duplicates} already there, ${stats.rejected + stats.undeliverable} not stored`,
);
for (const r of rejected.slice(0, 20)) {
  console.log(
    `  ${r.event.id} (${r.reason}): ${r.errors.map((e) => `${e.path || "event"}: ${e.message}`).join("; ")}`,
  );
}
if (rejected.length > 20) console.log(`  … and ${rejected.length - 20} more`);
process.exitCode = rejected.some((r) => r.reason === "undeliverable") ? 1 : 0;
