-- pathways schema version 3 (PostgreSQL): the web console's users, sessions and case list.

-- The case list. `reference` is the referring organisation's own case number (e.g.
-- CAKC-000123), trimmed, and `need_count` the number of the case's needs, both copied out of
-- the sealed case document so that the list never opens one. `reference` is kept PLAIN, not
-- sealed, by decision: it is a pseudonymous identifier, meaningless outside the referrer's
-- own records (as our case ids are outside ours), it names no one, and the console must find
-- a case by it, which a sealed value (a random nonce each time) cannot be searched for. It
-- is cleared when the case is erased. Both are NULL in rows from before this version until
-- the store fills them in when it opens (in Rust: the document is sealed, and the keys are
-- not SQL's to know).
ALTER TABLE cases
    ADD COLUMN reference TEXT,
    ADD COLUMN need_count INTEGER;
-- The list's order, newest first; the id breaks ties, so that a page ends where the next
-- begins.
CREATE INDEX cases_by_organisation_recent ON cases (organisation, created_at DESC, id DESC);
CREATE INDEX cases_by_organisation_reference ON cases (organisation, lower(reference));

-- A plan's version, plain (a number), so the list need not open plans: 0 for a plan kept
-- before plans had versions; NULL for rows from before this version until the store fills
-- it in when it opens.
ALTER TABLE plans ADD COLUMN version INTEGER;

-- Console users. Never deleted (disabled instead), so the audit log's `usr_…` key ids
-- always name someone.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,   -- usr_ + 32 hex digits
    organisation        TEXT NOT NULL,
    role                TEXT NOT NULL,
    email_sealed        TEXT NOT NULL,      -- sealed: personal data
    -- Lower-case hex SHA-256 of 'pathways-user-email' NUL and the address trimmed and
    -- lower-cased: finds the sealed address, and keeps addresses unique whatever their case.
    email_lookup        TEXT NOT NULL,
    display_name        TEXT,               -- sealed: personal data
    password_hash       TEXT,               -- the console's hash; never the password
    password_changed_at TIMESTAMPTZ,
    status              TEXT NOT NULL CHECK (status IN ('invited', 'active', 'disabled')),
    created_at          TIMESTAMPTZ NOT NULL,
    failed_sign_ins     INTEGER NOT NULL DEFAULT 0,
    locked_until        TIMESTAMPTZ,
    oidc_subject        TEXT                -- the identity provider's issuer and subject
);
CREATE UNIQUE INDEX users_by_email ON users (email_lookup);
CREATE UNIQUE INDEX users_by_oidc_subject ON users (oidc_subject) WHERE oidc_subject IS NOT NULL;
CREATE INDEX users_by_organisation ON users (organisation, created_at);

-- One-time links that let a user set a password: only the hash of the link's secret.
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX setup_tokens_by_user ON setup_tokens (user_id);

-- Console sessions: only the hash of the cookie's secret.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL   -- the absolute timeout
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);
