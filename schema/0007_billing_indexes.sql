-- Indexes the billing read paths need on tables other migrations own (chosen with EXPLAIN
-- QUERY PLAN against the 10,000-customer data set of scripts/generate-scale-data.mjs).

-- "Has anything been rolled up for this tenant since the margin read models were built?"
-- (workers/billing/margin.ts buildState, on every GET /api/margin/*): without it, MAX(applied_at)
-- for one tenant walks applied_batches_by_time back through every tenant's batches.
CREATE INDEX applied_batches_by_tenant ON applied_batches (tenant_id, applied_at);
