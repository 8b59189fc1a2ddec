//! What planning costs once the answers are in: `build_plan` for a five-need case with 16
//! partners answering three offers each. The planner runs once per plan, after the fan-out, so
//! it must be negligible against partner round trips of tens of milliseconds.
//!
//! Run: `cargo bench -p pathways-orchestrator --bench planner`. Results: docs/BENCHMARKS.md.

use chrono::{NaiveDate, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use pathways_core::{
    parse_case, Capability, Capacity, ClientField, Eligibility, Manifest, NeedCode, Offer,
    OfferLocation, PartnerKind, PartnerOutcome, ServiceRef,
};
use pathways_orchestrator::{build_plan, PartnerAnswer, PathwayCounts, PathwayStats, PlanRules};

const NEEDS: [NeedCode; 5] = [
    NeedCode::HousingHomelessness,
    NeedCode::Food,
    NeedCode::DebtMoney,
    NeedCode::MentalHealth,
    NeedCode::DomesticAbuse,
];

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
                    shares: vec![ClientField::Name, ClientField::Phone, ClientField::Household],
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

criterion_group!(benches, planner);
criterion_main!(benches);
