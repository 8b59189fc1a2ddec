//! The home page: a pathfinder's or coordinator's worklist (the organisation's open cases,
//! referrals that need attention, search by the case's reference), or, for partner staff,
//! the referrals sent to their organisation.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use minijinja::{context, Value};
use serde::Serialize;

use super::{page, Section};
use crate::errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// How many cases the worklist shows.
const CASES_SHOWN: u32 = 50;
/// A referral sent this long ago without an answer needs chasing.
pub const CHASE_AFTER_DAYS: i64 = 5;
/// How many cases due a follow-up the home page lists.
const FOLLOW_UPS_SHOWN: u32 = 50;

/// A schedule in days, as people say it: "8 weeks", "10 days".
pub fn weeks(days: u32) -> String {
    match days {
        7 => "1 week".into(),
        d if d % 7 == 0 => format!("{} weeks", d / 7),
        1 => "1 day".into(),
        d => format!("{d} days"),
    }
}

/// `?reference=…`
#[derive(Debug, serde::Deserialize)]
pub struct Search {
    reference: Option<String>,
}

#[derive(Debug, Serialize)]
struct CaseRow {
    id: String,
    reference: String,
    created_at: String,
    needs: u32,
    plan_version: Option<u32>,
    referrals_live: u32,
    referrals_attention: u32,
}

#[derive(Debug, Serialize)]
struct AttentionRow {
    referral_id: String,
    case_id: String,
    case_reference: String,
    partner: String,
    state: String,
    since: String,
    why: &'static str,
}

/// `GET /`
pub async fn show(
    State(console): State<Console>,
    signed: Signed,
    Query(search): Query<Search>,
) -> Response {
    if signed.role == ConsoleRole::Partner {
        return partner_home(&console, &signed).await;
    }
    let store = console.handle().store();
    let live = console.handle().live();
    let reference = search.reference.map(|r| r.trim().to_string());
    let reference = reference.filter(|r| !r.is_empty());
    let organisation = &signed.user.organisation;
    let cases = match store.case_summaries(organisation, reference.as_deref(), CASES_SHOWN).await {
        Ok(cases) => cases,
        Err(e) => return errors::store_failed(e),
    };
    let chase_before = Utc::now() - Duration::days(CHASE_AFTER_DAYS);
    let attention = match store.referrals_needing_attention(organisation, chase_before, 50).await {
        Ok(rows) => rows,
        Err(e) => return errors::store_failed(e),
    };
    // Clients due a follow-up under the organisation's schedule (see the dashboard).
    let follow_ups = match console.handle().follow_ups_due(&signed.caller, FOLLOW_UPS_SHOWN).await {
        Ok(list) => list,
        Err(e) => return errors::api(e),
    };
    let cases: Vec<CaseRow> = cases
        .into_iter()
        .map(|c| CaseRow {
            id: c.id.to_string(),
            reference: c.reference,
            created_at: c.created_at.to_rfc3339(),
            needs: c.needs,
            plan_version: c.plan_version,
            referrals_live: c.referrals_live,
            referrals_attention: c.referrals_attention,
        })
        .collect();
    let attention: Vec<AttentionRow> = attention
        .into_iter()
        .map(|r| AttentionRow {
            referral_id: r.referral_id.to_string(),
            case_id: r.case_id.to_string(),
            case_reference: r.case_reference,
            partner: live.orchestrator.display_name(&r.partner_id),
            state: r.state.as_str().to_string(),
            since: r.since.to_rfc3339(),
            why: match r.state.as_str() {
                "rejected" => "The partner declined it: choose a fallback or another service",
                "failed" => "It could not be sent: check the partner, then send it again",
                _ => "No answer for 5 days or more: chase the partner",
            },
        })
        .collect();
    let context = context! {
        title => "Home",
        cases => Value::from_serialize(&cases),
        attention => Value::from_serialize(&attention),
        reference => reference,
        can_create => signed.role == ConsoleRole::Pathfinder,
        follow_ups => Value::from_serialize(&follow_ups.due),
        follow_up_weeks => weeks(follow_ups.schedule.after_days),
        follow_ups_scheduled => follow_ups.schedule.after_days > 0,
    };
    page(&console, &signed, Section::Home, "home.html", context)
}

#[derive(Debug, Serialize)]
struct SentRow {
    id: String,
    needs: Vec<String>,
    state: String,
    sent_at: String,
}

async fn partner_home(console: &Console, signed: &Signed) -> Response {
    let store = console.handle().store();
    let ids = match store.referrals_sent_to(&signed.user.organisation, 100).await {
        Ok(ids) => ids,
        Err(e) => return errors::store_failed(e),
    };
    let mut sent = Vec::with_capacity(ids.len());
    for id in ids {
        match store.get_referral(&id).await {
            Ok(Some(referral)) => sent.push(referral),
            Ok(None) => {}
            Err(e) => return errors::store_failed(e),
        }
    }
    let rows: Vec<SentRow> = sent
        .into_iter()
        .filter_map(|r| {
            Some(SentRow {
                id: r.id.to_string(),
                needs: r.needs.iter().map(|n| n.as_str().to_string()).collect(),
                state: r.state.as_str().to_string(),
                sent_at: r.sent_at?.to_rfc3339(),
            })
        })
        .collect();
    // A partner without an API: what it last said of its capacity, and where to change it.
    let capacity = super::inbox::capacity_summary(console, signed).await;
    let context = context! {
        title => "Referrals sent to you",
        referrals => Value::from_serialize(&rows),
        capacity => capacity,
    };
    page(console, signed, Section::Home, "partner_home.html", context)
}
