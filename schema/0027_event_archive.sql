-- The event archive in R2 (issue 16 item 1; docs/exports.md "Event archive"). The Parquet parts
-- and each partition's _manifest.json are the archive; D1 keeps only what makes it cheap to run
-- and to list.

-- A tenant's compaction is leased while it runs, so the tenant clock's alarm and a cron poke (or
-- a manual run) never compact the same partitions at once: part files are rewritten in place.
CREATE TABLE event_archive_compactions (
  tenant_id     TEXT PRIMARY KEY,
  leased_until  INTEGER NOT NULL
) WITHOUT ROWID;

-- Each compacted partition (tenant, UTC date of the events) as its manifest last stood: what the
-- dashboard and the exports API list without reading R2. The manifest stays the authority.
CREATE TABLE event_archive_partitions (
  tenant_id       TEXT NOT NULL,
  date            TEXT NOT NULL,  -- YYYY-MM-DD
  files           INTEGER NOT NULL,
  rows            INTEGER NOT NULL,
  bytes           INTEGER NOT NULL,
  min_event_time  INTEGER NOT NULL,
  max_event_time  INTEGER NOT NULL,
  compacted_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, date)
) WITHOUT ROWID;
