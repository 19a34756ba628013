import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two projects: pure domain modules run in plain Node; everything that touches bindings runs
// inside workerd through the Workers pool, against the real wrangler.toml and D1 migrations.
export default defineConfig(async () => {
  const migrations = await readD1Migrations("schema");
  return {
    test: {
      projects: [
        {
          test: { name: "domain", include: ["test/domain/**/*.test.ts"], environment: "node" },
        },
        {
          // Against a real `wrangler dev` (started by the tests themselves).
          test: {
            name: "stack",
            include: ["test/stack/**/*.test.ts"],
            environment: "node",
            testTimeout: 240_000,
            hookTimeout: 180_000,
          },
        },
        {
          // The dashboard in Debian's chromium (playwright-core) against a real, seeded
          // `wrangler dev` on ports 8820–8829 (started by the tests themselves).
          test: {
            name: "browser",
            include: ["test/browser/**/*.test.ts"],
            environment: "node",
            testTimeout: 120_000,
            hookTimeout: 600_000,
            globalSetup: ["./test/browser/global-setup.ts"],
          },
        },
        {
          plugins: [
            // A function of `inject`, so the bindings can name the Messages API stand-in's port.
            cloudflareTest(({ inject }) => ({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  AFORO_ADMIN_TOKEN: "test-admin-token",
                  // 32 bytes, base64: the key channel secrets are sealed with.
                  AFORO_SECRETS_KEY: "dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE=",
                  // Local mode: the tests' receivers listen on 127.0.0.1 (domain/outbound-url.ts).
                  AFORO_LOCAL_NETWORK: "loopback",
                  TEST_MIGRATIONS: migrations,
                  // The local Messages API (test/messages-api/server.ts); no key is set, so only
                  // tests that give a tenant a key reach it.
                  ANTHROPIC_BASE_URL: `http://127.0.0.1:${inject("messagesApiPort")}`,
                },
              },
            })),
          ],
          test: {
            name: "workers",
            include: ["test/workers/**/*.test.ts"],
            setupFiles: ["./test/workers/apply-migrations.ts"],
            // Real HTTP servers in Node, their ports provided: the delivery tests' receiver,
            // the AI platform's Messages API stand-in, Brand Auto-Extract's saved sites and
            // the s3 export destination's SigV4-checking bucket.
            globalSetup: [
              "./test/global-setup-receiver.ts",
              "./test/messages-api/server.ts",
              "./test/brand-sites/server.ts",
              "./test/s3-server/server.ts",
            ],
          },
        },
      ],
    },
  };
});
