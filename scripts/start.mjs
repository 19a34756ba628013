#!/usr/bin/env node
// `npm start`: the whole stack on this machine. Creates .dev.vars (random admin token) when
// missing, applies D1 migrations, builds the dashboard, starts wrangler dev on 127.0.0.1:8787
// (PORT overrides), makes sure the demo tenant exists, and prints where everything is.
// Safe to re-run: state persists under .wrangler/state.
import { join } from "node:path";
import {
  applyMigrations,
  buildDashboard,
  ensureDemoTenant,
  ensureDevVars,
  ROOT,
  startWrangler,
} from "./lib/stack.mjs";

const port = Number(process.env.PORT ?? 8787);
const persistTo = join(ROOT, ".wrangler", "state");

const { adminToken, created } = ensureDevVars();
if (created) console.log("Created .dev.vars with a random AFORO_ADMIN_TOKEN");
console.log("Applying D1 migrations…");
applyMigrations(persistTo, true);
console.log("Building the dashboard…");
buildDashboard(true);
console.log(`Starting wrangler dev on 127.0.0.1:${port}…`);
const stack = await startWrangler({ port, persistTo });

const stop = async () => {
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
stack.child.on("exit", (code) => process.exit(code ?? 0));

const demo = await ensureDemoTenant(stack.url, adminToken, persistTo);

console.log(`
  Aforo is running.

  Dashboard      ${stack.url}/
  API document   ${stack.url}/openapi.json
  Admin token    ${adminToken}   (AFORO_ADMIN_TOKEN in .dev.vars)

  Demo tenant    ${demo.tenant_id}${demo.created ? " (created now)" : ""}
  Operator token ${demo.operator_token}   (for /api/*)
  Ingest key     ${demo.ingest_key}   (for /v1/*)

  Try: curl -H "authorization: Bearer ${demo.operator_token}" ${stack.url}/api/products

  Ctrl-C stops it; state is kept in .wrangler/state.
`);
