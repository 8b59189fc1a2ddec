//! `GET /v1/audit`: the audit log, for admins. Who read or changed what, when, and how it
//! ended; never personal data (the log cannot hold any, see `pathways_store::AuditEntry`).
//!
//! An admin of the operating organisation reads every entry; an admin of another organisation
//! reads its own keys' entries, and, for one of its own cases (`?case=`), every entry about
//! that case whoever made it (a partner organisation reading what was sent to it included).

use axum::extract::{Query, State};
use axum::Json;
use chrono::{DateTime, Utc};
use pathways_store::{AuditAction, AuditFilter, AuditOutcome, CaseId};
use serde::Deserialize;

use super::cases::audit;
use crate::api::{AuditEntryView, AuditPage};
use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The most entries one page holds.
const MAX_LIMIT: u32 = 1000;

/// `?case=…&from=…&to=…&after=…&limit=…`
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries about this case (its id: 32 hex digits).
    #[schemars(regex(pattern = "^[0-9a-f]{32}$"))]
    case: Option<String>,
    /// Only entries at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only entries before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Only entries after this position (`next_after` of the previous page).
    after: Option<i64>,
    /// At most this many entries (1 to 1000; default 100).
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
}

/// `GET /v1/audit`
pub async fn entries(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    const ACTION: AuditAction = AuditAction::AuditRead;
    if let Err(e) = caller.require(&[Role::Admin]) {
        audit(&state, &caller, ACTION, None, AuditOutcome::Forbidden).await;
        return Err(e);
    }
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("`case` is a case id, `from` and `to` RFC 3339 times, `after` and `limit` numbers: {e}"),
        )
    })?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request("invalid_query", "`limit` must be 1 to 1000"));
    }
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from > to {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "`from` must not be after `to`",
            ));
        }
    }
    let case_id = match query.case.as_deref() {
        None => None,
        Some(text) => Some(CaseId::parse(text).ok_or_else(|| {
            ApiError::bad_request("invalid_query", "`case` must be a case id (32 hex digits)")
        })?),
    };
    // Whose entries: all (operator), all about one of the caller's own cases, or the caller's
    // organisation's own.
    let mut organisation = Some(caller.organisation.clone());
    if caller.is_operator_admin() {
        organisation = None;
    } else if let Some(id) = &case_id {
        let owner =
            state.store().get_case(id).await.map_err(ApiError::from_store)?.map(|c| c.organisation);
        if owner.as_deref() == Some(caller.organisation.as_str()) {
            organisation = None;
        }
    }
    let filter = AuditFilter {
        organisation,
        case_id: case_id.clone(),
        referral_id: None,
        after_seq: query.after,
        from: query.from,
        to: query.to,
        limit,
    };
    let records = state.store().audit_entries(&filter).await.map_err(ApiError::from_store)?;
    audit(&state, &caller, ACTION, case_id.as_ref(), AuditOutcome::Ok).await;
    let next_after =
        (records.len() == limit as usize).then(|| records.last().map(|r| r.seq)).flatten();
    let entries = records.iter().map(AuditEntryView::of).collect();
    Ok(Json(AuditPage { entries, next_after }))
}
