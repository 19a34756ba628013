-- Aforo's own pipeline telemetry (issue 15 item 2; docs/reports.md "pipeline"): what the ingest
-- and gate endpoints, the events-queue and dead-letter consumers and the invoicing job did, per
-- tenant, UTC hour (`hour`, epoch ms), series and outcome. Written only by additive upserts from
-- each isolate's recorder (workers/telemetry.ts, at most every ~10 s), so every column is a sum
-- (or, latency_max_us, a max) and rows from any number of isolates merge.
--
-- series: ingest (requests; outcome accepted / partial / rejected / error), ingest_rejection
-- (rejected events; outcome = the reason code), gate (outcome allow / throttle / block / error),
-- queue (events-queue messages; outcome applied / redelivered / skipped / retried), dead_letter
-- (outcome = the queue it came from), invoice_run (outcome ok / failed).
-- count: observations; errors: of those, failures on Aforo's side; items: what they carried
-- (events sent, events applied, invoices issued). Latency (queue: lag since the outbox row was
-- written; invoice_run: duration) in microseconds: latency_sum_us, latency_max_us, and b0..b22,
-- the counts per bucket of domain/pipeline-telemetry.ts LATENCY_BOUNDS_US (b0 < 0.1 ms, then
-- 1-2-5 steps, b22 >= 1,000 s). Untimed observations (a rejected event) are in no bucket.
CREATE TABLE pipeline_hourly (
  tenant_id      TEXT NOT NULL,
  hour           INTEGER NOT NULL,
  series         TEXT NOT NULL,
  outcome        TEXT NOT NULL,
  count          INTEGER NOT NULL DEFAULT 0,
  errors         INTEGER NOT NULL DEFAULT 0,
  items          INTEGER NOT NULL DEFAULT 0,
  latency_sum_us INTEGER NOT NULL DEFAULT 0,
  latency_max_us INTEGER,
  b0           INTEGER NOT NULL DEFAULT 0,
  b1           INTEGER NOT NULL DEFAULT 0,
  b2           INTEGER NOT NULL DEFAULT 0,
  b3           INTEGER NOT NULL DEFAULT 0,
  b4           INTEGER NOT NULL DEFAULT 0,
  b5           INTEGER NOT NULL DEFAULT 0,
  b6           INTEGER NOT NULL DEFAULT 0,
  b7           INTEGER NOT NULL DEFAULT 0,
  b8           INTEGER NOT NULL DEFAULT 0,
  b9           INTEGER NOT NULL DEFAULT 0,
  b10          INTEGER NOT NULL DEFAULT 0,
  b11          INTEGER NOT NULL DEFAULT 0,
  b12          INTEGER NOT NULL DEFAULT 0,
  b13          INTEGER NOT NULL DEFAULT 0,
  b14          INTEGER NOT NULL DEFAULT 0,
  b15          INTEGER NOT NULL DEFAULT 0,
  b16          INTEGER NOT NULL DEFAULT 0,
  b17          INTEGER NOT NULL DEFAULT 0,
  b18          INTEGER NOT NULL DEFAULT 0,
  b19          INTEGER NOT NULL DEFAULT 0,
  b20          INTEGER NOT NULL DEFAULT 0,
  b21          INTEGER NOT NULL DEFAULT 0,
  b22          INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour, series, outcome)
) WITHOUT ROWID;
