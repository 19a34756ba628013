// The checked-in client types are what scripts/generate-client.mjs makes of the /openapi.json the
// Worker serves now: a route or schema change without `node scripts/generate-client.mjs` fails
// here, so @aforo/client cannot drift from the API (issue 17).
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { generateSchema, SCHEMA_FILE } from "../../scripts/generate-client.mjs";

it("packages/client/src/schema.d.ts matches the served /openapi.json", async () => {
  const generated = await generateSchema();
  expect(generated).toContain('"/v1/events"');
  const checkedIn = readFileSync(SCHEMA_FILE, "utf8");
  // Not toBe on 400 KB of text: say what to do instead of printing a diff nobody reads.
  if (checkedIn !== generated) {
    const lines = generated.split("\n");
    const old = checkedIn.split("\n");
    const at = lines.findIndex((line, i) => line !== old[i]);
    expect.fail(
      `schema.d.ts is stale (first difference at line ${at + 1}: ${JSON.stringify(lines[at])}); run node scripts/generate-client.mjs`,
    );
  }
}, 60_000);
