// `npm start`: runs this example with the repository's wrangler on 127.0.0.1:8788, with the demo
// tenant's ingest key from the state `npm start` at the root wrote (or AFORO_INGEST_KEY).
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const state = process.env.AFORO_STATE_DIR || join(root, ".wrangler", "state");
const demoKeys = join(state, "aforo-demo.json");
const ingestKey =
  process.env.AFORO_INGEST_KEY ||
  (existsSync(demoKeys) ? JSON.parse(readFileSync(demoKeys, "utf8")).ingest_key : "");
if (!ingestKey) {
  console.error(
    "No ingest key: start Aforo first (`npm start` at the repository root), or set AFORO_INGEST_KEY.",
  );
  process.exit(1);
}
const port = process.env.PORT ?? "8788";
const vars = [`AFORO_INGEST_KEY:${ingestKey}`];
if (process.env.AFORO_URL) vars.push(`AFORO_URL:${process.env.AFORO_URL}`);
if (process.env.AFORO_FAIL_MODE) vars.push(`AFORO_FAIL_MODE:${process.env.AFORO_FAIL_MODE}`);
const child = spawn(
  join(root, "node_modules", ".bin", "wrangler"),
  ["dev", "--ip", "127.0.0.1", "--port", port, "--var", ...vars],
  {
    cwd: here,
    stdio: "inherit",
    // The repository's Node (the `node` devDependency), which wrangler needs, first on PATH.
    env: {
      ...process.env,
      PATH: `${join(root, "node_modules", ".bin")}${delimiter}${process.env.PATH}`,
      WRANGLER_SEND_METRICS: "false",
    },
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code) => process.exit(code ?? 0));
