// Types for stack.mjs (plain ESM so it runs before any build step).
import type { ChildProcess } from "node:child_process";

export const ROOT: string;
export const STACK_ENV: NodeJS.ProcessEnv;
export function ensureDevVars(root?: string): { adminToken: string; created: boolean };
export function applyMigrations(persistTo: string, quiet?: boolean): void;
export function buildDashboard(quiet?: boolean): void;
export function dashboardFresh(): boolean;
export function prepareStack(persistTo: string): Promise<{ built: boolean }>;
export interface Stack {
  url: string;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** In the environment of every process of this stack (scripts/lib/processes.mjs finds them). */
  stackId: string;
  output(): string;
}
export function startWrangler(options: {
  port: number;
  persistTo: string;
  inspectorPort?: number;
  quiet?: boolean;
  vars?: Record<string, string>;
  bench?: boolean;
  frozen?: boolean;
  config?: string;
}): Promise<Stack>;
export function frozenConfig(bench?: boolean): { dir: string; file: string };
export function request(
  url: string,
  options?: { method?: string; token?: string; body?: unknown },
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of the API under test
): Promise<any>;
export interface DemoTenant {
  tenant_id: string;
  name: string;
  ingest_key: string;
  operator_token: string;
  created: boolean;
}
export function ensureDemoTenant(
  url: string,
  adminToken: string,
  persistTo: string,
): Promise<DemoTenant>;
