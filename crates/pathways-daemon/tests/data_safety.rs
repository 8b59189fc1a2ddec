//! Who sees what, one live referral per step, scoped reports, erasure, export, legal holds and
//! the audit route, through the whole router (in process; the end-to-end tests in
//! `crates/pathways/tests/data_safety.rs` repeat the essentials with the real plugins).

mod support;

use axum::http::{Method, StatusCode};
use support::{safe_contact_case_json, Harness, ORG_A};

/// A planned, referred and delivered safe-contact case of `ORG_A`: (case id, referral id).
async fn referred_case(h: &Harness) -> (String, String) {
    let (status, body) =
        h.send(h.post("/v1/cases", &h.pathfinder_a, safe_contact_case_json(ORG_A))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, plan) =
        h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let (status, pantry) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pantry)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "planned is not sent: {pantry}");
    let path = format!("/v1/cases/{id}/referrals");
    let (status, accepted) = h
        .send(h.post_with_key(&path, &h.pathfinder_a, "k-1", r#"{"needs": ["food"]}"#.into()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let referral = accepted["referrals"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pantry)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "queued is not sent either");
    assert_eq!(h.deliver_all().await, 1);
    (id, referral)
}

#[tokio::test]
async fn a_partner_organisation_sees_exactly_what_was_sent_to_it_and_nothing_else() {
    let h = Harness::new().await;
    let (id, referral) = referred_case(&h).await;

    let (status, view) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pantry)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["view"], "partner");
    let referrals = view["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 1, "{view}");
    let sent = &referrals[0]["sent"];
    assert_eq!(sent["client"]["name"], "Amara Example", "it declared the name: {view}");
    assert_eq!(sent["client"]["year_of_birth"], 1990);
    assert_eq!(sent["client"]["contact_via_referrer"], true);
    assert_eq!(sent["needs"].as_array().unwrap().len(), 1);
    assert_eq!(sent["needs"][0]["notes"], "no food since Tuesday", "its own need's notes");
    let text = view.to_string();
    for absent in [
        "12 Hidden Mews",           // safe contact: not a domestic-abuse service
        "07700 900456",             // nor the phone
        "amara@example.org",        // nor the email
        "partner has been violent", // another need's notes
        "1990-03-04",               // the full date of birth it did not declare
        "mental_health",            // nor even that the need exists
        "W10 5AB",
    ] {
        assert!(!text.contains(absent), "`{absent}` leaked to the partner: {text}");
    }
    assert!(view.get("case").is_none(), "never the case: {view}");

    let (status, one) = h.send(h.get(&format!("/v1/referrals/{referral}"), &h.pantry)).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(
        (one["view"].as_str(), one["id"].as_str()),
        (Some("partner"), Some(referral.as_str()))
    );
    assert!(!one.to_string().contains("12 Hidden Mews"));

    // Planning, re-planning, referring, exporting and erasing are the owner's.
    let denied = [
        h.get(&format!("/v1/cases/{id}/plan"), &h.pantry),
        h.post(&format!("/v1/cases/{id}/plan"), &h.pantry, String::new()),
        h.post_with_key(&format!("/v1/cases/{id}/referrals"), &h.pantry, "p-1", "{}".into()),
        h.get(&format!("/v1/cases/{id}/export"), &h.pantry),
        h.delete(&format!("/v1/cases/{id}"), &h.pantry, r#"{"reason": "other"}"#.into()),
    ];
    for req in denied {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, body) = h.send(req).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    }
    // Another organisation sees nothing at all.
    let (status, _) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_b)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h.send(h.get(&format!("/v1/referrals/{referral}"), &h.pathfinder_b)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The owner sees the whole case, with the referral listed.
    let (status, owner) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(owner["view"], "owner");
    assert_eq!(owner["case"]["client"]["address"], "12 Hidden Mews, London");
    assert_eq!(owner["referrals"][0]["id"], referral.as_str());
    let actions = h.audit_actions().await;
    assert!(actions.contains(&"case.read:ok_partner_view".to_string()), "{actions:?}");
    assert!(actions.contains(&"plan.create:not_visible".to_string()), "{actions:?}");
}

#[tokio::test]
async fn a_step_with_a_live_referral_cannot_be_referred_again_under_a_new_key() {
    let h = Harness::new().await;
    let (id, referral) = referred_case(&h).await;
    let path = format!("/v1/cases/{id}/referrals");
    for key in ["k-2", "k-3"] {
        let (status, body) =
            h.send(h.post_with_key(&path, &h.pathfinder_a, key, "{}".into())).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "step_already_referred");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&referral), "names the live referral: {message}");
    }
    // The first key still replays its first answer.
    let (status, replay) = h
        .send(h.post_with_key(&path, &h.pathfinder_a, "k-1", r#"{"needs": ["food"]}"#.into()))
        .await;
    assert_eq!(
        (status, replay["referrals"][0]["id"].as_str()),
        (StatusCode::ACCEPTED, Some(referral.as_str()))
    );
    // Once the referral is final, the need can be referred again.
    let rejected = pathways_store::StatusChange {
        state: pathways_core::TaskState::Rejected,
        reason: Some(pathways_core::StatusReason::NoCapacity),
        note: None,
        source: pathways_store::StatusSource::PartnerPoll,
        at: chrono::Utc::now(),
    };
    let rid = pathways_store::ReferralId::parse(&referral).unwrap();
    assert!(h.store.record_referral_status(&rid, &rejected).await.unwrap());
    let (status, again) = h.send(h.post_with_key(&path, &h.pathfinder_a, "k-4", "{}".into())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_ne!(again["referrals"][0]["id"].as_str(), Some(referral.as_str()));
}

#[tokio::test]
async fn reports_are_scoped_to_the_callers_organisation_and_the_operator_sees_all() {
    let h = Harness::new().await;
    referred_case(&h).await;
    let report = |token: String| {
        let h = &h;
        async move {
            let (status, body) = h.send(h.get("/v1/reports/pathways", &token)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["pathways"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["sent"].as_u64().unwrap())
                .sum::<u64>()
        }
    };
    assert_eq!(report(h.coordinator_a.clone()).await, 1, "A's own referral");
    assert_eq!(report(h.coordinator_b.clone()).await, 0, "B does not see A's referrals");
    assert_eq!(report(h.admin_a.clone()).await, 1, "A's admin: A's only");
    assert_eq!(report(h.operator_admin.clone()).await, 1, "the operator sees all");
}

#[tokio::test]
async fn erasure_export_and_legal_hold_through_the_api() {
    let h = Harness::new().await;
    let (id, referral) = referred_case(&h).await;
    let (status, export) = h.send(h.get(&format!("/v1/cases/{id}/export"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(export["case"]["case"]["client"]["name"], "Amara Example");
    assert_eq!(export["plans"].as_array().unwrap().len(), 1);
    assert_eq!(export["referrals"][0]["id"], referral.as_str());
    assert_eq!(
        export["referrals"][0]["sent"]["client"]["name"], "Amara Example",
        "what the partner was sent"
    );
    let (status, _) = h.send(h.get(&format!("/v1/cases/{id}/export"), &h.pathfinder_b)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A hold: only an admin sets it; erasure is refused while it stands, naming it.
    let hold = r#"{"reason": "safeguarding enquiry SG-114"}"#.to_string();
    let put = |token: &str| {
        h.request(
            Method::PUT,
            &format!("/v1/cases/{id}/legal-hold"),
            Some(token),
            Some("application/json"),
            hold.clone().into_bytes(),
        )
    };
    let (status, _) = h.send(put(&h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = h.send(put(&h.admin_a)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let erase = r#"{"reason": "client_request"}"#.to_string();
    let (status, body) =
        h.send(h.delete(&format!("/v1/cases/{id}"), &h.pathfinder_a, erase.clone())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("legal_hold")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("SG-114"));
    let (status, still) = h.send(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_a)).await;
    assert_eq!(
        (status, &still["case"]["client"]["name"]),
        (StatusCode::OK, &"Amara Example".into())
    );
    assert!(still["legal_hold"]["reason"].is_string());
    let lift = h.request(
        Method::DELETE,
        &format!("/v1/cases/{id}/legal-hold"),
        Some(&h.admin_a),
        None,
        vec![],
    );
    assert_eq!(h.send(lift).await.0, StatusCode::OK);

    // Bad reasons are refused naming the choices; then the erasure itself.
    let (status, body) = h
        .send(h.delete(
            &format!("/v1/cases/{id}"),
            &h.pathfinder_a,
            r#"{"reason": "bored"}"#.into(),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("client_request"));
    let (status, body) =
        h.send(h.delete(&format!("/v1/cases/{id}"), &h.pathfinder_b, erase.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another organisation cannot erase: {body}");
    let before =
        h.send(h.get("/v1/reports/pathways", &h.coordinator_a)).await.1["pathways"].clone();
    let (status, body) =
        h.send(h.delete(&format!("/v1/cases/{id}"), &h.pathfinder_a, erase.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["referrals_erased"], 1);
    let after = h.send(h.get("/v1/reports/pathways", &h.coordinator_a)).await.1["pathways"].clone();
    assert_eq!(before, after, "the statistics keep their figures");
    for token in [&h.pathfinder_a, &h.pantry] {
        let (status, _) = h.send(h.get(&format!("/v1/cases/{id}"), token)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, _) = h.send(h.delete(&format!("/v1/cases/{id}"), &h.pathfinder_a, erase)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "erased once");
    let (status, gone) = h.send(h.get(&format!("/v1/referrals/{referral}"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
}

#[tokio::test]
async fn the_audit_log_answers_admins_by_case_and_time_without_personal_data() {
    let h = Harness::new().await;
    let (id, _) = referred_case(&h).await;
    let (status, _) = h.send(h.get("/v1/audit", &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");
    let (status, page) = h.send(h.get(&format!("/v1/audit?case={id}"), &h.admin_a)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let entries = page["entries"].as_array().unwrap();
    let actions: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{}",
                e["organisation"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert!(actions.contains(&format!("{ORG_A}:case.create:ok")), "{actions:?}");
    assert!(
        actions.contains(&"pantry:case.read:not_visible".to_string()),
        "the partner's attempt is shown to the owner: {actions:?}"
    );
    assert!(entries.iter().all(|e| e["case_id"] == id.as_str()));
    assert!(!page.to_string().contains("Amara"), "no personal data");
    let (status, none) = h
        .send(
            h.get("/v1/audit?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z", &h.operator_admin),
        )
        .await;
    assert_eq!((status, none["entries"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let (status, all) = h.send(h.get("/v1/audit?limit=1000", &h.operator_admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        all["entries"].as_array().unwrap().len() > entries.len(),
        "the operator sees every organisation's"
    );
    let (status, body) = h.send(h.get("/v1/audit?case=nope", &h.admin_a)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = h
        .send(h.get("/v1/audit?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", &h.admin_a))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "well-formed, inverted: {body}");
}

#[tokio::test]
async fn the_retention_sweep_erases_exactly_the_cases_that_are_due() {
    use pathways_daemon::retention::{sweep, RetentionSettings};
    let h = Harness::new().await;
    let now = chrono::Utc::now();
    let months = |n: u32| now.checked_add_months(chrono::Months::new(n)).unwrap();
    let reject_at = |at: chrono::DateTime<chrono::Utc>| pathways_store::StatusChange {
        state: pathways_core::TaskState::Rejected,
        reason: Some(pathways_core::StatusReason::NoCapacity),
        note: Some("no room this month".into()),
        source: pathways_store::StatusSource::PartnerPoll,
        at,
    };
    let quiet = new_case(&h).await; // nothing since it was created: due
    let live = new_case(&h).await; // a referral still live: never due
    referred(&h, &live).await;
    let closed = new_case(&h).await; // its referral final now: due
    let r = referred(&h, &closed).await;
    assert!(h.store.record_referral_status(&r, &reject_at(now)).await.unwrap());
    let recent = new_case(&h).await; // final only 2 months from now: not yet due
    let r = referred(&h, &recent).await;
    assert!(h.store.record_referral_status(&r, &reject_at(months(2))).await.unwrap());
    let held = new_case(&h).await; // quiet, but under a legal hold
    let hold = r#"{"reason": "litigation"}"#.to_string();
    let put = h.request(
        Method::PUT,
        &format!("/v1/cases/{held}/legal-hold"),
        Some(&h.admin_a),
        Some("application/json"),
        hold.into_bytes(),
    );
    assert_eq!(h.send(put).await.0, StatusCode::OK);

    let settings = RetentionSettings { keep_months: 24, batch: 2, ..RetentionSettings::default() };
    let early = sweep(h.store.as_ref(), months(23), settings).await.unwrap();
    assert_eq!(early.erased, 0, "nothing is due before 24 months");
    let counts = sweep(h.store.as_ref(), months(25), settings).await.unwrap();
    assert_eq!(counts.erased, 2, "{counts:?}");
    let exists = |id: &String| {
        let id = pathways_store::CaseId::parse(id).unwrap();
        let store = h.store.clone();
        async move { store.get_case(&id).await.unwrap().is_some() }
    };
    assert!(!exists(&quiet).await && !exists(&closed).await, "the due cases are erased");
    for kept in [&live, &recent, &held] {
        assert!(exists(kept).await, "{kept} must be kept");
    }
    assert_eq!(sweep(h.store.as_ref(), months(25), settings).await.unwrap().erased, 0, "once");
    assert!(h.audit_actions().await.contains(&"case.erase:retention_expired".to_string()));
    // Later, the recent one's time comes too; the held and the live never without change.
    assert_eq!(sweep(h.store.as_ref(), months(27), settings).await.unwrap().erased, 1);
    assert!(exists(&held).await && exists(&live).await);
}

async fn new_case(h: &Harness) -> String {
    let (_, body) =
        h.send(h.post("/v1/cases", &h.pathfinder_a, safe_contact_case_json(ORG_A))).await;
    body["id"].as_str().unwrap().to_string()
}

async fn referred(h: &Harness, id: &str) -> pathways_store::ReferralId {
    h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    let path = format!("/v1/cases/{id}/referrals");
    let (status, body) =
        h.send(h.post_with_key(&path, &h.pathfinder_a, &format!("k-{id}"), "{}".into())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    pathways_store::ReferralId::parse(body["referrals"][0]["id"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_stored_value_that_cannot_be_opened_is_a_clear_error_naming_the_record() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let h = Harness::new().await;
    let id = new_case(&h).await;
    // The data keys swapped for ones that never sealed anything (as a bad reload would, had
    // it not been refused): the record cannot be opened.
    h.store.replace_data_keys(pathways_store::DataKeys::ephemeral());
    let response =
        h.router.clone().oneshot(h.get(&format!("/v1/cases/{id}"), &h.pathfinder_a)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "stored_data_unreadable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&id) && message.contains("case"), "names the record: {message}");
    assert!(!message.contains("Amara"), "{message}");
}
