// Types for processes.mjs.
export interface StackProcess {
  pid: number;
  role: "watchdog" | "wrangler" | "proxy" | "runtime" | "other";
  args: string;
}
export function stackProcesses(stackId: string): StackProcess[];
export function runtimePid(stackId: string): number | null;
export function rssMiB(pid: number): number | null;
