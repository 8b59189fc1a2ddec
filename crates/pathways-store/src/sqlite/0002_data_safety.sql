-- pathways schema version 2 (SQLite): one live referral per plan step, erasure and legal
-- holds, audit queries by time. The values holding personal data (cases.case_json,
-- plans.plan_json, referrals.payload, referral_history.note, outbox.last_error) are sealed
-- from now on; the store seals rows written before this version when it opens (in Rust: the
-- keys are not SQL's to know).

-- The step a referral was made for: (case, need, partner, service). At most one referral per
-- step may be live (draft, requested, accepted, in-progress, on-hold).
ALTER TABLE referrals ADD COLUMN step_need TEXT;
ALTER TABLE referrals ADD COLUMN service_id TEXT;
-- Version 1 let a step be referred many times. Those rows keep their history, but all live
-- ones after the first of a step are marked as legacy duplicates (their own rowid) so that
-- the index below can be built; new rows are never duplicates (0).
ALTER TABLE referrals ADD COLUMN legacy_duplicate INTEGER NOT NULL DEFAULT 0;
-- The step's need is the referral's first need, as the store computes it for new referrals
-- (the order of the payload's needs; referral_needs has no order, so its smallest need only
-- when the payload has none).
UPDATE referrals SET
    step_need = COALESCE(json_extract(payload, '$.needs[0].code'),
                         (SELECT MIN(need) FROM referral_needs n WHERE n.referral_id = referrals.id)),
    service_id = json_extract(payload, '$.service.id');
UPDATE referrals SET legacy_duplicate = rowid
WHERE state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')
  AND EXISTS (
    SELECT 1 FROM referrals o
    WHERE o.case_id = referrals.case_id AND o.partner_id = referrals.partner_id
      AND o.step_need IS referrals.step_need AND o.service_id IS referrals.service_id
      AND o.state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold')
      AND (o.created_at < referrals.created_at
           OR (o.created_at = referrals.created_at AND o.rowid < referrals.rowid)));
CREATE UNIQUE INDEX referrals_one_live_per_step
    ON referrals (case_id, partner_id, step_need, service_id, legacy_duplicate)
    WHERE state IN ('draft', 'requested', 'accepted', 'in-progress', 'on-hold');
CREATE INDEX referrals_by_partner ON referrals (partner_id, case_id);

-- Erasure (UK GDPR Art. 17) keeps the row, its organisation and dates for the statistics,
-- and removes the personal data; a legal hold (safeguarding) refuses erasure.
ALTER TABLE cases ADD COLUMN erased_at INTEGER;
ALTER TABLE cases ADD COLUMN erasure_reason TEXT;
ALTER TABLE cases ADD COLUMN legal_hold_reason TEXT;   -- sealed
ALTER TABLE cases ADD COLUMN legal_hold_at INTEGER;
ALTER TABLE cases ADD COLUMN legal_hold_by TEXT;

-- Access is decided by the referrals actually sent, not by who a plan names.
DROP TABLE plan_partners;

CREATE INDEX audit_log_by_time ON audit_log (at);
