-- The Documentation Hub's explanations (issue 18 §3): one per operation of /openapi.json, per
-- version of the document (spec_hash, domain/docs/openapi.ts `specHash`) and per source
-- ('schema': derived from the document alone, domain/docs/explain.ts; 'ai': worded by the AI
-- platform). A deploy that changes any route or schema changes the hash, so its explanations are
-- computed afresh instead of served stale. An explanation is made from the public API document
-- only — no tenant's data goes in or comes out — so one row serves every tenant.
CREATE TABLE docs_explanations (
  spec_hash     TEXT NOT NULL,
  operation_id  TEXT NOT NULL,
  source        TEXT NOT NULL CHECK (source IN ('schema', 'ai')),
  body          TEXT NOT NULL,
  generated_at  INTEGER NOT NULL,
  PRIMARY KEY (spec_hash, operation_id, source)
) WITHOUT ROWID;

-- Pruning the explanations of documents no longer served reads by age.
CREATE INDEX docs_explanations_age ON docs_explanations (generated_at);
