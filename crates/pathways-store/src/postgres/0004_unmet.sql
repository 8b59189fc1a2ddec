-- pathways schema version 4 (PostgreSQL): unmet needs by need and area, for the coordinator's
-- dashboard. Plans are sealed, so what the dashboard counts is copied out of them into plain
-- columns when they are stored.

-- The council area whose services the client can use: the ONS code of a local authority
-- (e.g. E09000020), copied out of the sealed case document (`client.local_authority`). Kept
-- PLAIN by decision: it names a council area of many thousands of people, not a person, so
-- it is not personal data, and the statistics count by it. The store keeps a value of that
-- shape only (anything else as '', unknown), so no free text can reach this column. It is
-- KEPT when the case is erased, as the referral statistics are. NULL in rows from before
-- this version until the store fills it in when it opens (in Rust: the document is sealed,
-- and the keys are not SQL's to know); a case erased before this version keeps NULL (its
-- document is gone) and counts as area ''.
ALTER TABLE cases ADD COLUMN local_authority TEXT;

-- The unmet needs of each case's NEWEST plan: one row per need code the plan marks `unmet`
-- (no service can meet it now), stamped with that plan's time, and replaced in the same
-- transaction whenever a newer plan of the case is stored. Plain: a need code from the fixed
-- vocabulary (as referral_needs keeps them), the case's pseudonymous id and a time, nothing
-- else of the plan. KEPT when the case is erased (statistics). For plans from before this
-- version, the store fills it in from each case's newest plan when it opens, together with
-- the case's local_authority.
CREATE TABLE plan_unmet (
    case_id    TEXT NOT NULL REFERENCES cases (id),
    need       TEXT NOT NULL,
    planned_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, need)
);
-- The dashboard's query: the newest plans made in a period, read from the index alone; each
-- case's organisation and area are then found by its primary key.
CREATE INDEX plan_unmet_by_time ON plan_unmet (planned_at, case_id, need);
