//! What a referral event says: the FHIR Task state a referral is in, why, and the JSON body
//! posted for it; and the states a referral passed through between two looks.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::clock::{RejectReason, Stage};

/// FHIR Task states an event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TaskState {
    Requested,
    Accepted,
    Rejected,
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl TaskState {
    /// The FHIR code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            TaskState::Requested => "requested",
            TaskState::Accepted => "accepted",
            TaskState::Rejected => "rejected",
            TaskState::InProgress => "in-progress",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Position on the way a referral that goes well takes, or `None` for an ending off it.
    fn on_the_way(self) -> Option<usize> {
        match self {
            TaskState::Requested => Some(0),
            TaskState::Accepted => Some(1),
            TaskState::InProgress => Some(2),
            TaskState::Completed => Some(3),
            TaskState::Rejected | TaskState::Failed | TaskState::Cancelled => None,
        }
    }
}

/// The way a referral that goes well takes.
const THE_WAY: [TaskState; 4] =
    [TaskState::Requested, TaskState::Accepted, TaskState::InProgress, TaskState::Completed];

/// Why a referral was turned down or ended, in the events' vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventReason {
    NoCapacity,
    NotEligible,
    OutOfArea,
    CouldNotContact,
    MissingInformation,
    NoLongerInterested,
    Other,
}

impl EventReason {
    /// The code sent.
    fn code(self) -> &'static str {
        match self {
            EventReason::NoCapacity => "no_capacity",
            EventReason::NotEligible => "not_eligible",
            EventReason::OutOfArea => "out_of_area",
            EventReason::CouldNotContact => "could_not_contact",
            EventReason::MissingInformation => "missing_information",
            EventReason::NoLongerInterested => "no_longer_interested",
            EventReason::Other => "other",
        }
    }
}

impl From<RejectReason> for EventReason {
    fn from(reason: RejectReason) -> Self {
        match reason {
            RejectReason::NoCapacity => EventReason::NoCapacity,
            RejectReason::NotEligible => EventReason::NotEligible,
            RejectReason::CouldNotContact => EventReason::CouldNotContact,
        }
    }
}

/// Where one referral stands now, as a simulator reports it to its notifier.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    /// The id the simulator's receipt gave the referral.
    pub reference: String,
    pub state: TaskState,
    pub reason: Option<EventReason>,
    /// When the referral arrived.
    pub received_at: DateTime<Utc>,
    /// When it reached `state`.
    pub changed_at: DateTime<Utc>,
    /// ONS code of the area whose partner holds it, when the simulator plays several.
    pub area: Option<&'static str>,
}

impl Progress {
    /// A referral where the clock's `stage` puts it, each step `step_ms` after the last.
    pub(crate) fn on_clock(
        reference: &str,
        stage: Stage,
        received_at: DateTime<Utc>,
        step_ms: u64,
    ) -> Self {
        let (state, reason, steps) = match stage {
            Stage::Received => (TaskState::Requested, None, 0),
            Stage::Accepted => (TaskState::Accepted, None, 1),
            Stage::InProgress => (TaskState::InProgress, None, 2),
            Stage::Completed => (TaskState::Completed, None, 3),
            Stage::Rejected(why) => (TaskState::Rejected, Some(why.into()), 1),
        };
        Self {
            reference: reference.to_string(),
            state,
            reason,
            received_at,
            changed_at: after_steps(received_at, steps, step_ms),
            area: None,
        }
    }

    /// The same, held by the partner of `area` (an ONS code).
    pub(crate) fn in_area(self, area: &'static str) -> Self {
        Self { area: Some(area), ..self }
    }

    /// When the referral reached `state`: the state it is in now when it changed, a state
    /// passed on the way a step of the clock per state.
    fn reached(&self, state: TaskState, step_ms: u64) -> DateTime<Utc> {
        match state.on_the_way() {
            Some(steps) if state != self.state => after_steps(self.received_at, steps, step_ms),
            _ => self.changed_at,
        }
    }

    /// The states passed through since `last` was notified (none when nothing changed), each
    /// with when it was reached: every step of the way is told, even if it was missed.
    pub(crate) fn since(
        &self,
        last: Option<TaskState>,
        step_ms: u64,
    ) -> Vec<(TaskState, DateTime<Utc>)> {
        if last == Some(self.state) {
            return Vec::new();
        }
        let from = match last {
            None => 0,
            Some(last) => match last.on_the_way() {
                Some(at) => at + 1,
                // Once it has ended off the way, only a hand-set change is news.
                None => THE_WAY.len(),
            },
        };
        let to = self.state.on_the_way();
        let states: Vec<TaskState> = match to {
            Some(to) if to >= from => THE_WAY[from..=to].to_vec(),
            // Turned down after it was received, before anyone was told it was: it was
            // requested first. Turned down on arrival, it never was.
            None if last.is_none() && self.changed_at > self.received_at => {
                vec![TaskState::Requested, self.state]
            }
            // An ending off the way (or a hand-set step back) is the only news.
            _ => vec![self.state],
        };
        states.into_iter().map(|state| (state, self.reached(state, step_ms))).collect()
    }
}

/// `steps` clock steps of `step_ms` after `from`.
fn after_steps(from: DateTime<Utc>, steps: usize, step_ms: u64) -> DateTime<Utc> {
    let ms = step_ms.saturating_mul(steps as u64);
    from.checked_add_signed(chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX)))
        .unwrap_or(from)
}

/// The `webhook-id` of the event saying `reference` reached `state`.
pub(crate) fn event_id(reference: &str, state: TaskState) -> String {
    format!("evt_{reference}_{}", state.code())
}

/// The JSON body of the event saying `reference` reached `state` at `at`.
pub(crate) fn event_body(
    reference: &str,
    state: TaskState,
    reason: Option<EventReason>,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "type": "referral.status_changed",
        "data": {
            "partner_reference": reference,
            "state": state.code(),
            "reason": reason.map(EventReason::code),
            "note": null,
            "occurred_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(stage: Stage) -> Progress {
        let at = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().to_utc();
        Progress::on_clock("R-1", stage, at, 100)
    }

    #[test]
    fn missed_steps_are_all_told_in_order_with_their_times() {
        let done = progress(Stage::Completed);
        let told = done.since(Some(TaskState::Requested), 100);
        let states: Vec<_> = told.iter().map(|(s, _)| *s).collect();
        assert_eq!(states, [TaskState::Accepted, TaskState::InProgress, TaskState::Completed]);
        assert_eq!(told[0].1.to_rfc3339(), "2026-11-20T10:00:00.100+00:00");
        assert_eq!(told[2].1.to_rfc3339(), "2026-11-20T10:00:00.300+00:00");
        assert!(done.since(Some(TaskState::Completed), 100).is_empty(), "nothing new");
        let first = progress(Stage::Accepted).since(None, 100);
        assert_eq!(first.len(), 2, "requested then accepted: {first:?}");
    }

    #[test]
    fn a_rejection_is_told_once_with_its_reason() {
        let rejected = progress(Stage::Rejected(RejectReason::NotEligible));
        let unseen = rejected.since(None, 100);
        assert_eq!(
            unseen.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            THE_WAY[..1].iter().copied().chain([TaskState::Rejected]).collect::<Vec<_>>(),
            "requested a step before"
        );
        let on_arrival = Progress::on_clock(
            "R-2",
            Stage::Rejected(RejectReason::NoCapacity),
            rejected.received_at,
            0,
        );
        assert_eq!(on_arrival.since(None, 100).len(), 1, "declined on arrival: never requested");
        let told = rejected.since(Some(TaskState::Requested), 100);
        assert_eq!(told.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [TaskState::Rejected]);
        assert!(rejected.since(Some(TaskState::Rejected), 100).is_empty());
        let body = event_body("R-1", TaskState::Rejected, rejected.reason, told[0].1);
        assert_eq!(body["data"]["reason"], "not_eligible");
        assert_eq!(body["data"]["state"], "rejected");
        assert_eq!(body["data"]["note"], Value::Null);
    }
}
