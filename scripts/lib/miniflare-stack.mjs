// The benchmarks' worker on bare workerd, through Miniflare's API: no `wrangler dev` proxy in
// front of the runtime. The same bundle `wrangler deploy` builds (esbuild, run by wrangler
// itself), the same bindings wrangler.toml declares (wrangler turns the config into Miniflare
// options), the BenchActor the bench config adds, and D1 migrated by `wrangler d1 migrations
// apply` into the same persistence layout `wrangler dev` uses. Used by `npm run bench:gate --
// --direct`.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { applyMigrations, buildDashboard, ensureDevVars, ROOT, STACK_ENV } from "./stack.mjs";

const BENCH_ENTRY = "scripts/bench/bench-worker.ts";
/** USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on Linux unless configured). */
const CLOCK_TICKS =
  Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** Bundles the bench worker exactly as `wrangler deploy` would; returns the script's path. */
function bundleBenchWorker() {
  const outdir = join(ROOT, ".wrangler", "bench-direct", "bundle");
  const result = spawnSync(
    join(ROOT, "node_modules", ".bin", "wrangler"),
    ["deploy", BENCH_ENTRY, "--dry-run", "--outdir", outdir],
    { cwd: ROOT, env: { ...STACK_ENV, WRANGLER_LOG: "warn" }, encoding: "utf8" },
  );
  if (result.status !== 0) {
    throw new Error(`wrangler deploy --dry-run failed:\n${result.stdout}${result.stderr}`);
  }
  return join(outdir, "bench-worker.js");
}

/**
 * Starts the bench worker on workerd via Miniflare, listening on `127.0.0.1:port` (Miniflare's
 * own HTTP server, a real socket). `directPort` also opens a socket straight into the worker
 * (Miniflare's entry worker and the assets router not in between: what `workerd serve` with
 * this worker alone would answer). Resolves once /healthz answers on both.
 * `inspectorPort` opens workerd's DevTools inspector (CPU profiles of the worker). `assets:
 * false` leaves out wrangler.toml's static assets, and so the assets router Miniflare runs in
 * front of the worker. The answer's `cpuMs()` reads the CPU time workerd has used (Linux).
 * @param {{port:number, persistTo:string, directPort?:number, inspectorPort?:number, assets?:boolean}} o
 */
export async function startMiniflare(o) {
  if (!existsSync(join(ROOT, "pages", "dist", "index.html"))) buildDashboard(true);
  applyMigrations(o.persistTo, true);
  const scriptPath = bundleBenchWorker();
  ensureDevVars(); // wrangler reads .dev.vars beside wrangler.toml into the bindings, as in dev
  const config = unstable_readConfig({ config: join(ROOT, "wrangler.toml") });
  config.durable_objects.bindings.push({ name: "BENCH_ACTOR", class_name: "BenchActor" });
  config.migrations.push({ tag: "bench-v1", new_sqlite_classes: ["BenchActor"] });
  // The bundle is one ES module: the module rules (for unbundled sources) do not apply.
  const {
    workerOptions: { modulesRules: _, assets, ...workerOptions },
    externalWorkers,
  } = unstable_getMiniflareWorkerOptions(config);
  // Miniflare 5 takes its own shape; wrangler converts its (v4-shaped) options the same way.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: o.port,
      // What wrangler dev passes for --persist-to: D1 migrated above is found here.
      resourcePersistencePath: join(o.persistTo, "v3"),
      logRequests: false,
      ...(o.inspectorPort ? { inspectorPort: o.inspectorPort } : {}),
      // Neither runs in production; wrangler dev turns both on unless told not to.
      unsafeObservability: false,
      unsafeLocalExplorer: false,
      workers: [
        {
          ...workerOptions,
          name: config.name,
          modules: true,
          scriptPath,
          ...(o.assets === false ? {} : { assets }),
          ...(o.directPort
            ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: o.directPort }] }
            : {}),
        },
        ...externalWorkers,
      ],
    }),
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const directUrl = o.directPort ? `http://127.0.0.1:${o.directPort}` : null;
  for (const base of [url, directUrl]) {
    if (!base) continue;
    const res = await fetch(`${base}/healthz`);
    if (!res.ok) throw new Error(`the worker on Miniflare answered /healthz with ${res.status}`);
    await res.arrayBuffer();
  }
  return { url, directUrl, mf, cpuMs: workerdCpuMs, stop: () => mf.dispose() };
}

/** User + system CPU time (ms) of the workerd processes this process started; null off Linux. */
function workerdCpuMs() {
  if (!existsSync("/proc/self/stat")) return null;
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    // pid (comm) state ppid … utime(14) stime(15): comm may hold spaces, so split after ")".
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (comm !== "workerd" || Number(fields[1]) !== process.pid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * (1000 / CLOCK_TICKS);
}
