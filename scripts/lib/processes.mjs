// The processes of one local stack, found by the AFORO_STACK_ID that startWrangler puts in the
// watchdog's environment (inherited by wrangler and both workerd processes), and what they use.
// Linux only (/proc); elsewhere the lists are empty.
import { readdirSync, readFileSync } from "node:fs";

/**
 * Every live process carrying this stack id (or an id starting with it: startWrangler's ids are
 * `aforo-<pid of the process that started it>-<port>-<random>`), with its role: the watchdog, wrangler's node
 * processes, the proxy workerd (the one listening on the stack's port, `entry=…:<port>`) and the
 * runtime workerd (the one that runs the app: `--inspector-addr`, port 0).
 * @param {string} stackId
 * @returns {{pid: number, role: "watchdog" | "wrangler" | "proxy" | "runtime" | "other", args: string}[]}
 */
export function stackProcesses(stackId) {
  const marker = `AFORO_STACK_ID=${stackId}`;
  const found = [];
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (!environ.some((v) => v.startsWith(marker))) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue; // a zombie is gone
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      const role = args.includes("watchdog.mjs")
        ? "watchdog"
        : /\bworkerd serve\b/.test(args)
          ? args.includes("--inspector-addr")
            ? "runtime"
            : "proxy"
          : /wrangler/.test(args)
            ? "wrangler"
            : "other";
      found.push({ pid: Number(entry), role, args });
    } catch {}
  }
  return found;
}

/** The runtime workerd's pid (the app's isolate lives there), or null. */
export function runtimePid(stackId) {
  return stackProcesses(stackId).find((p) => p.role === "runtime")?.pid ?? null;
}

/** Resident set size of a process in MiB (VmRSS from /proc/<pid>/status), or null. */
export function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}
