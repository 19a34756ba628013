-- Payments on invoices (issue 14): Aforo does not move money, the tenant's payment provider does;
-- each attempt it reports (POST /api/invoices/:id/payments, or a Stripe webhook) is one row here,
-- keyed by the tenant and the caller's `reference`, so the same report sent twice is one payment.
--
-- status: succeeded (money in: amount_paid grows, the invoice is paid once nothing is due),
-- failed (an attempt that moved no money: reason and decline_code say why), refunded (money
-- back on a paid invoice: amount_refunded grows; the invoice stays paid).
-- amount: what the attempt was for, exact decimal text in the invoice's currency ("12.50").
-- requested_amount: the amount as the caller sent it (NULL when it was left to default to the
-- amount due), so a replay is compared with what was asked, not with what it came to.
-- provider: `api` (an operator or their system) or `stripe`; provider_id the provider's own id
-- (a Stripe invoice or charge id).
CREATE TABLE payments (
  tenant_id        TEXT NOT NULL,
  reference        TEXT NOT NULL,
  id               TEXT NOT NULL,
  invoice_id       TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('succeeded', 'failed', 'refunded')),
  amount           TEXT NOT NULL,
  requested_amount TEXT,
  currency         TEXT NOT NULL,
  decline_code     TEXT,
  reason           TEXT,
  at               INTEGER NOT NULL,
  provider         TEXT NOT NULL,
  provider_id      TEXT,
  created_by       TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, reference)
) WITHOUT ROWID;
CREATE INDEX payments_by_invoice ON payments (tenant_id, invoice_id, at);
CREATE INDEX payments_by_provider_id ON payments (tenant_id, provider, provider_id);

-- The invoice's running balance, in nanos like its total, so one guarded UPDATE can refuse a
-- payment that would take it past its total (or a refund past what was paid) inside the same
-- batch that records it. amount_due = total - amount_paid while open.
ALTER TABLE invoices ADD COLUMN amount_paid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN amount_refunded INTEGER NOT NULL DEFAULT 0;
-- Invoices paid before this migration were paid in full.
UPDATE invoices SET amount_paid = total WHERE status = 'paid';

-- A tenant's payment providers: the Stripe webhook signing secret (`whsec_…`), sealed under
-- AFORO_SECRETS_KEY like channel secrets (workers/deliveries/secrets.ts), never returned.
CREATE TABLE payment_providers (
  tenant_id      TEXT NOT NULL,
  provider       TEXT NOT NULL,
  signing_secret TEXT NOT NULL,
  updated_at     INTEGER NOT NULL,
  updated_by     TEXT NOT NULL,
  PRIMARY KEY (tenant_id, provider)
) WITHOUT ROWID;
