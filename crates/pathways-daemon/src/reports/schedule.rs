//! When clients are due a follow-up: `GET`/`PUT /v1/follow-ups/schedule` (each organisation's
//! coordinators set how many days after the last of a case's referrals ended; 8 weeks until
//! they do) and `GET /v1/follow-ups/due` (the organisation's cases due one now, for its
//! pathfinders' worklist).

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use pathways_store::{
    AuditAction, AuditOutcome, CaseId, FollowUpSchedule, DEFAULT_FOLLOW_UP_AFTER_DAYS,
    MAX_FOLLOW_UP_AFTER_DAYS,
};
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::referrals::audit;
use crate::routes::JsonBody;
use crate::state::AppState;

/// Who sets the schedule.
const SETTERS: &[Role] = &[Role::Coordinator, Role::Admin];
/// Who reads the schedule and the cases due.
const READERS: &[Role] = &[Role::Pathfinder, Role::Coordinator, Role::Admin];
/// The most cases one list of those due answers.
const MAX_DUE: u32 = 500;

/// An organisation's follow-up schedule.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScheduleView {
    /// Whose.
    pub organisation: String,
    /// Clients are due a follow-up this many days after the last of their referrals ended;
    /// 0: none are scheduled.
    pub after_days: u32,
    /// True while the organisation's coordinators have not set one (8 weeks).
    pub default: bool,
    /// Who set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_at: Option<DateTime<Utc>>,
}

impl ScheduleView {
    fn of(organisation: &str, schedule: Option<FollowUpSchedule>) -> Self {
        match schedule {
            Some(s) => Self {
                organisation: s.organisation,
                after_days: s.after_days,
                default: false,
                set_by: Some(s.set_by),
                set_at: Some(s.set_at),
            },
            None => Self {
                organisation: organisation.to_string(),
                after_days: DEFAULT_FOLLOW_UP_AFTER_DAYS,
                default: true,
                set_by: None,
                set_at: None,
            },
        }
    }
}

/// The body of `PUT /v1/follow-ups/schedule`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleChange {
    /// Days after the last of a case's referrals ended, 0 to 366; 0 schedules none. (Read as
    /// a JSON number, so `56.0` is 56, as JSON Schema has it.)
    #[schemars(with = "u32", range(max = 366))]
    pub after_days: serde_json::Number,
}

/// `?limit=…` of `GET /v1/follow-ups/due`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    /// At most this many, 1 to 500 [default: 100].
    #[schemars(range(min = 1, max = 500))]
    limit: Option<u32>,
}

/// `200` of `GET /v1/follow-ups/due`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DueList {
    /// The schedule they are due under.
    pub schedule: ScheduleView,
    /// The cases due a follow-up now, the longest waiting first.
    pub due: Vec<DueCase>,
}

/// A case due a follow-up.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DueCase {
    /// The case.
    pub case_id: String,
    /// The referring organisation's reference for it.
    pub reference: String,
    /// When its last referral ended.
    pub last_referral_ended_at: DateTime<Utc>,
    /// The day the follow-up fell due.
    pub due_on: NaiveDate,
    /// Where to record it: `POST` a follow-up here.
    pub href: String,
}

/// The caller's organisation's schedule (the default when none was set).
pub(crate) async fn schedule_of(
    state: &AppState,
    organisation: &str,
) -> Result<ScheduleView, ApiError> {
    let stored =
        state.store().follow_up_schedule(organisation).await.map_err(ApiError::from_store)?;
    Ok(ScheduleView::of(organisation, stored))
}

/// `GET /v1/follow-ups/schedule`
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ScheduleView>, ApiError> {
    caller.require(READERS)?;
    Ok(Json(schedule_of(&state, &caller.organisation).await?))
}

/// `PUT /v1/follow-ups/schedule`
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Json<ScheduleView>, ApiError> {
    const ACTION: AuditAction = AuditAction::FollowUpSchedule;
    if let Err(e) = caller.require(SETTERS) {
        audit(&state, &caller, ACTION, (None, None), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let change = body.and_then(|bytes| {
        serde_json::from_slice::<ScheduleChange>(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_request", format!("the body: {e}")))
    });
    let days = change.and_then(|change| {
        // A whole number however JSON writes it (`56` or `56.0`); its range is `set`'s to check.
        let n = &change.after_days;
        let whole = n.as_u64().or_else(|| {
            n.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=1e6).contains(f)).map(|f| f as u64)
        });
        whole.and_then(|d| u32::try_from(d).ok()).ok_or_else(out_of_range)
    });
    let after_days = match days {
        Ok(days) => days,
        Err(e) => {
            audit(&state, &caller, ACTION, (None, None), AuditOutcome::Invalid).await;
            return Err(e);
        }
    };
    set(&state, &caller, after_days).await.map(Json)
}

fn out_of_range() -> ApiError {
    ApiError::bad_request(
        "invalid_request",
        format!("at `after_days`: must be a whole number, 0 to {MAX_FOLLOW_UP_AFTER_DAYS}"),
    )
}

/// Sets the caller's organisation's schedule (the caller may: checked by the route or page);
/// `after_days` over the most is refused (and the refusal audited).
pub(crate) async fn set(
    state: &AppState,
    caller: &Caller,
    after_days: u32,
) -> Result<ScheduleView, ApiError> {
    if after_days > MAX_FOLLOW_UP_AFTER_DAYS {
        let action = AuditAction::FollowUpSchedule;
        audit(state, caller, action, (None, None), AuditOutcome::Invalid).await;
        return Err(out_of_range());
    }
    let schedule = FollowUpSchedule {
        organisation: caller.organisation.clone(),
        after_days,
        set_by: caller.key_id.clone(),
        set_at: Utc::now(),
    };
    state.store().set_follow_up_schedule(&schedule).await.map_err(ApiError::from_store)?;
    audit(state, caller, AuditAction::FollowUpSchedule, (None, None), AuditOutcome::Ok).await;
    Ok(ScheduleView::of(&caller.organisation, Some(schedule)))
}

/// `GET /v1/follow-ups/due`
pub async fn due(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<DueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DueList>, ApiError> {
    caller.require(READERS)?;
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request("invalid_request", format!("the query: {}", e.body_text()))
    })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_DUE).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("at `limit`: must be 1 to {MAX_DUE}"),
        ));
    }
    let list = due_list(&state, &caller, limit).await?;
    audit(&state, &caller, AuditAction::FollowUpsDue, (None, None), AuditOutcome::Ok).await;
    Ok(Json(list))
}

/// The cases of the caller's organisation due a follow-up now, at most `limit`. (Not audited
/// here: the API route records its reads; the console's home page lists them as it lists the
/// organisation's cases.)
pub(crate) async fn due_list(
    state: &AppState,
    caller: &Caller,
    limit: u32,
) -> Result<DueList, ApiError> {
    let schedule = schedule_of(state, &caller.organisation).await?;
    let now = Utc::now();
    let rows = state
        .store()
        .follow_ups_due(&caller.organisation, schedule.after_days, now, limit)
        .await
        .map_err(ApiError::from_store)?;
    let days = Duration::days(i64::from(schedule.after_days));
    let due = rows
        .into_iter()
        .map(|row| DueCase {
            href: follow_up_href(&row.case_id),
            case_id: row.case_id.to_string(),
            reference: row.reference,
            due_on: (row.last_ended_at + days).date_naive(),
            last_referral_ended_at: row.last_ended_at,
        })
        .collect();
    Ok(DueList { schedule, due })
}

fn follow_up_href(case_id: &CaseId) -> String {
    format!("/v1/cases/{case_id}/follow-ups")
}
