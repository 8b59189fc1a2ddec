//! What an inbox partner's staff may do to a referral, from the state it is in: the FHIR Task
//! states a receiving organisation moves a referral through.
//!
//! - `requested` → `accepted` (we will help) or `rejected` (we cannot, with a reason);
//! - `accepted` → `in-progress`, `on-hold` (with a reason), `completed` or `failed` (with a
//!   reason);
//! - `in-progress` → `on-hold`, `completed` or `failed`;
//! - `on-hold` → `in-progress`, `completed` or `failed`.
//!
//! Nothing moves a referral out of a final state, and staff never cancel one (the referrer
//! withdraws it) nor record it in error.

use pathways_core::{StatusReason, TaskState};

/// The states staff may move a referral in `from` to, in the order a page offers them.
pub fn allowed(from: TaskState) -> &'static [TaskState] {
    use TaskState::*;
    match from {
        Requested => &[Accepted, Rejected],
        Accepted => &[InProgress, OnHold, Completed, Failed],
        InProgress => &[OnHold, Completed, Failed],
        OnHold => &[InProgress, Completed, Failed],
        _ => &[],
    }
}

/// Whether staff may move a referral from `from` to `to`.
pub fn may(from: TaskState, to: TaskState) -> bool {
    allowed(from).contains(&to)
}

/// Whether moving to `to` needs a reason (FHIR `statusReason`).
pub fn needs_reason(to: TaskState) -> bool {
    to.requires_reason()
}

/// Every reason staff may give, in the order a form offers them, with its words.
pub const REASONS: [(StatusReason, &str, &str); 7] = [
    (StatusReason::NoCapacity, "no_capacity", "We have no capacity"),
    (StatusReason::NotEligible, "not_eligible", "The client is not eligible"),
    (StatusReason::OutOfArea, "out_of_area", "The client lives outside our area"),
    (StatusReason::CouldNotContact, "could_not_contact", "We could not contact the client"),
    (
        StatusReason::MissingInformation,
        "missing_information",
        "The referral lacks information we need",
    ),
    (StatusReason::NoLongerInterested, "no_longer_interested", "The client no longer wants help"),
    (StatusReason::Other, "other", "Another reason (say in the note)"),
];

/// The reason spelt `code`.
pub fn reason(code: &str) -> Option<StatusReason> {
    REASONS.iter().find(|(_, c, _)| *c == code).map(|(r, _, _)| *r)
}

/// The reason's code.
pub fn reason_code(reason: StatusReason) -> &'static str {
    REASONS.iter().find(|(r, _, _)| *r == reason).map_or("other", |(_, c, _)| c)
}

/// The longest note staff may add, in characters.
pub const NOTE_MAX: usize = 500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partner_answers_then_moves_a_referral_on_but_never_out_of_a_final_state() {
        assert!(may(TaskState::Requested, TaskState::Accepted));
        assert!(may(TaskState::Requested, TaskState::Rejected));
        assert!(!may(TaskState::Requested, TaskState::Completed), "accept it first");
        assert!(may(TaskState::Accepted, TaskState::Completed));
        assert!(may(TaskState::OnHold, TaskState::InProgress));
        for done in [TaskState::Completed, TaskState::Rejected, TaskState::Cancelled] {
            assert!(allowed(done).is_empty(), "{done:?}");
        }
        for from in [TaskState::Requested, TaskState::Accepted, TaskState::InProgress] {
            assert!(!may(from, TaskState::Cancelled) && !may(from, TaskState::EnteredInError));
        }
        assert!(needs_reason(TaskState::Rejected) && !needs_reason(TaskState::Accepted));
    }

    #[test]
    fn every_reason_reads_back_from_its_code_which_is_its_wire_spelling() {
        for (reason, code, _) in REASONS {
            assert_eq!(super::reason(code), Some(reason));
            assert_eq!(reason_code(reason), code);
            assert_eq!(serde_json::to_value(reason).unwrap(), code);
        }
    }
}
