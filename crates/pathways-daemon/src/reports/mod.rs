//! Pathway reports: `GET /v1/reports/pathways?from&to` (coordinator, admin), scoped to the
//! caller's organisation's cases (an admin of the operating organisation sees all). The same
//! statistics, across organisations, are fed to the planner by the dispatcher
//! (`pathways_referrals`).
//!
//! Per partner × need over `[from, to)` (default: the last 90 days): referrals sent, accepted
//! %, rejected by reason, completed %, median time to acceptance and to completion (the
//! definitions are the store's, `pathways_store::PathwayStatsRow`).

pub(crate) mod outcomes;

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_store::{AuditAction, AuditOutcome, PathwayStatsRow};
use serde::Deserialize;

use crate::api::{PathwayReport, PathwayRow, ReasonCountView, UnmetReport, UnmetRow};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::referrals::audit;
use crate::state::AppState;

const READERS: &[Role] = &[Role::Coordinator, Role::Admin];

/// How far back reports look by default (as far as the planner's statistics do).
const DEFAULT_WINDOW: chrono::Duration = pathways_referrals::STATS_WINDOW;

/// `?from=…&to=…` (RFC 3339), `[from, to)`: `from` not after `to` (equal is an empty range).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Start, inclusive [default: 90 days before `to`].
    from: Option<DateTime<Utc>>,
    /// End, exclusive [default: now].
    to: Option<DateTime<Utc>>,
}

impl Range {
    /// `[from, to)`, each defaulted as the query's.
    pub fn new(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        Self { from, to }
    }
}

/// The caller's report scope and range for `action`: the role checked (and a refusal
/// audited), `[from, to)` read and defaulted (the last 90 days), and whose cases: the caller's
/// organisation's, or every organisation's (`None`) for the operator's admins.
async fn report_range<'a>(
    state: &AppState,
    caller: &'a Caller,
    action: AuditAction,
    range: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, Option<&'a str>), ApiError> {
    if let Err(e) = caller.require(READERS) {
        audit(state, caller, action, (None, None), AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let Query(range) = range.map_err(|e| {
        ApiError::bad_request("invalid_range", format!("`from` and `to` must be RFC 3339: {e}"))
    })?;
    let to = range.to.unwrap_or_else(Utc::now);
    let from = range.from.unwrap_or(to - DEFAULT_WINDOW);
    if from > to {
        // Both well-formed, in an order the schema cannot state: 422.
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_range",
            "`from` must not be after `to`",
        ));
    }
    // Each organisation sees its own cases; the operator's admins see all.
    let scope = (!caller.is_operator_admin()).then_some(caller.organisation.as_str());
    Ok((from, to, scope))
}

/// `GET /v1/reports/pathways`
pub async fn pathways(
    State(state): State<AppState>,
    caller: Caller,
    range: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PathwayReport>, ApiError> {
    let (from, to, scope) =
        report_range(&state, &caller, AuditAction::ReportPathways, range).await?;
    let rows = state.store().pathway_stats(from, to, scope).await.map_err(ApiError::from_store)?;
    audit(&state, &caller, AuditAction::ReportPathways, (None, None), AuditOutcome::Ok).await;
    let pathways = rows.iter().map(row_view).collect();
    let organisation = scope.map_or("all", |org| org).to_string();
    Ok(Json(PathwayReport { from, to, organisation, pathways }))
}

/// `GET /v1/reports/unmet`: the needs no service could meet over `[from, to)`, by need and
/// area (evidence for commissioning): the caller's organisation's cases, or all for the
/// operator's admins.
pub async fn unmet(
    State(state): State<AppState>,
    caller: Caller,
    range: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UnmetReport>, ApiError> {
    let (from, to, scope) = report_range(&state, &caller, AuditAction::ReportUnmet, range).await?;
    let rows = state.store().unmet_needs(scope, from, to).await.map_err(ApiError::from_store)?;
    audit(&state, &caller, AuditAction::ReportUnmet, (None, None), AuditOutcome::Ok).await;
    let unmet =
        rows.into_iter().map(|r| UnmetRow { need: r.need, area: r.area, cases: r.cases }).collect();
    let organisation = scope.map_or("all", |org| org).to_string();
    Ok(Json(UnmetReport { from, to, organisation, unmet }))
}

fn row_view(row: &PathwayStatsRow) -> PathwayRow {
    let percent = |n: u64| {
        if row.sent == 0 {
            None
        } else {
            Some((n as f64) * 100.0 / (row.sent as f64))
        }
    };
    PathwayRow {
        partner_id: row.partner_id.clone(),
        need: row.need,
        sent: row.sent,
        accepted: row.accepted,
        accepted_percent: percent(row.accepted),
        rejected_by_reason: row
            .rejected_by_reason
            .iter()
            .map(|r| ReasonCountView { reason: r.reason, count: r.count })
            .collect(),
        completed: row.completed,
        completed_percent: percent(row.completed),
        median_secs_to_acceptance: row.median_secs_to_acceptance,
        median_secs_to_completion: row.median_secs_to_completion,
    }
}
