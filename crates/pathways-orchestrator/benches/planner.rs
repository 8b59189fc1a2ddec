//! What planning costs once the answers are in: `build_plan` for a five-need case with 16
//! partners answering three offers each, and for a case with all 17 needs with 16 partners
//! answering two offers for each of six needs (192 offers, each with contact details and
//! opening hours, so every sentence of the plan is formatted from the message catalogue). The
//! planner runs once per plan (and once per amendment), after the fan-out, so it must be
//! negligible against partner round trips of tens of milliseconds; the target is under 1 ms.
//!
//! Run: `cargo bench -p pathways-orchestrator --bench planner`. Results: docs/BENCHMARKS.md.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use pathways_core::{
    parse_case, Capability, Capacity, ClientField, Eligibility, Manifest, NeedCode, Offer,
    OfferLocation, OpeningHours, PartnerKind, PartnerOutcome, Route, ServiceContact, ServiceRef,
    Weekday,
};
use pathways_orchestrator::{build_plan, PartnerAnswer, PathwayCounts, PathwayStats, PlanRules};

const NEEDS: [NeedCode; 5] = [
    NeedCode::HousingHomelessness,
    NeedCode::Food,
    NeedCode::DebtMoney,
    NeedCode::MentalHealth,
    NeedCode::DomesticAbuse,
];

/// Partner `p`'s answer: it serves and was asked about `needs`, shares `shares`.
fn answered(
    p: usize,
    needs: &[NeedCode],
    shares: Vec<ClientField>,
    offers: Vec<Offer>,
) -> PartnerAnswer {
    PartnerAnswer {
        partner_id: format!("partner-{p:02}"),
        name: format!("Partner {p:02}"),
        domestic_abuse_confirmed: false,
        manifest: Manifest {
            plugin: "bench".into(),
            kind: PartnerKind::Other,
            version: "1.0.0".into(),
            description: "bench partner".into(),
            needs: needs.to_vec(),
            areas: Vec::new(),
            shares,
            capabilities: vec![Capability::Availability, Capability::Referral],
            settings_schema: serde_json::Value::Null,
            build: None,
            requires: Vec::new(),
        },
        asked: needs.to_vec(),
        outcome: PartnerOutcome::Answered,
        latency_ms: 40,
        detail: None,
        offers,
    }
}

fn answers() -> Vec<PartnerAnswer> {
    (0..16)
        .map(|p| {
            let needs = [NEEDS[p % 5], NEEDS[(p + 2) % 5]];
            let offers = (0..3)
                .map(|o| Offer {
                    need: needs[o % 2],
                    service: ServiceRef { id: format!("s{o}"), name: format!("Service {p}-{o}") },
                    eligibility: if o == 2 { Eligibility::Unknown } else { Eligibility::Eligible },
                    capacity: [Capacity::Capacity, Capacity::Waitlist, Capacity::NoCapacity]
                        [(p + o) % 3],
                    earliest_start: NaiveDate::from_ymd_opt(2026, 11, 21 + (p as u32 % 7)),
                    wait_estimate: Some("about a week".into()),
                    channel: None,
                    location: Some(OfferLocation {
                        name: "Hall".into(),
                        postcode: None,
                        distance_m: Some(300 * p as u32),
                    }),
                    contact: None,
                    route: None,
                })
                .collect();
            let shares = vec![ClientField::Name, ClientField::Phone, ClientField::Household];
            answered(p, &needs, shares, offers)
        })
        .collect()
}

fn planner(c: &mut Criterion) {
    let needs: Vec<serde_json::Value> =
        NEEDS.iter().map(|n| serde_json::json!({"code": n, "urgency": "urgent"})).collect();
    let case = parse_case(
        serde_json::json!({
            "reference": "BENCH-1", "channel": "phone",
            "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-1"},
            "client": {"name": "Bench Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
                "local_authority": "E09000020", "phone": "07700 900123", "email": null,
                "preferred_language": "en", "safe_contact": true,
                "household": {"adults": 1, "children_ages": [7]}},
            "needs": needs,
            "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                "recorded_by": "pf-1", "recorded_at": "2026-11-20T10:00:00Z"}
        })
        .to_string()
        .as_bytes(),
    )
    .expect("bench case");
    let answers = answers();
    let stats: PathwayStats = (0..16)
        .map(|p| {
            (
                format!("partner-{p:02}"),
                NEEDS[p % 5],
                PathwayCounts { sent: 20, accepted: 10 + p as u32 / 2, completed: 8 },
            )
        })
        .collect();
    let rules = PlanRules::default();
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    c.bench_function("build_plan/5 needs, 16 partners, 48 offers", |b| {
        b.iter(|| build_plan(&case, &answers, &stats, &rules, today, at))
    });
}

/// Every need, 16 partners each answering two offers for six of them, with contact details.
fn every_need(c: &mut Criterion) {
    let needs: Vec<serde_json::Value> = NeedCode::ALL
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let urgency = ["emergency", "urgent", "soon", "routine"][i % 4];
            serde_json::json!({"code": n, "urgency": urgency, "notes": "bench"})
        })
        .collect();
    let case = parse_case(
        serde_json::json!({
            "reference": "BENCH-17", "channel": "phone",
            "referrer": {"organisation": "citizens-advice-kc", "worker": "pf-1"},
            "client": {"name": "Bench Person", "date_of_birth": "1949-04-02", "postcode": "W10 5AB",
                "local_authority": "E09000020", "phone": "07700 900123", "email": null,
                "preferred_language": "en", "safe_contact": false,
                "household": {"adults": 1, "children_ages": []}},
            "needs": needs,
            "circumstances": ["limited_english"],
            "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                "recorded_by": "pf-1", "recorded_at": "2026-11-20T10:00:00Z"}
        })
        .to_string()
        .as_bytes(),
    )
    .expect("bench case");
    let contact = ServiceContact {
        phone: Some("020 7946 0000".into()),
        address: Some("1 High Street, London, W10 5AB".into()),
        url: Some("https://example.org/service".into()),
        opening_hours: vec![OpeningHours {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            opens: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            closes: NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
        }],
        ..ServiceContact::default()
    };
    let answers: Vec<PartnerAnswer> = (0..16)
        .map(|p| {
            let served: Vec<NeedCode> = (0..6).map(|k| NeedCode::ALL[(p + 3 * k) % 17]).collect();
            let offers = served
                .iter()
                .flat_map(|need| (0..2).map(move |o| (*need, o)))
                .map(|(need, o)| Offer {
                    need,
                    service: ServiceRef {
                        id: format!("{need}-{o}"),
                        name: format!("Service {p}-{need}-{o}"),
                    },
                    eligibility: if o == 1 { Eligibility::Unknown } else { Eligibility::Eligible },
                    capacity: [Capacity::Capacity, Capacity::Waitlist][(p + o) % 2],
                    earliest_start: NaiveDate::from_ymd_opt(2026, 11, 21 + (p as u32 % 9) * 3),
                    wait_estimate: Some("about a week".into()),
                    channel: None,
                    location: Some(OfferLocation {
                        name: "Hall".into(),
                        postcode: None,
                        distance_m: Some(300 * p as u32),
                    }),
                    contact: Some(contact.clone()),
                    route: Some(if p % 4 == 3 { Route::Signpost } else { Route::Refer }),
                })
                .collect();
            let shares = vec![ClientField::Name, ClientField::Phone, ClientField::NeedNotes];
            answered(p, &served, shares, offers)
        })
        .collect();
    let rules = PlanRules::default();
    let stats = PathwayStats::new();
    let today = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
    let at = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let plan = build_plan(&case, &answers, &stats, &rules, today, at);
    assert_eq!(plan.steps.len(), 17, "every need once");
    c.bench_function("build_plan/17 needs, 16 partners, 192 offers", |b| {
        b.iter(|| build_plan(&case, &answers, &stats, &rules, today, at))
    });
}

criterion_group!(benches, planner, every_need);
criterion_main!(benches);
