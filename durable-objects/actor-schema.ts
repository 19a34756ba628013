// The customer actor's SQLite schema, in one place. Each entry is one schema version, applied
// once, in order, inside a transaction (migrateActorSchema, run by the actor's constructor).
// Changes are additive: append a new entry, never edit an old one.

const VERSION_KEY = "schema_version";

/** Applies the migrations this storage has not had yet, in one transaction; returns the version
 * it is now at. `upTo` stops early (tests build an older schema with it). */
export function migrateActorSchema(
  storage: DurableObjectStorage,
  upTo = ACTOR_MIGRATIONS.length,
): number {
  const version = storage.kv.get<number>(VERSION_KEY) ?? 0;
  if (version >= upTo) return version;
  storage.transactionSync(() => {
    for (const ddl of ACTOR_MIGRATIONS.slice(version, upTo)) storage.sql.exec(ddl);
    storage.kv.put(VERSION_KEY, upTo);
  });
  return upTo;
}
export const ACTOR_MIGRATIONS: readonly string[] = [
  // v1: raw events (also the dedupe keys), period-to-date usage, buckets, outbox, timers.
  `CREATE TABLE events (
     seq                  INTEGER PRIMARY KEY,
     id                   TEXT NOT NULL,
     time                 INTEGER NOT NULL,
     received_at          INTEGER NOT NULL,
     product              TEXT NOT NULL,
     metric               TEXT NOT NULL,
     quantity             INTEGER NOT NULL,  -- micro-units
     revenue              INTEGER NOT NULL,  -- nanos
     cost                 INTEGER NOT NULL,  -- nanos
     cost_status          TEXT NOT NULL,
     provider             TEXT,
     model                TEXT,
     input_tokens         INTEGER,
     output_tokens        INTEGER,
     cached_input_tokens  INTEGER,
     subscription_id      TEXT,
     flags                TEXT NOT NULL,     -- comma-separated EventFlag list
     source               TEXT NOT NULL,
     properties           TEXT               -- JSON object or NULL
   );
   CREATE INDEX events_by_time ON events (time DESC, seq DESC);
   -- Dedupe: an id already here is a duplicate. Rows stay at least 35 days after receipt
   -- (and as long as the tenant's raw retention), so that is the dedupe window.
   CREATE UNIQUE INDEX events_by_id ON events (id);

   CREATE TABLE usage_ptd (
     subscription_id  TEXT NOT NULL,
     period_start     INTEGER NOT NULL,
     metric           TEXT NOT NULL,
     quantity         TEXT NOT NULL,         -- micro-units, exact decimal text
     PRIMARY KEY (subscription_id, period_start, metric)
   ) WITHOUT ROWID;

   -- Hourly ('h') and daily ('d') totals per product and metric. The pending_* columns of the
   -- hourly rows hold what has not yet been handed to the outbox.
   CREATE TABLE buckets (
     granularity      TEXT NOT NULL,
     start            INTEGER NOT NULL,
     product          TEXT NOT NULL,
     metric           TEXT NOT NULL,
     units            INTEGER NOT NULL,
     revenue          INTEGER NOT NULL,
     cost             INTEGER NOT NULL,
     events           INTEGER NOT NULL,
     pending_units    INTEGER NOT NULL DEFAULT 0,
     pending_revenue  INTEGER NOT NULL DEFAULT 0,
     pending_cost     INTEGER NOT NULL DEFAULT 0,
     pending_events   INTEGER NOT NULL DEFAULT 0,
     PRIMARY KEY (granularity, start, product, metric)
   ) WITHOUT ROWID;
   CREATE INDEX buckets_pending ON buckets (start) WHERE pending_events > 0;

   -- Durable outbox to the events queue; rows leave only after the queue has them. Each row is
   -- one queue message whose batch id is built from its seq.
   -- AUTOINCREMENT: a seq is never reused, so batch ids built from it stay unique.
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created_at INTEGER NOT NULL);

   -- One alarm multiplexes these timers (name → due time).
   CREATE TABLE timers (name TEXT PRIMARY KEY, due INTEGER NOT NULL) WITHOUT ROWID;

   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  // v2: signals, one per idempotency key however often events are replayed.
  `CREATE TABLE signals (
     idempotency_key  TEXT PRIMARY KEY,
     detector         TEXT NOT NULL,
     body             TEXT NOT NULL,
     created_at       INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // v3: outbox rows stay after sending until D1 shows their batch applied (a local queue can
  // lose sent messages on a restart; a deployed one can redeliver: both are covered).
  `ALTER TABLE outbox ADD COLUMN sent_at INTEGER;`,
  // v4: the uncosted share of each hour's usage (issue 12, item 5), handed to the rollups with
  // the rest of the pending deltas.
  `ALTER TABLE buckets ADD COLUMN pending_uncosted_events INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE buckets ADD COLUMN pending_uncosted_revenue INTEGER NOT NULL DEFAULT 0;`,
  // v5: the pending deltas cut by the cost's provider and model ('' when the event has none),
  // sealed into the same outbox rows as the buckets' and then deleted: only what is pending is
  // kept, the totals live in D1 (schema/0024_model_rollups.sql). Amounts as in buckets.
  `CREATE TABLE pending_facets (
     start             INTEGER NOT NULL,
     product           TEXT NOT NULL,
     metric            TEXT NOT NULL,
     provider          TEXT NOT NULL,
     model             TEXT NOT NULL,
     units             INTEGER NOT NULL,
     revenue           INTEGER NOT NULL,
     cost              INTEGER NOT NULL,
     events            INTEGER NOT NULL,
     uncosted_events   INTEGER NOT NULL,
     uncosted_revenue  INTEGER NOT NULL,
     PRIMARY KEY (start, product, metric, provider, model)
   ) WITHOUT ROWID;`,
  // v6: each batch's usage per agent session (hour, product, session_id), appended as it is and
  // summed only when sealed into the outbox rows (in JavaScript, as bigints: a session's units
  // span its product's metrics and its tokens have no daily bound, so no SQLite integer holds
  // their sum by construction), then deleted; the totals live in D1
  // (schema/0025_session_rollups.sql). Amounts as exact decimal text.
  `CREATE TABLE pending_sessions (
     start                INTEGER NOT NULL,
     product              TEXT NOT NULL,
     session_id           TEXT NOT NULL,
     events               INTEGER NOT NULL,
     units                TEXT NOT NULL,
     revenue              TEXT NOT NULL,
     cost                 TEXT NOT NULL,
     input_tokens         TEXT NOT NULL,
     output_tokens        TEXT NOT NULL,
     cached_input_tokens  TEXT NOT NULL,
     first_at             INTEGER NOT NULL,
     last_at              INTEGER NOT NULL
   );`,
  // v7: each batch's usage made with a customer API key, per (UTC day, key, product, metric),
  // summed here as it comes and sealed into the same outbox rows as the buckets, then deleted;
  // the totals live in D1 (schema/0033_customer_api_keys.sql). Plain integers: a row is a share
  // of the customer's day of one metric, which domain/limits.ts bounds to 10^18 micro-units.
  `CREATE TABLE pending_key_usage (
     start    INTEGER NOT NULL,
     key_id   TEXT NOT NULL,
     product  TEXT NOT NULL,
     metric   TEXT NOT NULL,
     units    INTEGER NOT NULL,
     events   INTEGER NOT NULL,
     PRIMARY KEY (start, key_id, product, metric)
   ) WITHOUT ROWID;`,
];
