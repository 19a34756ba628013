// Starting and talking to the local stack (wrangler dev with local D1/R2/Queues/DOs), shared by
// `npm start`, the benchmarks and the browser tests.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "node_modules", ".bin");
const WATCHDOG = join(dirname(fileURLToPath(import.meta.url)), "watchdog.mjs");

// Local observability makes DO SQLite writes 4–5× slower (PLATFORM.md); metrics need network.
// node_modules/.bin first on PATH so wrangler and vite run on the Node 22 that `npm ci` brought.
export const STACK_ENV = {
  ...process.env,
  PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}`,
  X_LOCAL_OBSERVABILITY: "false",
  WRANGLER_SEND_METRICS: "false",
  CI: process.env.CI ?? "",
};

/**
 * Reads AFORO_ADMIN_TOKEN from .dev.vars, adding what is missing: a random admin token, and
 * AFORO_SECRETS_KEY (32 random bytes, the key channel secrets are sealed with).
 */
export function ensureDevVars(root = ROOT) {
  const file = join(root, ".dev.vars");
  let text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const read = (/** @type {string} */ name) =>
    new RegExp(`^${name}\\s*=\\s*"?([^"\\n]+)"?\\s*$`, "m").exec(text)?.[1];
  const add = (/** @type {string} */ name, /** @type {string} */ value) => {
    text = `${text && !text.endsWith("\n") ? `${text}\n` : text}${name}="${value}"\n`;
  };
  let adminToken = read("AFORO_ADMIN_TOKEN");
  const created = !adminToken;
  if (!adminToken) {
    adminToken = `aforo_admin_${randomBytes(24).toString("base64url")}`;
    add("AFORO_ADMIN_TOKEN", adminToken);
  }
  if (!read("AFORO_SECRETS_KEY")) add("AFORO_SECRETS_KEY", randomBytes(32).toString("base64"));
  if (!read("AFORO_LOCAL_NETWORK")) add("AFORO_LOCAL_NETWORK", "loopback"); // local receivers
  if (!existsSync(file) || readFileSync(file, "utf8") !== text) {
    writeFileSync(file, text, { mode: 0o600 });
  }
  return { adminToken, created };
}

function run(command, args, options = {}) {
  const result = spawnSync(join(BIN, command), args, {
    cwd: ROOT,
    env: STACK_ENV,
    stdio: options.quiet ? "pipe" : "inherit",
    encoding: "utf8",
  });
  if (result.status !== 0) {
    if (options.quiet) process.stderr.write(`${result.stdout ?? ""}${result.stderr ?? ""}`);
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status})`);
  }
}

/** The same as run(), without blocking: resolves when the command exits 0. */
function runAsync(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(join(BIN, command), args, {
      cwd: ROOT,
      env: STACK_ENV,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve(undefined);
      else {
        process.stderr.write(output);
        reject(new Error(`${command} ${args.join(" ")} failed (exit ${code})`));
      }
    });
  });
}

/** Newest modification time of the files under `dir` (recursive), 0 when missing. */
function newestMtime(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const t = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Whether pages/dist was built after every source the dashboard is built from changed. */
export function dashboardFresh() {
  const built = join(ROOT, "pages", "dist", "index.html");
  if (!existsSync(built)) return false;
  const builtAt = statSync(built).mtimeMs;
  const sources = ["pages/src", "pages/public", "contracts", "domain/detectors"].map((d) =>
    newestMtime(join(ROOT, d)),
  );
  const files = ["pages/index.html", "pages/vite.config.ts", "package-lock.json"]
    .map((f) => join(ROOT, f))
    .filter((f) => existsSync(f))
    .map((f) => statSync(f).mtimeMs);
  return Math.max(...sources, ...files) < builtAt;
}

/**
 * What `npm start` does before wrangler dev, at once: the D1 migrations and the dashboard's
 * build (skipped when pages/dist is newer than its sources) run side by side.
 * @returns {Promise<{built: boolean}>}
 */
export async function prepareStack(persistTo) {
  mkdirSync(persistTo, { recursive: true });
  const build = !dashboardFresh();
  await Promise.all([
    runAsync("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]),
    build ? runAsync("vite", ["build", "pages", "--logLevel", "warn"]) : null,
  ]);
  return { built: build };
}

export function applyMigrations(persistTo, quiet = false) {
  mkdirSync(persistTo, { recursive: true });
  run("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], {
    quiet,
  });
}

export function buildDashboard(quiet = false) {
  run("vite", ["build", "pages", "--logLevel", quiet ? "warn" : "info"], { quiet });
}

/**
 * The benchmarks' config: wrangler.toml with the bench worker (scripts/bench/bench-worker.ts) as
 * entry and its BenchActor bound, written under .wrangler/bench with the .dev.vars beside it.
 * Production's wrangler.toml has neither.
 */
function benchConfig() {
  const dir = join(ROOT, ".wrangler", "bench");
  mkdirSync(dir, { recursive: true });
  const abs = (path) => JSON.stringify(join(ROOT, path));
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, `main = ${abs("scripts/bench/bench-worker.ts")}`)
    .replace(/^directory = "pages\/dist"$/m, `directory = ${abs("pages/dist")}`)
    .replace(/^migrations_dir = "schema"$/m, `migrations_dir = ${abs("schema")}`);
  const file = join(dir, "wrangler.toml");
  writeFileSync(
    file,
    `${toml}
[[durable_objects.bindings]]
name = "BENCH_ACTOR"
class_name = "BenchActor"

[[migrations]]
tag = "bench-v1"
new_sqlite_classes = ["BenchActor"]
`,
  );
  writeFileSync(join(dir, ".dev.vars"), readFileSync(join(ROOT, ".dev.vars")));
  return file;
}

/**
 * A copy of the worker that edits to the working tree cannot reach: the deploy build (`wrangler
 * deploy --dry-run`, the same bundle `wrangler deploy` uploads) and the dashboard's build in a
 * temp directory, with a config that runs them unbundled. `wrangler dev` watches its sources and
 * restarts the runtime on every change (in-flight requests fail, every actor is evicted), so
 * long runs in a checkout others are editing (soak, chaos) run from a frozen copy.
 */
export function frozenConfig(bench = false) {
  const dir = mkdtempSync(join(tmpdir(), "aforo-frozen-"));
  const source = bench ? benchConfig() : join(ROOT, "wrangler.toml");
  const worker = join(dir, "worker");
  run("wrangler", ["deploy", "--dry-run", "--config", source, "--outdir", worker], {
    quiet: true,
  });
  cpSync(join(ROOT, "pages", "dist"), join(dir, "assets"), { recursive: true });
  // The bundle is named after the entry (index.js, bench-worker.js).
  const main = readdirSync(worker).find((f) => f.endsWith(".js"));
  if (!main) throw new Error(`wrangler deploy --dry-run wrote no bundle into ${worker}`);
  const toml = readFileSync(source, "utf8")
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(worker, main))}\nno_bundle = true`)
    .replace(/^directory = .*$/m, `directory = ${JSON.stringify(join(dir, "assets"))}`)
    .replace(/^migrations_dir = .*$/m, `migrations_dir = ${JSON.stringify(join(ROOT, "schema"))}`);
  writeFileSync(join(dir, "wrangler.toml"), toml);
  writeFileSync(join(dir, ".dev.vars"), readFileSync(join(ROOT, ".dev.vars")));
  return { dir, file: join(dir, "wrangler.toml") };
}

/**
 * Starts `wrangler dev` and resolves once /healthz answers. `bench` runs the benchmarks' worker;
 * `frozen` runs a copy of the build that later edits to the tree do not restart (frozenConfig),
 * `config` one made earlier by frozenConfig (several stacks from one build; the caller removes it).
 * @param {{port:number, persistTo:string, inspectorPort?:number, quiet?:boolean, vars?:Record<string,string>, bench?:boolean, frozen?:boolean, config?:string}} o
 */
export async function startWrangler(o) {
  // The worker serves the dashboard's build as static assets: a fresh clone has none yet.
  if (!existsSync(join(ROOT, "pages", "dist", "index.html"))) buildDashboard(o.quiet);
  const frozen = o.frozen && !o.config ? frozenConfig(o.bench) : null;
  const config = o.config ?? (frozen ? frozen.file : o.bench ? benchConfig() : null);
  const args = [
    "dev",
    ...(config ? ["--config", config] : []),
    "--ip",
    "127.0.0.1",
    "--port",
    String(o.port),
    "--persist-to",
    o.persistTo,
    "--inspector-port",
    String(o.inspectorPort ?? o.port + 1000),
    "--show-interactive-dev-session=false",
    "--log-level",
    o.quiet ? "error" : "info",
  ];
  for (const [k, v] of Object.entries(o.vars ?? {})) args.push("--var", `${k}:${v}`);
  // wrangler runs under a watchdog (scripts/lib/watchdog.mjs) in a process group of its own:
  // when this process ends, however it ends (SIGKILL included), the watchdog sees its lifeline
  // (its stdin) close and takes wrangler and both workerd processes down with it.
  const stackId = `aforo-${process.pid}-${o.port}-${randomBytes(4).toString("hex")}`;
  const child = spawn(process.execPath, [WATCHDOG, join(BIN, "wrangler"), ...args], {
    cwd: ROOT,
    env: { ...STACK_ENV, AFORO_STACK_ID: stackId },
    stdio: o.quiet ? ["pipe", "pipe", "pipe"] : ["pipe", "inherit", "inherit"],
    detached: process.platform !== "win32",
  });
  // Never leave a wrangler behind when this process ends normally either.
  const killOnExit = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  };
  process.once("exit", killOnExit);
  let output = "";
  child.stdout?.on("data", (d) => {
    output = (output + d).slice(-20_000);
  });
  child.stderr?.on("data", (d) => {
    output = (output + d).slice(-20_000);
  });
  const url = `http://127.0.0.1:${o.port}`;
  const deadline = Date.now() + 120_000;
  let exited = false;
  child.on("exit", () => {
    exited = true;
    if (frozen) rmSync(frozen.dir, { recursive: true, force: true });
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(`wrangler dev exited before it was ready:\n${output}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  if (Date.now() >= deadline) throw new Error(`wrangler dev did not answer on ${url}:\n${output}`);
  /** Stops the stack. SIGKILL simulates a crash: the whole process group (watchdog, wrangler,
   * both workerd) dies at once, with no chance to flush anything. Other signals go to the
   * watchdog, which passes them to wrangler and kills what is left after 5 s. */
  const stop = (signal = "SIGTERM") =>
    new Promise((resolve) => {
      if (exited) return resolve(undefined);
      child.once("exit", () => resolve(undefined));
      try {
        if (signal === "SIGKILL") process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        child.kill(signal);
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {}
      }, 8_000).unref();
    });
  return { url, child, stop, stackId, output: () => output };
}

/** JSON request helper that throws on non-2xx with the problem detail. */
export async function request(url, { method = "GET", token, body } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = new Error(`${method} ${url} → ${res.status}: ${json?.detail ?? text}`);
    err.status = res.status;
    err.body = json;
    throw err;
  }
  return json;
}

/** The demo workspace's owner, a person who signs in by link or passkey (issue 13). */
export const DEMO_OWNER = { email: "dana@demo-co.example", name: "Dana Okafor" };

/**
 * A fresh single-use sign-in link for the demo owner (valid 24 h), made a member first when
 * the tenant predates accounts. On `localhost`, not 127.0.0.1: passkeys need a domain name.
 * Null (with the reason logged) when the API refuses, e.g. too many links lately.
 */
export async function demoOwnerSignInLink(url, adminToken, operatorToken, log = console.log) {
  const local = url.replace("//127.0.0.1:", "//localhost:");
  const mint = () =>
    request(`${local}/admin/tenants/demo/sign-in-links`, {
      method: "POST",
      token: adminToken,
      body: { email: DEMO_OWNER.email, expires_in: 86_400 },
    });
  try {
    return (await mint()).url;
  } catch (err) {
    if (err.status !== 404) {
      log(`  (no sign-in link for ${DEMO_OWNER.email}: ${err.message})`);
      return null;
    }
  }
  try {
    await request(`${local}/api/members`, {
      method: "POST",
      token: operatorToken,
      body: { email: DEMO_OWNER.email, name: DEMO_OWNER.name, role: "owner" },
    });
    return (await mint()).url;
  } catch (err) {
    log(`  (no sign-in link for ${DEMO_OWNER.email}: ${err.message})`);
    return null;
  }
}

/**
 * The demo tenant's keys are kept in `<persistTo>/aforo-demo.json` (secrets are stored only
 * hashed in D1, so this file is the one place the local stack can find them again).
 */
export async function ensureDemoTenant(url, adminToken, persistTo) {
  const file = join(persistTo, "aforo-demo.json");
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8"));
    try {
      await request(`${url}/api/keys`, { token: saved.operator_token });
      return { ...saved, created: false };
    } catch {}
  }
  let keys;
  try {
    keys = await request(`${url}/admin/tenants`, {
      method: "POST",
      token: adminToken,
      // The demo book reaches 15 months back (scripts/lib/demo-data.mjs HISTORY_DAYS).
      body: {
        id: "demo",
        name: "Demo Co",
        settings: { backfill_horizon_days: 480 },
        owner_email: DEMO_OWNER.email,
        owner_name: DEMO_OWNER.name,
      },
    });
  } catch (err) {
    if (err.status !== 409) throw err;
    // The tenant exists but its keys were lost: issue new ones.
    const [ingest, operator] = await Promise.all(
      ["ingest", "operator"].map((kind) =>
        request(`${url}/admin/tenants/demo/keys`, {
          method: "POST",
          token: adminToken,
          body: { kind, name: "npm start" },
        }),
      ),
    );
    keys = {
      tenant_id: "demo",
      name: "Demo Co",
      ingest_key: ingest.key,
      operator_token: operator.key,
    };
  }
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  return { ...keys, created: true };
}
