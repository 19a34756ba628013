-- Adaptive Retry (issue 14 item 2; README "Payments"): a failed payment with a soft decline is
-- retried on the schedule domain/dunning.ts plans (up to 8 retries in 28 days, business days,
-- paydays, the customer's usual hour, in the tenant's zone). Aforo moves no money: each retry
-- due is a signed `payment.retry_due` webhook to the tenant's webhook channels (their system
-- asks the provider to charge again) and a dunning e-mail to the customer's address.
--
-- One row per planned attempt. `id` is `rty_<payment id>_<attempt>`: the failure that planned
-- it and its number in that plan, so a plan written twice is one plan and the deliveries a
-- retry sends are derived from it (sent once per channel).
-- status: scheduled → sent (the periodic job sent its webhook and e-mail) | cancelled (a
-- success, the invoice paid or voided, a later failure re-planned, a hard decline ended it;
-- `cancel_reason` says which).
-- decline: the plan's decline kind (soft; a hard decline plans no retry).
CREATE TABLE payment_retries (
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  invoice_id    TEXT NOT NULL,
  customer_id   TEXT NOT NULL,
  payment_id    TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  planned       INTEGER NOT NULL,
  due_at        INTEGER NOT NULL,
  status        TEXT NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'sent', 'cancelled')),
  decline       TEXT NOT NULL CHECK (decline IN ('soft', 'hard')),
  decline_code  TEXT,
  cancel_reason TEXT,
  created_at    INTEGER NOT NULL,
  sent_at       INTEGER,
  updated_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX payment_retries_by_invoice ON payment_retries (tenant_id, invoice_id, due_at);
-- What the periodic job looks for: the scheduled ones that have fallen due.
CREATE INDEX payment_retries_due ON payment_retries (tenant_id, due_at)
  WHERE status = 'scheduled';

-- The retries' messages go through the same delivery log as alerts (signing, retries with
-- backoff, GET /api/deliveries): two more kinds of delivery, whose signal_id is the retry's id
-- (payment_retry) or the hard-declined payment's id (payment_method: "update your payment
-- method"). SQLite cannot change a CHECK, so the table is rebuilt as 0011 did for actions.
CREATE TABLE deliveries_0017 (
  tenant_id        TEXT NOT NULL,
  id               TEXT NOT NULL,
  signal_id        TEXT NOT NULL,
  channel_id       TEXT NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'delivered', 'dead', 'canceled')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL,
  leased_until     INTEGER,
  last_error       TEXT,
  last_status      INTEGER,
  delivered_at     INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  kind             TEXT NOT NULL DEFAULT 'signal'
    CHECK (kind IN ('signal', 'digest', 'payment_retry', 'payment_method')),
  digest_id        TEXT,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, signal_id, channel_id)
) WITHOUT ROWID;
INSERT INTO deliveries_0017 (tenant_id, id, signal_id, channel_id, status, attempts,
  next_attempt_at, leased_until, last_error, last_status, delivered_at, created_at, updated_at,
  kind, digest_id)
SELECT tenant_id, id, signal_id, channel_id, status, attempts, next_attempt_at, leased_until,
  last_error, last_status, delivered_at, created_at, updated_at, kind, digest_id
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_0017 RENAME TO deliveries;
CREATE INDEX deliveries_by_time ON deliveries (tenant_id, created_at DESC, id);
CREATE INDEX deliveries_by_status ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_by_digest ON deliveries (tenant_id, digest_id);
CREATE INDEX deliveries_by_channel ON deliveries (tenant_id, channel_id, created_at);
CREATE INDEX deliveries_open_digests ON deliveries (tenant_id, channel_id, created_at)
  WHERE kind = 'digest' AND status = 'pending' AND attempts = 0;
