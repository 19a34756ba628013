#!/usr/bin/env node
// `node watchdog.mjs <command> [args…]`: runs the command (wrangler dev) and makes sure it and
// everything it started (the two workerd processes) end when the process that started the
// watchdog ends, however that ends — including SIGKILL, which runs no handler in the parent.
//
// The lifeline is the watchdog's stdin: a pipe whose other end only the parent holds. The kernel
// closes it when the parent dies, for any reason, at once; the watchdog then stops the command
// (SIGTERM, SIGKILL after GRACE_MS). Reading a pipe was chosen over polling `process.ppid`: no
// polling interval to wait out, and no dependence on who adopts an orphan (a subreaper is not
// pid 1). The parent starts the watchdog in a process group of its own, so `kill -9` of the
// parent's whole group (npm's) does not take the watchdog down before it has done its job; the
// command and its children stay in the watchdog's group, so `kill -9 -<watchdog pid>` is still
// an instant crash of the whole stack (what the restart and chaos tests use).
//
// Signals sent to the watchdog itself (SIGINT, SIGTERM, SIGHUP) are passed to the command; when
// the command exits, whatever is left of its group is killed and the watchdog exits with the
// command's code.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const GRACE_MS = 5_000;
const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error("usage: watchdog.mjs <command> [args…]");
  process.exit(2);
}

const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });

/** The other processes of this process group (Linux: /proc; elsewhere the group is signalled). */
function groupMembers() {
  const own = process.pid;
  const members = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === own) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may contain spaces and parens.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === own) members.push(Number(entry));
    } catch {}
  }
  return members;
}

function killGroup(signal) {
  if (process.platform !== "linux") {
    try {
      process.kill(-process.pid, signal);
    } catch {}
    return;
  }
  for (const pid of groupMembers()) {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  try {
    child.kill(signal);
  } catch {}
  setTimeout(() => killGroup("SIGKILL"), GRACE_MS).unref();
}

process.stdin.on("end", () => stop("SIGTERM"));
process.stdin.on("error", () => stop("SIGTERM"));
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(signal));

child.on("error", (err) => {
  console.error(`watchdog: could not start ${command}: ${err.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  killGroup("SIGKILL");
  process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1) : 1));
});
