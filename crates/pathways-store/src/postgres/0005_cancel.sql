-- pathways schema version 5 (PostgreSQL): cancelling a referral, and consent
-- withdrawn or narrowed.

-- An outbox row may now be `withdrawn`: the referral was cancelled before it was sent, and
-- nothing reached the partner.
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check
    CHECK (state IN ('pending', 'delivered', 'failed', 'withdrawn'));

-- One cancel per referral: who asked, why, and how telling the partner stands. A small
-- queue of its own, claimed under a lease like the outbox. `note` (the pathfinder's own
-- words) and `last_error` are SEALED; `reason` is a code from a fixed list; `requested_by`
-- is an API key id or a console user id (pseudonymous, as audit key ids are). The note is
-- removed when the case is erased; the rest is kept with the referral's statistics.
CREATE TABLE cancellations (
    referral_id  TEXT PRIMARY KEY REFERENCES referrals (id),
    reason       TEXT NOT NULL,
    note         TEXT,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    state        TEXT NOT NULL
                 CHECK (state IN ('pending', 'confirmed', 'withdrawn', 'unsupported', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   TIMESTAMPTZ NOT NULL,
    lease_owner  TEXT,
    lease_until  TIMESTAMPTZ,
    last_error   TEXT,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX cancellations_due ON cancellations (not_before) WHERE state = 'pending';

-- The consents a case had before its current one, oldest first: who recorded each, when, on
-- what basis, with whom it let details be shared. A JSON list, SEALED (it names partners the
-- client agreed to, and Duty to Refer answers). NULL until consent first changes; removed
-- when the case is erased.
ALTER TABLE cases ADD COLUMN consent_history TEXT;
