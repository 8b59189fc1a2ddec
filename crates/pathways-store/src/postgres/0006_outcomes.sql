-- pathways schema version 6 (PostgreSQL): outcomes that matter to the client.

-- One row per follow-up with a client: their ONS4 wellbeing answers now (if they agreed to
-- answer) and their own account of each need. The record is SEALED (it is the client's own
-- account of their wellbeing); only the case's pseudonymous id and the time are plain, for
-- the reports to find a period's follow-ups. Deleted when the case is erased: the outcome
-- reports then no longer count it.
CREATE TABLE follow_ups (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    recorded_at TIMESTAMPTZ NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX follow_ups_by_time ON follow_ups (recorded_at, case_id);
CREATE INDEX follow_ups_by_case ON follow_ups (case_id, recorded_at);
