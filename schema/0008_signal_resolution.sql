-- Operators close signals they have dealt with (POST /api/signals/:id/resolve) and may reopen
-- them. When and by whom is kept on the signal, so the at-risk KPI can be recomputed for any past
-- date: a customer is at risk at t while a signal is open at t (opened ≤ t < resolved).
ALTER TABLE signals ADD COLUMN resolved_at INTEGER;
ALTER TABLE signals ADD COLUMN resolved_by TEXT;
ALTER TABLE signals ADD COLUMN resolution_note TEXT;
