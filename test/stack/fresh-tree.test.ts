// Every documented command works on its own on a fresh clone (issue 11, defect 7): the benchmarks
// start their stack before anything has built the dashboard, and the worker serves pages/dist as
// its static assets, so startWrangler builds it when it is missing. Checked on a copy of the tree
// (the tracked files as they are now, node_modules linked in) that has no pages/dist, through the
// benchmarks' own path (the bench config, as `npm run bench:*` starts it).
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT, STACK_ENV } from "../../scripts/lib/stack.mjs";

const PORT = 8867;
const copy = mkdtempSync(join(tmpdir(), "aforo-fresh-"));

afterAll(() => {
  rmSync(copy, { recursive: true, force: true });
});

it("a stack starts from a tree that has never built the dashboard, and serves it", () => {
  const files = spawnSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" })
    .stdout.split("\0")
    .filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(ROOT, file))) continue; // deleted in the working tree
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(ROOT, file), join(copy, file));
  }
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  expect(existsSync(join(copy, "pages", "dist"))).toBe(false);

  // What bench-gate.mjs does first, in the copy: its stack.mjs finds its root from its own path.
  const script = `
    import { applyMigrations, ensureDevVars, startWrangler } from "./scripts/lib/stack.mjs";
    import { mkdtempSync } from "node:fs";
    import { tmpdir } from "node:os";
    import { join } from "node:path";
    ensureDevVars();
    const persistTo = mkdtempSync(join(tmpdir(), "aforo-fresh-state-"));
    applyMigrations(persistTo, true);
    const stack = await startWrangler({ port: ${PORT}, persistTo, quiet: true, bench: true });
    try {
      const page = await fetch(stack.url + "/");
      const html = await page.text();
      console.log(JSON.stringify({ status: page.status, dashboard: html.includes('id="app"') }));
    } finally {
      await stack.stop();
    }`;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: copy,
    env: STACK_ENV,
    encoding: "utf8",
    timeout: 200_000,
  });
  const answer = run.stdout.trim().split("\n").at(-1) ?? "";
  expect(run.status, `${run.stdout}\n${run.stderr}`.slice(-3000)).toBe(0);
  expect(JSON.parse(answer)).toEqual({ status: 200, dashboard: true });
  expect(existsSync(join(copy, "pages", "dist", "index.html"))).toBe(true);
}, 240_000);
