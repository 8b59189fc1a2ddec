//! A case: what was recorded (the owner's view), what the client agreed in plain words, the
//! plan's state, and the timeline of each referral (every state, who reported it, when), with
//! chasing flagged. Partner staff reach referrals only, each exactly as it was sent to them.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{context, Value};
use pathways_core::CancelReason;
use pathways_daemon::access::{ReferralView, ReferralViews};
use pathways_daemon::CancelBody;
use pathways_store::ReferralId;

use super::{form_page, page, pathfinder_form, see_other, Section};
use crate::errors;
use crate::form::Errors;
use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// `GET /cases/{id}`
pub async fn show(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = signed.require(&[ConsoleRole::Pathfinder]) {
        return response;
    }
    let (view, owned) = match console.handle().case_with_referrals(&signed.caller, &id).await {
        Ok(found) => found,
        Err(e) => return errors::api(e),
    };
    let plan = console.handle().read_plan(&signed.caller, &id, None).await.ok();
    let follow_ups = match pathways_store::CaseId::parse(&id) {
        Some(case_id) => {
            console.handle().store().follow_ups_of_case(&case_id).await.unwrap_or_default()
        }
        None => Vec::new(),
    };
    let follow_ups: Vec<serde_json::Value> = follow_ups
        .iter()
        .map(|f| {
            let needs: Vec<String> = f
                .needs
                .iter()
                .map(|n| {
                    let code = view.case().needs.iter().find(|c| c.id == n.need_id).map(|c| c.code.as_str()).unwrap_or_default();
                    format!("{}: {}", crate::templates::need(code), n.met.describe().to_lowercase())
                })
                .collect();
            serde_json::json!({"recorded_at": f.recorded_at, "needs": needs, "wellbeing": f.wellbeing.is_some()})
        })
        .collect();
    let reroutes = console
        .handle()
        .reroutes(&signed.caller, &id)
        .await
        .map(|r| r.proposals)
        .unwrap_or_default();
    let live = console.handle().live();
    let mut referrals = Vec::with_capacity(owned.len());
    for referral in owned {
        let mut value = serde_json::to_value(&referral).unwrap_or_default();
        let partner = value["partner_id"].as_str().unwrap_or_default().to_string();
        value["partner_name"] = live.orchestrator.display_name(&partner).into();
        // How to chase: the service's own phone or email, from the plan.
        let contact = plan.as_ref().and_then(|p| {
            p.steps.iter().filter_map(|s| s.chosen()).find(|c| c.partner.id == partner)
        });
        let chase = contact
            .and_then(|c| c.contact.as_ref())
            .and_then(|c| c.phone.clone().or_else(|| c.email.clone()));
        value["chase"] = chase.into();
        referrals.push(value);
    }
    let consent = &view.case().consent;
    let consent_words = consent_in_words(consent, &live);
    let consent_history: Vec<serde_json::Value> = view
        .consent_history()
        .iter()
        .map(|c| serde_json::json!({"recorded_at": c.recorded_at, "words": consent_in_words(c, &live)}))
        .collect();
    let context = context! {
        title => "Case",
        id => id,
        view => Value::from_serialize(&view),
        referrals => Value::from_serialize(&referrals),
        plan => plan.as_ref().map(Value::from_serialize),
        consent_words => consent_words,
        reroutes => Value::from_serialize(&reroutes),
        follow_ups => Value::from_serialize(&follow_ups),
        consent_history => Value::from_serialize(&consent_history),
        recorded_by_me => consent.recorded_by == signed.user.id.as_str(),
    };
    page(&console, &signed, Section::Home, "case.html", context)
}

/// What the client agreed, in the words a pathfinder reads back to them.
fn consent_in_words(consent: &pathways_core::Consent, live: &pathways_daemon::Live) -> String {
    match (&consent.share_with, consent.lawful_basis) {
        (pathways_core::ShareWith::None, _) => {
            "The client agreed to share their details with no one: the plan signposts only.".to_string()
        }
        (pathways_core::ShareWith::Partners(ids), _) => format!(
            "The client agreed to share their details only with {}.",
            ids.iter().map(|p| live.orchestrator.display_name(p)).collect::<Vec<_>>().join(", ")
        ),
        (pathways_core::ShareWith::PlannedPartners, pathways_core::LawfulBasis::Consent) => {
            "The client agreed that the organisations in their plan may receive what each needs, once the plan has been read to them.".to_string()
        }
        (pathways_core::ShareWith::PlannedPartners, _) => {
            "Details are shared without the client's consent, to protect someone: only with the organisations in the plan, and only what each needs.".to_string()
        }
    }
}

/// `GET /referrals/{id}`: the owner's view, or the receiving partner's (exactly what was
/// sent to it).
pub async fn referral(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) =
        signed.require(&[ConsoleRole::Pathfinder, ConsoleRole::Coordinator, ConsoleRole::Partner])
    {
        return response;
    }
    let Some(rid) = ReferralId::parse(&id) else { return errors::page(StatusCode::NOT_FOUND) };
    match console.handle().referral(&signed.caller, &rid).await {
        Ok(ReferralViews::Owner(view)) => {
            owner_page(&console, &signed, &view, &Errors::default(), &Default::default())
        }
        Ok(ReferralViews::Partner(view)) => {
            // An inbox partner's staff also get the form to answer it.
            super::inbox::partner_page(
                &console,
                &signed,
                &view,
                &Errors::default(),
                &Default::default(),
            )
        }
        Err(e) => errors::api(e),
    }
}

/// The owner's page of a referral, with the cancel form while it can be cancelled.
fn owner_page(
    console: &Console,
    signed: &Signed,
    view: &ReferralView,
    problems: &Errors,
    values: &std::collections::HashMap<String, String>,
) -> Response {
    let live = console.handle().live();
    let mut value = serde_json::to_value(view).unwrap_or_default();
    let partner = value["partner_id"].as_str().unwrap_or_default().to_string();
    value["partner_name"] = live.orchestrator.display_name(&partner).into();
    let cancellable = signed.role == ConsoleRole::Pathfinder
        && !view.state().is_final()
        && view.cancellation().is_none();
    let reasons: Vec<[&str; 2]> =
        CancelReason::ALL.iter().map(|r| [r.as_str(), r.describe()]).collect();
    let context = context! {
        title => "Referral",
        owner => true,
        referral => Value::from_serialize(&value),
        shared => Value::UNDEFINED,
        cancellable => cancellable,
        reasons => Value::from_serialize(&reasons),
        errors => Value::from_serialize(problems),
        values => Value::from_serialize(values),
    };
    form_page(console, signed, "referral.html", context, problems, StatusCode::UNPROCESSABLE_ENTITY)
}

/// `POST /referrals/{id}/cancel`: the owner's pathfinder withdraws a referral, with a reason.
pub async fn cancel(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = match pathfinder_form(&signed, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some(rid) = ReferralId::parse(&id) else { return errors::page(StatusCode::NOT_FOUND) };
    let mut problems = Errors::default();
    let reason = CancelReason::ALL.iter().copied().find(|r| r.as_str() == form.get("reason"));
    if reason.is_none() {
        problems.add("reason", "Select why the referral is being cancelled");
    }
    let note = form.get("note");
    if note.chars().count() > pathways_daemon::CANCEL_NOTE_MAX {
        problems.add(
            "note",
            format!("The note must be {} characters or fewer", pathways_daemon::CANCEL_NOTE_MAX),
        );
    }
    let (Some(reason), true) = (reason, problems.is_empty()) else {
        return match console.handle().referral(&signed.caller, &rid).await {
            Ok(ReferralViews::Owner(view)) => {
                owner_page(&console, &signed, &view, &problems, &form.values())
            }
            Ok(ReferralViews::Partner(_)) => errors::page(StatusCode::NOT_FOUND),
            Err(e) => errors::api(e),
        };
    };
    let body = CancelBody { reason, note: Some(note.to_string()).filter(|n| !n.is_empty()) };
    match console.handle().cancel_referral(&signed.caller, &rid, &body).await {
        Ok(_) => see_other(&format!("/referrals/{id}")),
        Err(e) if e.code == "already_final" => {
            let mut problems = Errors::default();
            problems
                .add("reason", "This referral has already finished: there is nothing to cancel");
            match console.handle().referral(&signed.caller, &rid).await {
                Ok(ReferralViews::Owner(view)) => {
                    owner_page(&console, &signed, &view, &problems, &form.values())
                }
                _ => errors::page(StatusCode::CONFLICT),
            }
        }
        Err(e) => errors::api(e),
    }
}
