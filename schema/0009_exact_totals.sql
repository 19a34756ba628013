-- Tenant-wide money in the margin read models can pass the 64-bit range (a tenant's revenue
-- over 90 days above $9.2 billion, in nanos), so each such column is held in two halves:
-- value = <column>_hi × 10^9 + <column>_lo (store/exact-sum.ts). Rows from before hold the whole
-- value in the low half, which the same formula reads correctly. Per-customer rows stay single
-- integers: domain/limits.ts bounds them far inside the range.
ALTER TABLE margin_product_windows RENAME COLUMN usage_revenue TO usage_revenue_lo;
ALTER TABLE margin_product_windows RENAME COLUMN fee_revenue TO fee_revenue_lo;
ALTER TABLE margin_product_windows RENAME COLUMN cost TO cost_lo;
ALTER TABLE margin_product_windows ADD COLUMN usage_revenue_hi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_product_windows ADD COLUMN fee_revenue_hi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_product_windows ADD COLUMN cost_hi INTEGER NOT NULL DEFAULT 0;

ALTER TABLE margin_daily RENAME COLUMN usage_revenue TO usage_revenue_lo;
ALTER TABLE margin_daily RENAME COLUMN fee_revenue TO fee_revenue_lo;
ALTER TABLE margin_daily RENAME COLUMN cost TO cost_lo;
ALTER TABLE margin_daily ADD COLUMN usage_revenue_hi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_daily ADD COLUMN fee_revenue_hi INTEGER NOT NULL DEFAULT 0;
ALTER TABLE margin_daily ADD COLUMN cost_hi INTEGER NOT NULL DEFAULT 0;
