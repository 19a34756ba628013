-- Who moved an invoice (issue 13): every operator action names the person on the invoice itself,
-- not only in the audit log. Each column holds the actor's ref as the audit log writes it
-- (`member:<email>` or `token:<key id>`), or `system` when the invoicing run finalised the
-- invoice (no person did). NULL: nobody did (a zero invoice is paid by owing nothing), or it
-- happened before this migration.
ALTER TABLE invoices ADD COLUMN paid_by TEXT;
ALTER TABLE invoices ADD COLUMN voided_by TEXT;
ALTER TABLE invoices ADD COLUMN finalized_by TEXT;
