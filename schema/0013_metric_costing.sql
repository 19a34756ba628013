-- Honest costing (issue 12, item 5): an event with no cost information is `uncosted` unless its
-- metric is declared to carry no cost of its own (seats, a call whose tokens travel in another
-- event). Existing metrics carry cost, so their cost-less events are flagged from now on.
ALTER TABLE metrics ADD COLUMN carries_cost INTEGER NOT NULL DEFAULT 1 CHECK (carries_cost IN (0, 1));
