// Types for generate-client.mjs (plain ESM so it runs with node alone).
export const SCHEMA_FILE: string;
export function servedDocument(): Promise<Record<string, unknown>>;
export function generateSchema(): Promise<string>;
