// The customer actor's SQLite schema, in one place. Each entry is one schema version, applied
// once, in order, inside a transaction (CustomerActor.ensureSchema). Changes are additive:
// append a new entry, never edit an old one.
export const ACTOR_MIGRATIONS: readonly string[] = [
  // v1: raw events, dedupe keys, period-to-date usage, buckets, outbox, timers.
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
   CREATE INDEX events_by_id ON events (id);

   -- Dedupe: an id seen within the last 35 days of first receipt is a duplicate.
   CREATE TABLE seen (id TEXT PRIMARY KEY, received_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX seen_by_received ON seen (received_at);

   CREATE TABLE usage_ptd (
     subscription_id  TEXT NOT NULL,
     period_start     INTEGER NOT NULL,
     metric           TEXT NOT NULL,
     quantity         TEXT NOT NULL,         -- micro-units, exact decimal text
     PRIMARY KEY (subscription_id, period_start, metric)
   ) WITHOUT ROWID;

   -- Hourly ('h') and daily ('d') totals per product and metric.
   CREATE TABLE buckets (
     granularity  TEXT NOT NULL,
     start        INTEGER NOT NULL,
     product      TEXT NOT NULL,
     metric       TEXT NOT NULL,
     units        INTEGER NOT NULL,
     revenue      INTEGER NOT NULL,
     cost         INTEGER NOT NULL,
     events       INTEGER NOT NULL,
     PRIMARY KEY (granularity, start, product, metric)
   ) WITHOUT ROWID;

   -- Durable outbox to the events queue; rows leave only after the queue has them.
   -- AUTOINCREMENT: a seq is never reused, so batch ids built from it stay unique.
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, created_at INTEGER NOT NULL);

   -- One alarm multiplexes these timers (name → due time).
   CREATE TABLE timers (name TEXT PRIMARY KEY, due INTEGER NOT NULL) WITHOUT ROWID;

   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
];
