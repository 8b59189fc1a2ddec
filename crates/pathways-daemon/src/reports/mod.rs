//! Pathway reports: `GET /v1/reports/pathways?from&to` (coordinator, admin), scoped to the
//! caller's organisation's cases (an admin of the operating organisation sees all). The same
//! statistics, across organisations, are fed to the planner by the dispatcher
//! (`pathways_referrals`).
//!
//! Per partner × need over `[from, to)` (default: the last 90 days): referrals sent, accepted
//! %, rejected by reason, completed %, median time to acceptance and to completion (the
//! definitions are the store's, `pathways_store::PathwayStatsRow`).

pub(crate) mod outcomes;
pub(crate) mod schedule;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_store::{AuditAction, AuditOutcome, OpenStatus, PathwayStatsRow};
use serde::Deserialize;

use crate::api::{
    PathwayReport, PathwayRow, ReasonCountView, UnmetReasonCount, UnmetReport, UnmetRow,
};
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

/// `?from=…&to=…&format=…` of the unmet needs report.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmetQuery {
    /// Start, inclusive [default: 90 days before `to`].
    from: Option<DateTime<Utc>>,
    /// End, exclusive [default: now].
    to: Option<DateTime<Utc>>,
    /// `json` [default] or `csv` (one line per status, need, area and reason, for a
    /// spreadsheet).
    format: Option<ReportFormat>,
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// JSON, as the schema says.
    #[default]
    Json,
    /// Comma-separated values (RFC 4180, UTF-8, CRLF line ends).
    Csv,
}

/// `GET /v1/reports/unmet`: the needs no service could meet, and those blocked for want of
/// something the case did not record, over `[from, to)`, by need, area and reason (evidence
/// for commissioning): the caller's organisation's cases, or all for the operator's admins.
/// JSON, or CSV with `format=csv`.
pub async fn unmet(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<UnmetQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (range, format) = match query {
        Ok(Query(q)) => (Ok(Query(Range::new(q.from, q.to))), q.format.unwrap_or_default()),
        Err(e) => (Err(e), ReportFormat::Json),
    };
    let report = unmet_report(&state, &caller, range).await?;
    Ok(match format {
        ReportFormat::Json => Json(report).into_response(),
        ReportFormat::Csv => {
            let name = format!(
                "pathways-unmet-{}-{}.csv",
                report.from.format("%Y%m%d"),
                report.to.format("%Y%m%d")
            );
            csv_response(unmet_csv(&report), &name)
        }
    })
}

/// The unmet needs report over `[from, to)` for `caller` (see [`unmet`]).
pub(crate) async fn unmet_report(
    state: &AppState,
    caller: &Caller,
    range: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<UnmetReport, ApiError> {
    let (from, to, scope) = report_range(state, caller, AuditAction::ReportUnmet, range).await?;
    let rows = state.store().unmet_needs(scope, from, to).await.map_err(ApiError::from_store)?;
    audit(state, caller, AuditAction::ReportUnmet, (None, None), AuditOutcome::Ok).await;
    let (mut unmet, mut blocked) = (Vec::new(), Vec::new());
    for r in rows {
        let row = UnmetRow {
            need: r.need,
            area: r.area,
            cases: r.cases,
            reasons: r
                .reasons
                .into_iter()
                .map(|c| UnmetReasonCount { reason: c.reason, cases: c.cases })
                .collect(),
        };
        match r.status {
            OpenStatus::Unmet => unmet.push(row),
            OpenStatus::Blocked => blocked.push(row),
        }
    }
    let organisation = scope.map_or("all", |org| org).to_string();
    Ok(UnmetReport { from, to, organisation, unmet, blocked })
}

/// The unmet needs report as CSV: `status,need,area,cases,reason,reason_cases`, one line per
/// reason (a line's `cases` repeats for each of its reasons: sum `reason_cases` by reason, and
/// take `cases` once per status, need and area).
pub fn unmet_csv(report: &UnmetReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("status,need,area,cases,reason,reason_cases\r\n");
    for (status, rows) in [("unmet", &report.unmet), ("blocked", &report.blocked)] {
        for row in rows {
            for reason in &row.reasons {
                let _ = write!(
                    out,
                    "{status},{},{},{},{},{}\r\n",
                    csv_cell(row.need.as_str()),
                    csv_cell(&row.area),
                    row.cases,
                    csv_cell(&reason.reason),
                    reason.cases
                );
            }
        }
    }
    out
}

/// One CSV cell: quoted when it holds a comma, quote or line end; never read by a spreadsheet
/// as a formula (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`).
pub fn csv_cell(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A CSV download named `name`.
fn csv_response(body: String, name: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
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
