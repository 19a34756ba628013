import { applyD1Migrations, env } from "cloudflare:test";

// Each test file gets isolated storage; apply the real migrations from schema/ first.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
