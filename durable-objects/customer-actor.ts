import { DurableObject } from "cloudflare:workers";

// One actor per (tenant, customer), reached by the name `${tenant}:${customer}`. It owns that
// customer's recent raw events, dedupe keys, rolling usage, detector and gate state.
// All DDL lives in MIGRATIONS, applied once per schema version under blockConcurrencyWhile.
const MIGRATIONS: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
];

export const actorName = (tenantId: string, customerId: string) => `${tenantId}:${customerId}`;

export class CustomerActor extends DurableObject<Env> {
  protected readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => this.ensureSchema());
  }

  private ensureSchema() {
    const version = this.ctx.storage.kv.get<number>("schema_version") ?? 0;
    if (version >= MIGRATIONS.length) return;
    this.ctx.storage.transactionSync(() => {
      for (const ddl of MIGRATIONS.slice(version)) this.sql.exec(ddl);
      this.ctx.storage.kv.put("schema_version", MIGRATIONS.length);
    });
  }

  /** The schema version this actor's storage is at (for tests and diagnostics). */
  async schemaVersion(): Promise<number> {
    return this.ctx.storage.kv.get<number>("schema_version") ?? 0;
  }
}
