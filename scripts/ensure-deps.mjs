#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs dependencies with `npm ci` when they are
// missing or older than package-lock.json. Dependency-free on purpose (it runs before any
// install, on whatever Node the machine has; `npm ci` then brings Node 22 into node_modules).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const lockfile = join(root, "package-lock.json");
const stamp = join(root, "node_modules", ".aforo-lock-hash");

const hash = createHash("sha256").update(readFileSync(lockfile)).digest("hex");
const current = existsSync(stamp) ? readFileSync(stamp, "utf8").trim() : "";

if (current !== hash) {
  console.log(
    existsSync(join(root, "node_modules"))
      ? "Dependencies are older than package-lock.json: running npm ci…"
      : "Installing dependencies (npm ci)…",
  );
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.status !== 0) {
    console.error("npm ci failed; see the output above.");
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, `${hash}\n`);
}
