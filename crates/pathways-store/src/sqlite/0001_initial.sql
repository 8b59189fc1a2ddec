-- pathways schema version 1 (SQLite). Times are INTEGER microseconds since 1970 UTC; enums
-- are their wire spellings; documents are JSON text.

CREATE TABLE cases (
    id           TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    case_json    TEXT NOT NULL,   -- personal data: never logged
    created_at   INTEGER NOT NULL
);
CREATE INDEX cases_by_organisation ON cases (organisation);

CREATE TABLE plans (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids never reused, so the
                                                   -- highest id is the newest plan
    case_id    TEXT NOT NULL REFERENCES cases (id),
    plan_json  TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX plans_by_case ON plans (case_id, id);

-- Which partners a plan lets see its case (for access checks without parsing plans).
CREATE TABLE plan_partners (
    plan_id    INTEGER NOT NULL REFERENCES plans (id),
    partner_id TEXT NOT NULL,
    PRIMARY KEY (plan_id, partner_id)
);
CREATE INDEX plan_partners_by_partner ON plan_partners (partner_id);

-- Append-only. No foreign keys: a request about a case that does not exist is audited too.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    key_id       TEXT NOT NULL,
    organisation TEXT NOT NULL,
    action       TEXT NOT NULL,
    case_id      TEXT,
    referral_id  TEXT,
    outcome      TEXT NOT NULL
);
CREATE INDEX audit_log_by_case ON audit_log (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX audit_log_by_referral ON audit_log (referral_id) WHERE referral_id IS NOT NULL;
CREATE INDEX audit_log_by_organisation ON audit_log (organisation, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed');
END;

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    completed_at INTEGER,          -- NULL while in flight
    status       INTEGER,
    body         BLOB,
    PRIMARY KEY (scope, key)
);

CREATE TABLE referrals (
    id                TEXT PRIMARY KEY,
    case_id           TEXT NOT NULL REFERENCES cases (id),
    partner_id        TEXT NOT NULL,
    idempotency_key   TEXT NOT NULL UNIQUE,
    payload           TEXT NOT NULL,   -- the Referral as sent; personal data: never logged
    state             TEXT NOT NULL,
    reason            TEXT,
    state_changed_at  INTEGER NOT NULL,
    partner_reference TEXT,
    created_at        INTEGER NOT NULL,
    sent_at           INTEGER
);
CREATE INDEX referrals_by_case ON referrals (case_id);
CREATE INDEX referrals_by_state ON referrals (state, state_changed_at);
CREATE INDEX referrals_by_sent ON referrals (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE referral_needs (
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    need        TEXT NOT NULL,
    PRIMARY KEY (referral_id, need)
);

CREATE TABLE referral_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id TEXT NOT NULL REFERENCES referrals (id),
    state       TEXT NOT NULL,
    reason      TEXT,
    note        TEXT,
    source      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX referral_history_by_referral ON referral_history (referral_id, seq);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    referral_id TEXT NOT NULL UNIQUE REFERENCES referrals (id),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (not_before, id) WHERE state = 'pending';

CREATE TABLE webhook_receipts (
    partner_id  TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (partner_id, webhook_id)
);
