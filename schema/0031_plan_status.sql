-- DRAFT plans (issue 18 §2): Auto-create and the plan wizard save a plan as `draft` — priced
-- and previewed, not subscribable — and POST /api/plans/:id/publish makes it `active` (what the
-- issue calls published; `active` stays the stored and served word, as SPEC §11 fixes it).
-- published_at is when that happened: null while a draft; a plan created active (every plan so
-- far, and still the default) counts as published when it was created. A draft has no
-- subscribers, so until then its components may still be replaced (PATCH /api/plans/:id).
ALTER TABLE plans ADD COLUMN published_at INTEGER;

UPDATE plans SET published_at = created_at WHERE status <> 'draft';
