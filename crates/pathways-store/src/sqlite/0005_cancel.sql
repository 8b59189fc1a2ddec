-- pathways schema version 5 (SQLite): cancelling a referral, and consent
-- withdrawn or narrowed.

-- An outbox row may now be `withdrawn`: the referral was cancelled before it was sent, and
-- nothing reached the partner. SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt with its rows, ids and index (nothing refers to it).
CREATE TABLE outbox_v5 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id TEXT NOT NULL UNIQUE REFERENCES referrals (id),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'withdrawn')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL
);
INSERT INTO outbox_v5 (id, referral_id, state, attempts, not_before, lease_owner, lease_until,
                       last_error, updated_at)
    SELECT id, referral_id, state, attempts, not_before, lease_owner, lease_until, last_error,
           updated_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v5 RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (not_before, id) WHERE state = 'pending';

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
    requested_at INTEGER NOT NULL,
    state        TEXT NOT NULL
                 CHECK (state IN ('pending', 'confirmed', 'withdrawn', 'unsupported', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   INTEGER NOT NULL,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX cancellations_due ON cancellations (not_before) WHERE state = 'pending';

-- The consents a case had before its current one, oldest first: who recorded each, when, on
-- what basis, with whom it let details be shared. A JSON list, SEALED (it names partners the
-- client agreed to, and Duty to Refer answers). NULL until consent first changes; removed
-- when the case is erased.
ALTER TABLE cases ADD COLUMN consent_history TEXT;
