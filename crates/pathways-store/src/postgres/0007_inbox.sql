-- pathways schema version 7 (PostgreSQL): partners without an API, whose staff answer
-- referrals in the console (partner kind `inbox`).

-- What each inbox partner's staff last said of their capacity: places free, a waiting list,
-- or closed; with a count and a note for pathfinders. Describes the service, never a
-- client: kept plain. One row per partner, replaced when staff change it. (Their answers to
-- referrals are status changes in referral_history, with source `partner_inbox`.)
CREATE TABLE partner_capacity (
    partner_id TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('places', 'waitlist', 'closed')),
    count      INTEGER CHECK (count IS NULL OR count >= 0),
    note       TEXT,
    set_by     TEXT NOT NULL,
    set_at     TIMESTAMPTZ NOT NULL
);
