//! Outcomes that matter to the client: `POST /v1/cases/{id}/follow-ups` records a follow-up
//! (the ONS4 answers again, and the client's own account of each need), and
//! `GET /v1/reports/outcomes` reports, per pathway (partner × need), the change in wellbeing
//! from intake to the latest follow-up and how the clients said their needs went.
//!
//! A pathway counts a case whose referral for that need went to that partner (delivered,
//! whatever came of it). Wellbeing change counts cases with answers at intake and at follow-up;
//! needs met count the clients' answers for that need. A group of fewer than
//! [`SUPPRESS_BELOW`] cases is reported `suppressed` with no figures: a count that small could
//! identify someone.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use pathways_core::{FollowUp, NeedCode, NeedMet, NeedOutcome, Ons4};
use pathways_store::{AuditAction, AuditOutcome, CaseId};
use serde::{Deserialize, Serialize};

use super::{report_range, Range};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::JsonBody;
use crate::state::AppState;

/// Groups smaller than this are not shown.
pub const SUPPRESS_BELOW: u64 = 5;
/// The most follow-ups one report reads.
const MAX_FOLLOW_UPS: u32 = 50_000;

/// A follow-up with the client, as a pathfinder records it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// The ONS4 answers now, only if the client agreed to answer.
    #[serde(default)]
    pub wellbeing: Option<Ons4>,
    /// The client's own account of each need (by the need's id in the case).
    #[serde(default)]
    pub needs: Vec<NeedOutcome>,
    /// Who recorded it (default: the caller).
    #[serde(default)]
    #[schemars(regex(pattern = r"\S"))]
    pub recorded_by: Option<String>,
}

/// `POST /v1/cases/{id}/follow-ups`
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<FollowUp>), ApiError> {
    const ACTION: AuditAction = AuditAction::CaseFollowUp;
    let stored = crate::routes::cases::owned_case(&state, &caller, &id, ACTION).await?;
    let invalid = |message: String| ApiError::bad_request("invalid_request", message);
    // Well-formed, but not something this case can record: 422.
    let refused = |message: String| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_follow_up", message)
    };
    let request = body.and_then(|bytes| {
        serde_json::from_slice::<FollowUpRequest>(&bytes)
            .map_err(|e| invalid(format!("the body: {e}")))
    });
    let checked = request.and_then(|request| {
        if request.wellbeing.is_none() && request.needs.is_empty() {
            return Err(refused("give `wellbeing`, `needs` or both".into()));
        }
        if let Some(Err(answer)) = request.wellbeing.as_ref().map(Ons4::check) {
            return Err(invalid(format!("at `wellbeing.{answer}`: must be 0 to 10")));
        }
        for (i, need) in request.needs.iter().enumerate() {
            if !stored.case.needs.iter().any(|n| n.id == need.need_id) {
                return Err(refused(format!(
                    "at `needs[{i}].need_id`: the case has no need `{}`",
                    need.need_id
                )));
            }
            if request.needs[..i].iter().any(|n| n.need_id == need.need_id) {
                return Err(refused(format!(
                    "at `needs[{i}].need_id`: `{}` is given twice",
                    need.need_id
                )));
            }
        }
        Ok(request)
    });
    let request = match checked {
        Ok(request) => request,
        Err(e) => {
            crate::routes::cases::audit(
                &state,
                &caller,
                ACTION,
                Some(&stored.id),
                AuditOutcome::Invalid,
            )
            .await;
            return Err(e);
        }
    };
    let follow_up = FollowUp {
        wellbeing: request.wellbeing,
        needs: request.needs,
        recorded_by: request
            .recorded_by
            .map(|w| w.trim().to_string())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| caller.key_id.clone()),
        recorded_at: Utc::now(),
    };
    if !state
        .store()
        .insert_follow_up(&stored.id, &follow_up)
        .await
        .map_err(ApiError::from_store)?
    {
        return Err(ApiError::not_found("case"));
    }
    crate::routes::cases::audit(&state, &caller, ACTION, Some(&stored.id), AuditOutcome::Ok).await;
    Ok((StatusCode::CREATED, Json(follow_up)))
}

/// Mean change per ONS4 question from intake to follow-up (positive is better for the first
/// three; for anxiety negative is better).
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct WellbeingChange {
    /// Cases with answers at intake and at follow-up.
    pub cases: u64,
    /// Mean change in life satisfaction.
    pub life_satisfaction: f64,
    /// Mean change in feeling the things one does are worthwhile.
    pub worthwhile: f64,
    /// Mean change in happiness yesterday.
    pub happiness: f64,
    /// Mean change in anxiety yesterday (negative: less anxious).
    pub anxiety: f64,
}

/// How the clients said a need went.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct NeedsMet {
    /// Met.
    pub met: u64,
    /// Partly met.
    pub partly: u64,
    /// Not met.
    pub not_met: u64,
    /// No longer needed.
    pub no_longer_needed: u64,
}

/// One pathway's outcomes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OutcomeRow {
    /// The partner.
    pub partner_id: String,
    /// The need.
    pub need: NeedCode,
    /// Cases followed up through this pathway.
    pub cases: u64,
    /// Fewer than 5 cases: no figures are given, they could identify someone.
    pub suppressed: bool,
    /// The change in wellbeing, unless suppressed (or fewer than 5 cases answered both times).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wellbeing_change: Option<WellbeingChange>,
    /// The clients' account of the need, unless suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_met: Option<NeedsMet>,
}

/// `200` of `GET /v1/reports/outcomes`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct OutcomeReport {
    /// Start of the range (inclusive): follow-ups recorded from then.
    pub from: chrono::DateTime<Utc>,
    /// End of the range (exclusive).
    pub to: chrono::DateTime<Utc>,
    /// Whose cases: an organisation id, or `all`.
    pub organisation: String,
    /// Groups smaller than this are suppressed.
    pub suppress_below: u64,
    /// Per partner × need, most cases first.
    pub pathways: Vec<OutcomeRow>,
}

#[derive(Default)]
struct Group {
    cases: u64,
    changes: Vec<[i32; 4]>,
    met: NeedsMet,
}

/// `GET /v1/reports/outcomes`
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    range: Result<Query<Range>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OutcomeReport>, ApiError> {
    const ACTION: AuditAction = AuditAction::ReportOutcomes;
    let (from, to, scope) = report_range(&state, &caller, ACTION, range).await?;
    let found = state
        .store()
        .follow_ups_between(scope, from, to, MAX_FOLLOW_UPS)
        .await
        .map_err(ApiError::from_store)?;
    // The latest follow-up of each case in the range.
    let mut latest: HashMap<CaseId, FollowUp> = HashMap::new();
    for (case_id, follow_up) in found {
        latest.insert(case_id, follow_up);
    }
    let mut groups: BTreeMap<(String, NeedCode), Group> = BTreeMap::new();
    for (case_id, follow_up) in &latest {
        let Some(stored) = state.store().get_case(case_id).await.map_err(ApiError::from_store)?
        else {
            continue;
        };
        let referrals =
            state.store().referrals_of_case(case_id).await.map_err(ApiError::from_store)?;
        let change = match (stored.case.wellbeing, follow_up.wellbeing) {
            (Some(before), Some(after)) => Some(diff(&before, &after)),
            _ => None,
        };
        let mut pathways: Vec<(String, NeedCode)> = referrals
            .iter()
            .filter(|r| r.sent_at.is_some())
            .flat_map(|r| r.needs.iter().map(|n| (r.partner_id.clone(), *n)))
            .collect();
        pathways.sort();
        pathways.dedup();
        for (partner, need) in pathways {
            let group = groups.entry((partner, need)).or_default();
            group.cases += 1;
            if let Some(change) = change {
                group.changes.push(change);
            }
            for said in &follow_up.needs {
                let code = stored.case.needs.iter().find(|n| n.id == said.need_id).map(|n| n.code);
                if code == Some(need) {
                    let met = &mut group.met;
                    match said.met {
                        NeedMet::Met => met.met += 1,
                        NeedMet::Partly => met.partly += 1,
                        NeedMet::NotMet => met.not_met += 1,
                        NeedMet::NoLongerNeeded => met.no_longer_needed += 1,
                    }
                }
            }
        }
    }
    let mut pathways: Vec<OutcomeRow> = groups
        .into_iter()
        .map(|((partner_id, need), group)| row(partner_id, need, group))
        .collect();
    pathways.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.partner_id.cmp(&b.partner_id)));
    crate::referrals::audit(&state, &caller, ACTION, (None, None), AuditOutcome::Ok).await;
    Ok(Json(OutcomeReport {
        from,
        to,
        organisation: scope.map_or("all", |org| org).to_string(),
        suppress_below: SUPPRESS_BELOW,
        pathways,
    }))
}

fn diff(before: &Ons4, after: &Ons4) -> [i32; 4] {
    let (b, a) = (before.answers(), after.answers());
    [0, 1, 2, 3].map(|i| i32::from(a[i].1) - i32::from(b[i].1))
}

fn row(partner_id: String, need: NeedCode, group: Group) -> OutcomeRow {
    let suppressed = group.cases < SUPPRESS_BELOW;
    let answered = group.changes.len() as u64;
    let wellbeing_change = (!suppressed && answered >= SUPPRESS_BELOW).then(|| {
        let mean = |i: usize| {
            let sum: i32 = group.changes.iter().map(|c| c[i]).sum();
            (f64::from(sum) / answered as f64 * 10.0).round() / 10.0
        };
        WellbeingChange {
            cases: answered,
            life_satisfaction: mean(0),
            worthwhile: mean(1),
            happiness: mean(2),
            anxiety: mean(3),
        }
    });
    OutcomeRow {
        partner_id,
        need,
        cases: group.cases,
        suppressed,
        wellbeing_change,
        needs_met: (!suppressed).then_some(group.met),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_under_five_are_suppressed_and_means_are_rounded() {
        let mut small = Group { cases: 4, ..Group::default() };
        small.changes = vec![[1, 1, 1, -1]; 4];
        let row4 = row("p".into(), NeedCode::Food, small);
        assert!(row4.suppressed && row4.wellbeing_change.is_none() && row4.needs_met.is_none());
        let mut big = Group { cases: 6, ..Group::default() };
        big.changes =
            vec![[1, 2, 0, -1], [2, 2, 1, -2], [0, 2, 0, -1], [1, 2, 0, 0], [1, 2, 1, -1]];
        big.met.met = 3;
        let row6 = row("p".into(), NeedCode::Food, big);
        assert!(!row6.suppressed);
        let change = row6.wellbeing_change.unwrap();
        assert_eq!((change.cases, change.life_satisfaction, change.anxiety), (5, 1.0, -1.0));
        assert_eq!(change.happiness, 0.4);
        assert_eq!(row6.needs_met.unwrap().met, 3);
        let mut few_answers = Group { cases: 7, ..Group::default() };
        few_answers.changes = vec![[1, 1, 1, 1]; 2];
        assert!(row("p".into(), NeedCode::Food, few_answers).wellbeing_change.is_none());
    }
}
