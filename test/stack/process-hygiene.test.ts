// `npm start` dies with its children however it ends (issue 11): killed with SIGKILL, which runs
// no handler, as a whole process group (what `kill -9 -<pgid>` of npm's group does) or as the
// parent process alone, the stack stops answering and none of its processes is left (wrangler
// runs under scripts/lib/watchdog.mjs, which sees its lifeline close).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { stackProcesses } from "../../scripts/lib/processes.mjs";
import { ROOT, STACK_ENV } from "../../scripts/lib/stack.mjs";

const PORT = 8866;
const url = `http://127.0.0.1:${PORT}`;
let started: { child: ChildProcess; dir: string } | undefined;

afterEach(() => {
  if (!started) return;
  // Whatever the test left behind, by the ids this run started (never by name).
  for (const p of stackProcesses(`aforo-${started.child.pid}-`)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {}
  }
  rmSync(started.dir, { recursive: true, force: true });
  started = undefined;
});

const answers = () =>
  fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
    (r) => r.ok,
    () => false,
  );

async function until(condition: () => Promise<boolean> | boolean, ms: number) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** `node scripts/start.mjs` in a process group of its own, as npm runs it from a shell. */
async function startNpmStart() {
  const dir = mkdtempSync(join(tmpdir(), "aforo-hygiene-"));
  const child = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs")], {
    cwd: ROOT,
    env: { ...STACK_ENV, PORT: String(PORT), AFORO_SEED: "0", AFORO_STATE_DIR: dir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started = { child, dir };
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const up = await until(() => output.includes("Aforo is running") && answers(), 150_000);
  if (!up) throw new Error(`npm start did not come up:\n${output.slice(-3000)}`);
  const processes = stackProcesses(`aforo-${child.pid}-${PORT}-`);
  // wrangler and both workerd processes: the proxy and the runtime.
  expect(processes.map((p) => p.role)).toEqual(
    expect.arrayContaining(["wrangler", "proxy", "runtime"]),
  );
  return { child, dir, processes };
}

async function expectAllGone(child: ChildProcess, dir: string) {
  expect(await until(async () => !(await answers()), 20_000)).toBe(true);
  const gone = await until(() => stackProcesses(`aforo-${child.pid}-`).length === 0, 20_000);
  expect(gone ? [] : stackProcesses(`aforo-${child.pid}-`)).toEqual([]);
  // Nothing running with its state directory on its command line either (wrangler's --persist-to).
  const pgrep = spawnSync("pgrep", ["-f", dir], { encoding: "utf8" });
  expect(pgrep.stdout.trim()).toBe("");
}

it("kill -9 of npm start's process group takes wrangler and workerd down", async () => {
  const { child, dir } = await startNpmStart();
  process.kill(-(child.pid as number), "SIGKILL");
  await expectAllGone(child, dir);
}, 240_000);

it("kill -9 of the npm start process alone takes wrangler and workerd down", async () => {
  const { child, dir } = await startNpmStart();
  process.kill(child.pid as number, "SIGKILL");
  await expectAllGone(child, dir);
}, 240_000);
