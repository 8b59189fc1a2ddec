-- pathways schema version 2 (PostgreSQL): one live referral per plan step, erasure and legal
-- holds, audit queries by time. The values holding personal data (cases.case_json,
-- plans.plan_json, referrals.payload, referral_history.note, outbox.last_error,
-- cases.legal_hold_reason) are sealed from now on: sealed values are text, so the JSONB
-- documents become TEXT here, and the store seals the rows written before this version when
-- it connects (in Rust: the keys are not SQL's to know).

-- The step a referral was made for: (case, need, partner, service). At most one referral per
-- step may be live (draft, requested, accepted, in-progress, on-hold).
ALTER TABLE referrals
    ADD COLUMN step_need TEXT,
    ADD COLUMN service_id TEXT,
    -- Version 1 let a step be referred many times. Those rows keep their history, but every
    -- live one after the first of its step is numbered here (1, 2, …) so that the index
    -- below can be built; new rows are never duplicates (0).
    ADD COLUMN legacy_duplicate BIGINT NOT NULL DEFAULT 0;

-- Read from the version-1 JSON while it is still JSONB. The step's need is the referral's
-- first need, as the store computes it for new referrals (the order of the payload's needs;
-- referral_needs has no order, so its smallest need only when the payload has none).
UPDATE referrals r SET
    step_need = COALESCE(r.payload #>> '{needs,0,code}',
                         (SELECT MIN(n.need) FROM referral_needs n WHERE n.referral_id = r.id)),
    service_id = r.payload #>> '{service,id}';

UPDATE referrals r SET legacy_duplicate = d.rank - 1
FROM (SELECT id, row_number() OVER (
                 PARTITION BY case_id, partner_id, COALESCE(step_need, ''),
                              COALESCE(service_id, '')
                 ORDER BY created_at, id) AS rank
      FROM referrals
      WHERE state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')) d
WHERE r.id = d.id AND d.rank > 1;

-- Sealed values are text (`pws1:<key id>:<base64>`), and so is the `erased` marker.
ALTER TABLE cases ALTER COLUMN case_json TYPE TEXT USING case_json::text;
ALTER TABLE plans ALTER COLUMN plan_json TYPE TEXT USING plan_json::text;
ALTER TABLE referrals ALTER COLUMN payload TYPE TEXT USING payload::text;

-- The guard that holds when two daemons create referrals for one step at the same moment:
-- the second insert waits for the first to commit, then fails on this index. COALESCE so
-- that a step without a need (NULL) is guarded too: unique indexes treat NULLs as distinct.
CREATE UNIQUE INDEX referrals_one_live_per_step
    ON referrals (case_id, partner_id, COALESCE(step_need, ''), COALESCE(service_id, ''),
                  legacy_duplicate)
    WHERE state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold');
CREATE INDEX referrals_by_partner ON referrals (partner_id, case_id);

-- Erasure (UK GDPR Art. 17) keeps the row, its organisation and dates for the statistics,
-- and removes the personal data; a legal hold (safeguarding) refuses erasure.
ALTER TABLE cases
    ADD COLUMN erased_at TIMESTAMPTZ,
    ADD COLUMN erasure_reason TEXT,
    ADD COLUMN legal_hold_reason TEXT,   -- sealed
    ADD COLUMN legal_hold_at TIMESTAMPTZ,
    ADD COLUMN legal_hold_by TEXT;

-- Access is decided by the referrals actually sent, not by who a plan names.
DROP TABLE plan_partners;

CREATE INDEX audit_log_by_time ON audit_log (at);
