-- pathways schema version 8 (PostgreSQL): evidence for commissioning (blocked needs and the reason
-- for each need left open) and the follow-up schedule each organisation's coordinators set.

-- plan_unmet gains what was left open and why: `status` is `unmet` (no service can meet the
-- need now) or `blocked` (a service would, but the case lacks something it requires), and
-- `reason` a code: for `unmet` why no offer was viable (`no_service_in_area`, `no_offer`,
-- `not_eligible`, `no_capacity`, `no_answer`), for `blocked` what is missing (`consent_to_refer`,
-- `chosen_authority`, `client_field`...). One row per case, need, status and reason; a need
-- with two reasons has two rows. Still plain codes only, kept when the case is erased. Rows
-- from before this version become `unmet` with reason '' (not recorded).
ALTER TABLE plan_unmet ADD COLUMN status TEXT NOT NULL DEFAULT 'unmet'
    CHECK (status IN ('unmet', 'blocked'));
ALTER TABLE plan_unmet ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE plan_unmet ALTER COLUMN status DROP DEFAULT;
ALTER TABLE plan_unmet ALTER COLUMN reason DROP DEFAULT;
ALTER TABLE plan_unmet DROP CONSTRAINT plan_unmet_pkey;
ALTER TABLE plan_unmet ADD PRIMARY KEY (case_id, need, status, reason);

-- Whether the store has read this case's newest plan for blocked needs and reasons: FALSE for
-- the cases stored before this version (not erased), which the store fills in from their
-- sealed plans when it next opens; TRUE for every case stored since.
ALTER TABLE cases ADD COLUMN open_needs_kept BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE cases SET open_needs_kept = FALSE WHERE erased_at IS NULL;

-- When an organisation's clients are due a follow-up: `after_days` days after the last of a
-- case's referrals ended (0: the organisation schedules none). Set by its coordinators; an
-- organisation without a row uses the default (56 days, 8 weeks). No personal data.
CREATE TABLE follow_up_schedules (
    organisation TEXT PRIMARY KEY,
    after_days   INTEGER NOT NULL CHECK (after_days BETWEEN 0 AND 366),
    set_by       TEXT NOT NULL,
    set_at       TIMESTAMPTZ NOT NULL
);
