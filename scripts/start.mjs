#!/usr/bin/env node
// `npm start`: the whole stack on this machine. Creates .dev.vars (random admin token) when
// missing, applies D1 migrations, builds the dashboard, starts wrangler dev on 127.0.0.1:8787
// (PORT overrides), makes sure the demo tenant exists, and prints where everything is.
// Safe to re-run: state persists under .wrangler/state (AFORO_STATE_DIR overrides).
//
// Then it fills the demo tenant with demo data (scripts/lib/demo-data.mjs: three products, ~200
// customers, 15 months of subscription history and usage, invoices paid, late and voided)
// through the real API, showing progress, and says "Demo data ready" once the numbers are
// final (invoices run, detectors closed, cockpit snapshot taken). Seeding runs once per state
// directory (it resumes if interrupted); AFORO_SEED=0 skips it. A seeding failure is reported
// but leaves the stack running. Afterwards the demo customers' usage goes on: the hours since
// the data ends, then each hour as it ends, and a live trickle of per-request events.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildDemo,
  DEMO_VERSION,
  SEED_FILE,
  seedDemo,
  seedPending,
  topUpDemo,
} from "./lib/demo-data.mjs";
import { startTrickle } from "./lib/demo-live.mjs";
import { ensureDemoCustomerFacing } from "./lib/demo-storefront.mjs";
import {
  DEMO_OWNER,
  demoOwnerSignInLink,
  ensureDemoTenant,
  ensureDevVars,
  prepareStack,
  ROOT,
  startWrangler,
} from "./lib/stack.mjs";

const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.AFORO_STATE_DIR || join(ROOT, ".wrangler", "state");

const { adminToken, created } = ensureDevVars();
if (created) console.log("Created .dev.vars with a random AFORO_ADMIN_TOKEN");
console.log("Applying D1 migrations and building the dashboard…");
const prepared = await prepareStack(persistTo);
if (!prepared.built) console.log("  (dashboard build is up to date)");
const seeding = process.env.AFORO_SEED !== "0" && seedPending(persistTo);
console.log(`Starting wrangler dev on 127.0.0.1:${port}…`);
// While the demo data is being seeded (the first run on a state directory), wrangler logs only
// errors, so its per-request lines do not bury the banner and the seeding progress; other runs
// show the usual request log.
// AFORO_FROZEN=1 serves a frozen copy of the build (edits to the tree do not restart it): for
// measuring a demo in a checkout others are editing.
const stack = await startWrangler({
  port,
  persistTo,
  quiet: seeding,
  frozen: process.env.AFORO_FROZEN === "1",
});
if (seeding) {
  stack.child.stdout?.pipe(process.stdout);
  stack.child.stderr?.pipe(process.stderr);
}

let stopping = false;
/** @type {ReturnType<typeof startTrickle> | null} */
let trickle = null;
const stop = async () => {
  stopping = true;
  await trickle?.stop();
  await stack.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
stack.child.on("exit", (code) => process.exit(code ?? 0));

const demo = await ensureDemoTenant(stack.url, adminToken, persistTo);
const ownerLink = await demoOwnerSignInLink(stack.url, adminToken, demo.operator_token);

console.log(`
  Aforo is running.

  Sign in        ${ownerLink ?? "(no link: see above)"}
                 (as ${DEMO_OWNER.name} <${DEMO_OWNER.email}>, the demo's owner: works once, for
                 24 hours; then add a passkey under Settings → Your account)
  Dashboard      ${stack.url}/#token=${demo.operator_token}
                 (signs you in with the demo's operator API token; ${stack.url}/ asks how)
  API document   ${stack.url}/openapi.json
  Admin token    ${adminToken}   (AFORO_ADMIN_TOKEN in .dev.vars)

  Demo tenant    ${demo.tenant_id}${demo.created ? " (created now)" : ""}
  Operator token ${demo.operator_token}   (for /api/*)
  Ingest key     ${demo.ingest_key}   (for /v1/*)

  Try: curl -H "authorization: Bearer ${demo.operator_token}" ${stack.url}/api/signals
       curl -N -H "authorization: Bearer ${demo.operator_token}" ${stack.url}/api/live

  Ctrl-C stops it; state is kept in ${persistTo}.
`);

let seeded = !seeding;
if (process.env.AFORO_SEED === "0") {
  console.log("AFORO_SEED=0: demo data not seeded.");
} else if (!seeding) {
  console.log("Demo data already seeded (to start over: stop, delete .wrangler/state, npm start).");
} else {
  try {
    await seedDemo({
      url: stack.url,
      operatorToken: demo.operator_token,
      ingestKey: demo.ingest_key,
      persistTo,
    });
    seeded = true;
  } catch (err) {
    // After Ctrl-C the requests in flight fail: not worth a message, the seed resumes next time.
    if (!stopping) {
      console.error(
        `\nSeeding the demo data failed: ${err instanceof Error ? err.message : String(err)}\n` +
          "The stack keeps running. Restart npm start to resume seeding (AFORO_SEED=0 skips it).",
      );
    }
  }
}

// The demo customers keep using the product: the hours since the demo data ends are sent now
// (a stack started again days later would otherwise show everyone gone quiet), then each hour
// as it completes. Meanwhile a trickle of per-request events (a few a second, some refused on
// purpose) delivers part of the current hour as it happens (scripts/lib/demo-live.mjs), so the
// live view has traffic within seconds; AFORO_LIVE=0 turns it off.
if (process.env.AFORO_SEED !== "0" && seeded) {
  const markerFile = join(persistTo, SEED_FILE);
  const marker = existsSync(markerFile) ? JSON.parse(readFileSync(markerFile, "utf8")) : null;
  if (process.env.AFORO_LIVE !== "0" && marker?.version === DEMO_VERSION && marker.anchor) {
    const now = Date.now();
    trickle = startTrickle({
      url: stack.url,
      ingestKey: demo.ingest_key,
      demo: buildDemo({ anchor: Date.parse(marker.anchor), through: now - (now % 3_600_000) }),
    });
  }
  let running = false;
  const topUp = async () => {
    if (running || stopping) return;
    running = true;
    try {
      const through = Date.now();
      await topUpDemo({
        url: stack.url,
        ingestKey: demo.ingest_key,
        persistTo,
        now: through,
        ...(trickle ? { credit: trickle.credit } : {}),
      });
      trickle?.forgetBefore(through - (through % 3_600_000));
    } catch (err) {
      if (!stopping) {
        console.error(
          `Topping up the demo data failed (${err instanceof Error ? err.message : String(err)}); trying again in 5 minutes.`,
        );
      }
    } finally {
      running = false;
    }
  };
  await topUp();
  setInterval(topUp, 5 * 60_000);
  // The customer-facing half: the branded storefront, customer keys and a portal link.
  const facing = await ensureDemoCustomerFacing({
    url: stack.url,
    operatorToken: demo.operator_token,
  });
  const lines = [
    facing.storefront &&
      `  Storefront     ${facing.storefront}   (public; the Plan Comparator is on it)`,
    facing.portal &&
      `  Customer portal ${facing.portal.url}\n                 (${facing.portal.customer}'s portal; the link works for an hour, each start makes a new one)`,
    ...facing.keys.map((k) => `  Customer key   ${k.key}   (${k.customer}'s; shown once, now)`),
  ].filter(Boolean);
  if (lines.length) console.log(`\n${lines.join("\n")}\n`);
  // And right after each hour ends: the hour's usage must be in before the live trickle's events
  // move the actors' watermark past it (5 minutes' lateness), or the detectors would close the
  // hour short and read every customer as dropping.
  const afterNextHour = () =>
    setTimeout(
      () => {
        void topUp();
        afterNextHour();
      },
      3_600_000 - (Date.now() % 3_600_000) + 10_000,
    );
  afterNextHour();
}
