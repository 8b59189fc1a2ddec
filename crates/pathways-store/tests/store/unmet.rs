//! Unmet needs by need and area (the coordinator's dashboard): counted from each case's
//! newest plan, by the case's council area, per organisation or for all, over `[from, to)`;
//! erased cases still count; databases from before version 4 get filled in on opening.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pathways_core::{ActionPlan, NeedCode, StepAction};
use pathways_store::{
    CaseId, ErasureReason, OpenReasonCount, OpenStatus, Store, UnmetNeedRow, REASON_NOT_RECORDED,
};

use crate::data::{case, plan, t};
use crate::fixtures::Fixture;

const ORG: &str = "citizens-advice-kc";
/// The sample case's council area (Kensington and Chelsea).
const KC: &str = "E09000020";
/// Another council area (Cardiff).
const CARDIFF: &str = "W06000015";

/// A case of `organisation` whose client can use the services of council area `area`.
async fn case_in(store: &dyn Store, organisation: &str, area: &str) -> CaseId {
    let mut c = case();
    c.client.local_authority = area.into();
    store.insert_case(organisation, &c).await.unwrap()
}

/// The sample plan as version `version`, with exactly `unmet` marked unmet: its own steps for
/// those needs turned `unmet`, its other steps not, and a step added for each need it lacks.
fn plan_with_unmet(version: u32, unmet: &[NeedCode]) -> ActionPlan {
    let mut p = plan("lead-a", "housing-a");
    p.version = version;
    let template = p.steps.iter().find(|s| s.is_unmet()).expect("the sample has one").clone();
    p.steps.retain(|s| !s.is_unmet());
    for step in &mut p.steps {
        if unmet.contains(&step.need) {
            step.action = StepAction::Unmet { signposts: vec![], reasons: vec![] };
        }
    }
    for need in unmet {
        if !p.steps.iter().any(|s| s.need == *need) {
            let mut step = template.clone();
            step.order = p.steps.len() as u32 + 1;
            step.need_id = format!("n{}", step.order);
            step.need = *need;
            p.steps.push(step);
        }
    }
    assert_eq!(p.unmet().count(), unmet.len());
    p
}

/// Stores a plan of `case_id` with `unmet` needs.
async fn plan_case(store: &dyn Store, case_id: &CaseId, version: u32, unmet: &[NeedCode]) {
    let plan = plan_with_unmet(version, unmet);
    store.insert_plan(case_id, &plan, &serde_json::Value::Null).await.unwrap();
}

/// A day either side of now: plans are stamped by the system clock.
fn around_now() -> (DateTime<Utc>, DateTime<Utc>) {
    let now = Utc::now();
    (now - Duration::days(1), now + Duration::days(1))
}

/// An `unmet` line whose plans recorded no reason (as [`plan_with_unmet`] makes them).
fn row(need: NeedCode, area: &str, cases: u64) -> UnmetNeedRow {
    let reasons = vec![OpenReasonCount { reason: REASON_NOT_RECORDED.into(), cases }];
    UnmetNeedRow { status: OpenStatus::Unmet, need, area: area.into(), cases, reasons }
}

/// Unmet needs over [`around_now`].
async fn today(store: &dyn Store, organisation: Option<&str>) -> Vec<UnmetNeedRow> {
    let (from, to) = around_now();
    store.unmet_needs(organisation, from, to).await.unwrap()
}

pub async fn unmet_needs_count_by_need_and_area_most_first(fx: &Fixture) {
    let store = &*fx.store;
    use NeedCode::{Digital, Food, Transport};
    // Two unmet needs in one plan count both; a need listed twice counts the case once.
    let both = case_in(store, ORG, KC).await;
    let mut twice = plan_with_unmet(1, &[Digital, Food]);
    let mut again = twice.steps.last().unwrap().clone();
    again.need_id = "n9".into();
    twice.steps.push(again);
    store.insert_plan(&both, &twice, &serde_json::Value::Null).await.unwrap();
    let digital = case_in(store, ORG, KC).await;
    plan_case(store, &digital, 1, &[Digital]).await;
    let cardiff = case_in(store, ORG, CARDIFF).await;
    plan_case(store, &cardiff, 1, &[Digital, Transport]).await;
    // Nothing unmet, and no plan at all: nothing to count.
    let met = case_in(store, ORG, KC).await;
    plan_case(store, &met, 1, &[]).await;
    case_in(store, ORG, KC).await;

    assert_eq!(
        today(store, Some(ORG)).await,
        [
            row(Digital, KC, 2),
            row(Food, KC, 1),
            row(Digital, CARDIFF, 1),
            row(Transport, CARDIFF, 1)
        ],
        "most first, then by need (in the canonical order) and area"
    );
    // The plans themselves are as stored.
    assert_eq!(store.latest_plan(&both).await.unwrap().unwrap().plan, twice);
}

pub async fn a_newer_plan_replaces_the_unmet_needs_of_the_older(fx: &Fixture) {
    let store = &*fx.store;
    use NeedCode::{Digital, Food};
    let case_id = case_in(store, ORG, KC).await;
    plan_case(store, &case_id, 1, &[Digital, Food]).await;
    let first = store.latest_plan(&case_id).await.unwrap().unwrap().created_at;
    assert_eq!(today(store, None).await, [row(Food, KC, 1), row(Digital, KC, 1)]);

    // Version 2 meets the food need: it no longer counts.
    plan_case(store, &case_id, 2, &[Digital]).await;
    let second = store.latest_plan(&case_id).await.unwrap().unwrap().created_at;
    assert_eq!(today(store, None).await, [row(Digital, KC, 1)]);
    // The older plan no longer counts in its own time either, unless it is the newer's too.
    if first < second {
        let before_second = store.unmet_needs(None, first, second).await.unwrap();
        assert!(before_second.is_empty(), "{before_second:?}");
    }

    // Version 3 meets everything; every plan is still kept.
    plan_case(store, &case_id, 3, &[]).await;
    assert!(today(store, None).await.is_empty());
    assert_eq!(store.plans_of_case(&case_id).await.unwrap().len(), 3);
    assert_eq!(fx.raw_count("plan_unmet").await, 0);
}

pub async fn unmet_needs_count_only_the_organisations_cases(fx: &Fixture) {
    let store = &*fx.store;
    use NeedCode::{Digital, Food};
    for _ in 0..2 {
        let a = case_in(store, "org-a", KC).await;
        plan_case(store, &a, 1, &[Digital]).await;
    }
    let b = case_in(store, "org-b", KC).await;
    plan_case(store, &b, 1, &[Digital, Food]).await;

    assert_eq!(today(store, Some("org-a")).await, [row(Digital, KC, 2)]);
    assert_eq!(today(store, Some("org-b")).await, [row(Food, KC, 1), row(Digital, KC, 1)]);
    assert_eq!(today(store, None).await, [row(Digital, KC, 3), row(Food, KC, 1)], "the operator");
    assert!(today(store, Some("org-c")).await.is_empty());
}

pub async fn unmet_needs_count_the_plans_made_from_from_until_before_to(fx: &Fixture) {
    let store = &*fx.store;
    let case_id = case_in(store, ORG, KC).await;
    plan_case(store, &case_id, 1, &[NeedCode::Digital]).await;
    let at = store.latest_plan(&case_id).await.unwrap().unwrap().created_at;
    let micro = Duration::microseconds(1);
    let count = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let store = Arc::clone(&fx.store);
        async move { store.unmet_needs(None, from, to).await.unwrap() }
    };

    assert_eq!(count(at, at + micro).await, [row(NeedCode::Digital, KC, 1)], "from is in");
    assert!(count(at - Duration::seconds(1), at).await.is_empty(), "to is out");
    assert!(count(at + micro, at + Duration::days(1)).await.is_empty(), "later");
    assert!(count(at, at).await.is_empty(), "an empty period");
    assert!(count(t(0), t(1)).await.is_empty(), "long before");
}

pub async fn unmet_needs_of_a_period_follow_their_index(fx: &Fixture) {
    const CASES: i64 = 10_000;
    // Documents that are not sealed at all: counting must not try to open them.
    let (cases, unmet) = if fx.is_sqlite() {
        let rows = |select: &str| {
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {CASES})
                 {select} FROM n"
            )
        };
        let base = t(0).timestamp_micros();
        (
            rows(&format!(
                "INSERT INTO cases (id, organisation, case_json, created_at, local_authority)
                 SELECT printf('%032x', i), 'bulk-org', 'not a sealed value', {base} + i * 1000000,
                        CASE WHEN i % 2 = 0 THEN '{KC}' ELSE '{CARDIFF}' END"
            )),
            rows(&format!(
                "INSERT INTO plan_unmet (case_id, need, status, reason, planned_at)
                 SELECT printf('%032x', i), 'digital', 'unmet', '', {base} + i * 1000000"
            )),
        )
    } else {
        let at =
            |i: &str| format!("'{}'::TIMESTAMPTZ + {i} * INTERVAL '1 second'", t(0).to_rfc3339());
        (
            format!(
                "INSERT INTO cases (id, organisation, case_json, created_at, local_authority)
                 SELECT lpad(to_hex(i), 32, '0'), 'bulk-org', 'not a sealed value', {},
                        CASE WHEN i % 2 = 0 THEN '{KC}' ELSE '{CARDIFF}' END
                 FROM generate_series(1, {CASES}) i",
                at("i")
            ),
            format!(
                "INSERT INTO plan_unmet (case_id, need, status, reason, planned_at)
                 SELECT lpad(to_hex(i), 32, '0'), 'digital', 'unmet', '', {}
                 FROM generate_series(1, {CASES}) i",
                at("i")
            ),
        )
    };
    assert_eq!(fx.raw_execute(&cases).await, Ok(CASES as u64));
    assert_eq!(fx.raw_execute(&unmet).await, Ok(CASES as u64));
    let counted = fx.store.unmet_needs(Some("bulk-org"), t(101), t(201)).await.unwrap();
    let expected = [row(NeedCode::Digital, KC, 50), row(NeedCode::Digital, CARDIFF, 50)];
    assert_eq!(counted, expected);
    assert_eq!(fx.store.unmet_needs(None, t(101), t(201)).await.unwrap(), expected);

    // The plan the databases make for a period: the index on the plans' time, never a scan of
    // the whole table. (How the cases are then joined, by key or by hash, is the planner's
    // choice by the tables' sizes.)
    let (from, to) = if fx.is_sqlite() {
        (t(101).timestamp_micros().to_string(), t(201).timestamp_micros().to_string())
    } else {
        (format!("'{}'", t(101).to_rfc3339()), format!("'{}'", t(201).to_rfc3339()))
    };
    let plan = fx
        .explain(&format!(
            "SELECT u.need, COALESCE(c.local_authority, '') AS area, COUNT(*)
             FROM plan_unmet u JOIN cases c ON c.id = u.case_id
             WHERE u.planned_at >= {from} AND u.planned_at < {to}
               AND c.organisation = 'bulk-org'
             GROUP BY u.need, area"
        ))
        .await;
    assert!(plan.contains("plan_unmet_by_time"), "{plan}");
    assert!(!plan.contains("SCAN u") && !plan.contains("Seq Scan on plan_unmet"), "{plan}");
}

pub async fn an_erased_case_still_counts_with_its_area(fx: &Fixture) {
    let store = &*fx.store;
    use NeedCode::{Digital, Food};
    let erased = case_in(store, ORG, CARDIFF).await;
    plan_case(store, &erased, 1, &[Digital, Food]).await;
    let kept = case_in(store, ORG, KC).await;
    plan_case(store, &kept, 1, &[Digital]).await;
    let before = today(store, Some(ORG)).await;
    assert_eq!(before, [row(Food, CARDIFF, 1), row(Digital, KC, 1), row(Digital, CARDIFF, 1)]);

    store.erase_case(&erased, ErasureReason::ClientRequest, Utc::now()).await.unwrap();
    assert!(store.get_case(&erased).await.unwrap().is_none());
    assert!(store.plans_of_case(&erased).await.unwrap().is_empty(), "its plans are gone");
    assert_eq!(today(store, Some(ORG)).await, before, "same figures");
    assert_eq!(today(store, None).await, before);
    let sql = format!("SELECT local_authority FROM cases WHERE id = '{erased}'");
    assert_eq!(fx.raw_text(&sql).await, [Some(CARDIFF.to_string())], "its area is kept");
}

pub async fn two_daemons_planning_one_case_keep_the_newest_plans_unmet_needs(fx: &Fixture) {
    use NeedCode::{Digital, Food, Transport};
    let case_id = case_in(&*fx.store, ORG, KC).await;
    let second = fx.reopen().await;
    let sets: [&[NeedCode]; 4] = [&[Digital, Food], &[Transport], &[], &[Food, Transport]];
    let daemon = |store: Arc<dyn Store>, offset: usize| {
        let case_id = case_id.clone();
        async move {
            for i in 0..8 {
                let unmet = sets[(i + offset) % sets.len()];
                plan_case(&*store, &case_id, (i * 2 + offset) as u32 + 1, unmet).await;
            }
        }
    };
    tokio::join!(daemon(Arc::clone(&fx.store), 0), daemon(second, 1));

    let newest = fx.store.latest_plan(&case_id).await.unwrap().unwrap().plan;
    let mut expected: Vec<NeedCode> = newest.unmet().map(|s| s.need).collect();
    expected.sort();
    let counted = today(&*fx.store, None).await;
    assert_eq!(counted, expected.iter().map(|need| row(*need, KC, 1)).collect::<Vec<_>>());
    assert_eq!(fx.store.plans_of_case(&case_id).await.unwrap().len(), 16);
}

pub async fn a_version_3_database_gets_its_areas_and_unmet_needs_filled_on_opening(fx: &Fixture) {
    use NeedCode::{Digital, Food, Transport};
    let keys = &fx.keys;
    let ids = [(); 5].map(|()| CaseId::random());
    let [planned, bare, unplanned, unknown, erased] = &ids;
    let document = |area: &str| {
        let mut c = case();
        c.client.local_authority = area.into();
        serde_json::to_vec(&c).unwrap()
    };
    let sealed_case = |id: &CaseId, area: &str| keys.seal(&document(area), &format!("case:{id}"));
    let sealed_plan = |id: &CaseId, version: u32, unmet: &[NeedCode]| {
        let record = serde_json::json!({"plan": plan_with_unmet(version, unmet), "basis": null});
        keys.seal(record.to_string().as_bytes(), &format!("plan:{id}"))
    };
    let (mut sqlite, mut postgres) = (String::new(), String::new());
    let cases = [
        (planned, sealed_case(planned, "E08000035")),
        (bare, sealed_case(bare, KC)),
        (unplanned, sealed_case(unplanned, CARDIFF)),
        // Not an ONS code: the area is not known, and no free text is copied out.
        (unknown, sealed_case(unknown, "Kensington")),
        (erased, "erased".to_string()),
    ];
    for (at, (id, json)) in cases.iter().enumerate() {
        let (created, erased_at) = (t(at as i64), if *id == erased { "1" } else { "NULL" });
        sqlite += &format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, erased_at, reference,
                                need_count)
             VALUES ('{id}', '{ORG}', '{json}', {}, {erased_at}, 'CAKC-000123', 2);\n",
            created.timestamp_micros()
        );
        let erased_at = if *id == erased { "now()" } else { "NULL" };
        postgres += &format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, erased_at, reference,
                                need_count)
             VALUES ('{id}', '{ORG}', '{json}', '{}', {erased_at}, 'CAKC-000123', 2);\n",
            created.to_rfc3339()
        );
    }
    // A plan kept before plans had versions: the bare plan, which reads back as none.
    let bare_plan = serde_json::to_vec(&plan_with_unmet(1, &[Digital])).unwrap();
    let plans = [
        (planned, sealed_plan(planned, 1, &[Digital, Food]), 1, 5),
        (planned, sealed_plan(planned, 2, &[Digital]), 2, 6),
        (bare, keys.seal(&bare_plan, &format!("plan:{bare}")), 0, 7),
        (unknown, sealed_plan(unknown, 1, &[Transport]), 1, 8),
    ];
    for (case_id, json, version, at) in &plans {
        sqlite += &format!(
            "INSERT INTO plans (case_id, plan_json, created_at, version)
             VALUES ('{case_id}', '{json}', {}, {version});\n",
            t(*at).timestamp_micros()
        );
        postgres += &format!(
            "INSERT INTO plans (case_id, plan_json, created_at, version)
             VALUES ('{case_id}', '{json}', '{}', {version});\n",
            t(*at).to_rfc3339()
        );
    }
    let old = fx.version_3(&sqlite, &postgres).await;

    assert_eq!(old.raw_count("schema_migrations").await, crate::fixtures::SCHEMA_VERSION);
    let areas = old.raw_text("SELECT local_authority FROM cases ORDER BY created_at").await;
    let expected = ["E08000035", KC, CARDIFF, ""].map(|a| Some(a.to_string()));
    assert_eq!(areas[..4], expected, "filled from the documents");
    assert_eq!(areas[4], None, "erased before version 4: its document is gone");
    // The newest plan counts, at its own time; the older one, replaced, does not.
    let counted = old.store.unmet_needs(Some(ORG), t(0), t(100)).await.unwrap();
    assert_eq!(counted, [row(Digital, "E08000035", 1), row(Transport, "", 1)]);
    assert!(old.store.unmet_needs(None, t(5), t(6)).await.unwrap().is_empty());
    assert_eq!(old.store.unmet_needs(None, t(6), t(7)).await.unwrap()[0].cases, 1);
    // The documents themselves are untouched and still read back.
    assert_eq!(
        old.store.get_case(planned).await.unwrap().unwrap().case.client.local_authority,
        "E08000035"
    );
    assert_eq!(
        old.store.latest_plan(planned).await.unwrap().unwrap().plan,
        plan_with_unmet(2, &[Digital])
    );

    // Opening again finds nothing left to fill; a new plan replaces the filled-in one.
    let again = old.reopen().await;
    assert_eq!(again.unmet_needs(Some(ORG), t(0), t(100)).await.unwrap(), counted);
    plan_case(&*again, planned, 3, &[Food]).await;
    assert_eq!(today(&*again, None).await, [row(Food, "E08000035", 1)]);
    assert_eq!(again.unmet_needs(None, t(0), t(100)).await.unwrap(), [row(Transport, "", 1)]);
    old.teardown().await;
}

/// The sample plan with its housing step `blocked` for want of `missing`, and its digital
/// step `unmet` for `reasons`.
fn plan_with_blocked(
    missing: Vec<pathways_core::Missing>,
    reasons: Vec<pathways_core::UnmetReason>,
) -> ActionPlan {
    let mut p = plan("lead-a", "housing-a");
    for step in &mut p.steps {
        step.action = match (&step.action, step.need) {
            (StepAction::Refer(refer), NeedCode::HousingHomelessness) => StepAction::Blocked {
                chosen: refer.chosen.clone(),
                missing: missing.clone(),
                fallbacks: vec![],
            },
            (StepAction::Unmet { .. }, _) => {
                StepAction::Unmet { signposts: vec![], reasons: reasons.clone() }
            }
            (action, _) => action.clone(),
        };
    }
    p
}

fn line(status: OpenStatus, need: NeedCode, cases: u64, reasons: &[(&str, u64)]) -> UnmetNeedRow {
    let reasons = reasons
        .iter()
        .map(|(reason, cases)| OpenReasonCount { reason: reason.to_string(), cases: *cases })
        .collect();
    UnmetNeedRow { status, need, area: KC.into(), cases, reasons }
}

pub async fn blocked_needs_and_each_reason_are_counted_apart(fx: &Fixture) {
    use pathways_core::{Missing, UnmetReason};
    use NeedCode::{Digital, HousingHomelessness};
    let store = &*fx.store;
    let plans = [
        plan_with_blocked(
            vec![Missing::ConsentToRefer, Missing::ChosenAuthority],
            vec![UnmetReason::NoServiceInArea],
        ),
        plan_with_blocked(vec![Missing::ChosenAuthority], vec![UnmetReason::NoCapacity]),
        plan_with_blocked(
            vec![Missing::ChosenAuthority],
            vec![UnmetReason::NoCapacity, UnmetReason::NotEligible],
        ),
    ];
    for p in &plans {
        let case_id = case_in(store, ORG, KC).await;
        store.insert_plan(&case_id, p, &serde_json::Value::Null).await.unwrap();
    }
    assert_eq!(
        today(store, Some(ORG)).await,
        [
            line(
                OpenStatus::Unmet,
                Digital,
                3,
                &[("no_capacity", 2), ("no_service_in_area", 1), ("not_eligible", 1)]
            ),
            line(
                OpenStatus::Blocked,
                HousingHomelessness,
                3,
                &[("chosen_authority", 3), ("consent_to_refer", 1)]
            ),
        ],
        "a case counts once per need, and once under each of its reasons"
    );
}

pub async fn a_version_7_database_gets_its_blocked_needs_filled_on_opening(fx: &Fixture) {
    use pathways_core::Missing;
    use NeedCode::{Digital, HousingHomelessness};
    let keys = &fx.keys;
    let (case_id, erased) = (CaseId::random(), CaseId::random());
    let mut c = case();
    c.client.local_authority = KC.into();
    let sealed_case = keys.seal(&serde_json::to_vec(&c).unwrap(), &format!("case:{case_id}"));
    // A plan as version 7 wrote it: no reasons on unmet steps; blocked steps not counted.
    let mut record = serde_json::json!({
        "plan": plan_with_blocked(vec![Missing::ChosenAuthority], vec![]),
        "basis": null
    });
    for step in record["plan"]["steps"].as_array_mut().unwrap() {
        step.as_object_mut().unwrap().remove("reasons");
    }
    let sealed_plan = keys.seal(record.to_string().as_bytes(), &format!("plan:{case_id}"));
    let (mut sqlite, mut postgres) = (String::new(), String::new());
    for (id, json, erased_at) in
        [(&case_id, sealed_case.as_str(), None), (&erased, "erased", Some(t(2)))]
    {
        sqlite += &format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, erased_at,
                                local_authority)
             VALUES ('{id}', '{ORG}', '{json}', {}, {}, '{KC}');\n",
            t(1).timestamp_micros(),
            erased_at.map_or("NULL".to_string(), |at| at.timestamp_micros().to_string())
        );
        postgres += &format!(
            "INSERT INTO cases (id, organisation, case_json, created_at, erased_at,
                                local_authority)
             VALUES ('{id}', '{ORG}', '{json}', '{}', {}, '{KC}');\n",
            t(1).to_rfc3339(),
            erased_at.map_or("NULL".to_string(), |at| format!("'{}'", at.to_rfc3339()))
        );
        sqlite += &format!(
            "INSERT INTO plan_unmet (case_id, need, planned_at)
             VALUES ('{id}', 'digital', {});\n",
            t(3).timestamp_micros()
        );
        postgres += &format!(
            "INSERT INTO plan_unmet (case_id, need, planned_at)
             VALUES ('{id}', 'digital', '{}');\n",
            t(3).to_rfc3339()
        );
    }
    sqlite += &format!(
        "INSERT INTO plans (case_id, plan_json, created_at, version)
         VALUES ('{case_id}', '{sealed_plan}', {}, 1);\n",
        t(3).timestamp_micros()
    );
    postgres += &format!(
        "INSERT INTO plans (case_id, plan_json, created_at, version)
         VALUES ('{case_id}', '{sealed_plan}', '{}', 1);\n",
        t(3).to_rfc3339()
    );
    let old = fx.version_7(&sqlite, &postgres).await;

    assert_eq!(old.raw_count("schema_migrations").await, crate::fixtures::SCHEMA_VERSION);
    assert_eq!(
        old.store.unmet_needs(Some(ORG), t(0), t(100)).await.unwrap(),
        [
            // The erased case's row is kept as it was (its plan is gone): reason not recorded.
            line(OpenStatus::Unmet, Digital, 2, &[(REASON_NOT_RECORDED, 2)]),
            line(OpenStatus::Blocked, HousingHomelessness, 1, &[("chosen_authority", 1)]),
        ]
    );
    let again = old.reopen().await;
    assert_eq!(again.unmet_needs(Some(ORG), t(0), t(100)).await.unwrap().len(), 2);
    old.teardown().await;
}
