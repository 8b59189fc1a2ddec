//! Sample cases, plans and referrals. The client's personal details are distinctive strings,
//! so a test can look for them in anything that might be logged.

use chrono::{DateTime, TimeZone, Utc};
use pathways_core::{
    parse_case, ActionPlan, Case, ChosenService, ClientField, Fallback, Lead, LeadReason, Named,
    NeedCode, PlanStep, Referable, Referral, ServiceRef, StepAction, Urgency,
};
use pathways_store::{AuditAction, AuditEntry, AuditOutcome, NewReferral};

/// Every personal value in [`case`]; none may appear in a `Debug` output.
pub const PERSONAL: [&str; 8] = [
    "Daniel Okafor",
    "1989-04-02",
    "W10 5AB",
    "07700 900123",
    "daniel.okafor@example.org",
    "12 Acacia Avenue",
    "sleeping in his car",
    "has not eaten since Monday",
];

/// A case with two needs and every personal field filled in.
pub fn case() -> Case {
    let json = r#"{
      "reference": "CAKC-000123", "channel": "phone",
      "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-17"},
      "client": {"name": "Daniel Okafor", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
        "address": "12 Acacia Avenue", "local_authority": "E09000020",
        "phone": "07700 900123", "email": "daniel.okafor@example.org",
        "preferred_language": "en", "safe_contact": false,
        "household": {"adults": 1, "children_ages": [7, 15]}},
      "needs": [
        {"code": "housing_homelessness", "urgency": "emergency", "notes": "sleeping in his car"},
        {"code": "food", "urgency": "urgent", "notes": "has not eaten since Monday"}],
      "circumstances": ["children_in_household"],
      "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
        "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    }"#;
    parse_case(json.as_bytes()).expect("the sample case is valid")
}

/// A fixed instant plus `secs` seconds (whole seconds survive both databases exactly).
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

fn service(id: &str) -> ServiceRef {
    ServiceRef { id: id.to_string(), name: format!("{id} service") }
}

/// A plan led by `lead`: a consented referral to `housing`, one awaiting consent to
/// `needs-consent` with a fallback to `fallback-fb`, and an unmet need.
pub fn plan(lead: &str, housing: &str) -> ActionPlan {
    let chosen = |partner: &str| ChosenService {
        partner: Named { id: partner.to_string(), name: format!("{partner} name") },
        service: service(partner),
        contact: None,
    };
    let step = |order: u32, need: NeedCode, action: StepAction| PlanStep {
        order,
        need_id: format!("n{order}"),
        need,
        urgency: Urgency::Soon,
        due_by: t(0).date_naive(),
        safety: false,
        why: "test".to_string(),
        note: None,
        action,
    };
    let refer = |partner: &str, needs_consent: bool, fallbacks: Vec<Fallback>| {
        StepAction::Refer(Referable {
            chosen: chosen(partner),
            shares: vec![ClientField::Name],
            needs_consent,
            wait: None,
            fallbacks,
        })
    };
    let fallback = Fallback { chosen: chosen("fallback-fb"), why: "second choice".into() };
    ActionPlan {
        case_id: "CAKC-000123".into(),
        version: 1,
        planned_on: t(0).date_naive(),
        complete: true,
        incomplete: vec![],
        act_now: None,
        lead: Lead::Partner {
            partner: Named { id: lead.into(), name: format!("{lead} name") },
            service: None,
            reason: LeadReason::Default,
            why: "lead".into(),
        },
        steps: vec![
            step(1, NeedCode::HousingHomelessness, refer(housing, false, vec![])),
            step(2, NeedCode::Food, refer("needs-consent", true, vec![fallback])),
            step(3, NeedCode::Digital, StepAction::Unmet { signposts: vec![], reasons: vec![] }),
        ],
        client_actions: vec![],
        goals: vec![],
        language: "en".into(),
        interpreter: None,
        partners: vec![],
        amendments: vec![],
        dropped: vec![],
        generated_at: t(0),
    }
}

/// A referral of `needs` to `partner` with every field shared, under `key`.
pub fn referral(partner: &str, needs: &[NeedCode], key: &str) -> NewReferral {
    let all = [
        ClientField::Name,
        ClientField::DateOfBirth,
        ClientField::Postcode,
        ClientField::Address,
        ClientField::Phone,
        ClientField::Email,
        ClientField::NeedNotes,
        ClientField::Household,
    ];
    // Each key its own service: one live referral per step would refuse a second otherwise.
    let service = ServiceRef { id: format!("{partner}-{key}"), name: format!("{partner} service") };
    let (partner, key) = (partner.parse().unwrap(), key.parse().unwrap());
    Referral::for_partner(&case(), &partner, service, needs, &all, true, key).into()
}

/// An audit entry by `organisation`.
pub fn audit(organisation: &str, action: AuditAction, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        at,
        key_id: format!("key-{organisation}"),
        organisation: organisation.to_string(),
        action,
        case_id: None,
        referral_id: None,
        outcome: AuditOutcome::Ok,
    }
}

/// A referral for the plan step (`partner`, first of `needs`, `service_id`), under `key`:
/// referrals for one step share the service, unlike [`referral`]'s.
pub fn step_referral(
    partner: &str,
    needs: &[NeedCode],
    service_id: &str,
    key: &str,
) -> NewReferral {
    let mut new = referral(partner, needs, key);
    new.referral.service = ServiceRef { id: service_id.to_string(), name: "a service".into() };
    new
}
