//! Plan amendments through the API: a pathfinder chooses a fallback, adds an in-house step
//! and the client's goal, declines a step; each change is a new version with who and why; the
//! referral intake refers from the newest version; earlier versions stay readable; a re-plan
//! keeps the amendments that still apply.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::{case_json, Harness, ORG_A};

/// A case with a food need (the pantry offers a parcel, and a fridge as fallback) and a debt
/// need nobody offers.
async fn planned(h: &Harness) -> (String, Value) {
    let case = case_json(ORG_A).replace(
        r#""needs": [{"code": "food", "urgency": "urgent"}]"#,
        r#""needs": [{"id": "food-1", "code": "food", "urgency": "urgent"},
                     {"code": "debt_money", "urgency": "soon", "notes": "rent arrears"}]"#,
    );
    let (status, body) = h.send(h.post("/v1/cases", &h.pathfinder_a, case)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let (status, plan) =
        h.send(h.post(&format!("/v1/cases/{id}/plan"), &h.pathfinder_a, String::new())).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    (id, plan)
}

fn entry<'a>(plan: &'a Value, need_id: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["need_id"] == need_id)
        .unwrap_or_else(|| panic!("no {need_id} in {plan}"))
}

#[tokio::test]
async fn amendments_make_versions_and_referrals_go_where_the_newest_says() {
    let h = Harness::new().await;
    let (id, v1) = planned(&h).await;
    let uri = format!("/v1/cases/{id}/plan");
    assert_eq!(v1["version"], 1);
    let food = entry(&v1, "food-1");
    assert_eq!(
        (food["action"].as_str(), food["service"]["id"].as_str()),
        (Some("refer"), Some("parcel"))
    );
    assert_eq!(food["fallbacks"][0]["service"]["id"], "fridge");
    assert_eq!(
        entry(&v1, "n1")["action"],
        "unmet",
        "the debt need takes the first free number, n1"
    );

    // Choose the fallback with the client.
    let choose = json!({"version": 1, "reason": "the client can reach the fridge on foot",
        "amendments": [{"op": "choose", "need_id": "food-1", "partner_id": "pantry", "service_id": "fridge"}]});
    let (status, v2) = h.send(h.patch(&uri, &h.pathfinder_a, choose.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(entry(&v2, "food-1")["service"]["id"], "fridge");
    assert!(entry(&v2, "food-1")["why"]
        .as_str()
        .unwrap()
        .contains("You chose this together with us"));

    // The same version again: someone else's change would be overwritten unseen.
    let (status, stale) = h.send(h.patch(&uri, &h.pathfinder_a, choose.to_string())).await;
    assert_eq!(
        (status, stale["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("version_conflict")),
        "{stale}"
    );

    // In-house help for the debt need, and the client's own goal.
    let in_house = json!({"version": 2, "amendments": [
        {"op": "in_house", "need_id": "n1", "service": "a money advice appointment with our adviser on Thursday"},
        {"op": "goal", "text": "keep my flat"}]});
    let (status, v3) = h.send(h.patch(&uri, &h.pathfinder_a, in_house.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{v3}");
    let debt = entry(&v3, "n1");
    assert_eq!(debt["action"], "in_house");
    assert_eq!(debt["organisation"]["id"], ORG_A);
    assert_eq!(v3["goals"], json!(["keep my flat"]));
    let history = v3["amendments"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[0]["version"], 2);
    assert_eq!(history[0]["reason"], "the client can reach the fridge on foot");
    assert!(history[0]["by"].as_str().unwrap().starts_with(ORG_A), "{history:?}");

    // An amendment that cannot be made refuses the whole request, naming it.
    let bad = json!({"version": 3, "amendments": [{"op": "goal", "text": "fine"},
        {"op": "choose", "need_id": "food-1", "partner_id": "pantry", "service_id": "caviar"}]});
    let (status, refused) = h.send(h.patch(&uri, &h.pathfinder_a, bad.to_string())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["code"], "amendment_refused");
    assert!(refused["error"]["message"].as_str().unwrap().contains("amendments[1]"), "{refused}");
    let (_, newest) = h.send(h.get(&uri, &h.pathfinder_a)).await;
    assert_eq!(newest["version"], 3, "nothing of the refused request was kept");

    // Refer: the referral goes to the service the newest version chose.
    let (status, referred) = h
        .send(h.post_with_key(
            &format!("/v1/cases/{id}/referrals"),
            &h.pathfinder_a,
            "k-1",
            "{}".into(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{referred}");
    let referrals = referred["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 1, "only the food step is a referral: {referred}");
    let case_id = pathways_store::CaseId::parse(&id).unwrap();
    let stored = h.store.referrals_of_case(&case_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].referral.as_ref().expect("the payload").service.id, "fridge");

    // Declined: the entry stays, with the client's reason; it cannot be referred.
    let decline = json!({"version": 3, "amendments": [
        {"op": "decline", "need_id": "food-1", "reason": "family will help this week"}]});
    let (status, v4) = h.send(h.patch(&uri, &h.pathfinder_a, decline.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{v4}");
    let food = entry(&v4, "food-1");
    assert_eq!(food["action"], "declined");
    // The decline is the need's latest amendment: it replaces the earlier choice, and the
    // entry names the service the plan would otherwise offer.
    assert_eq!(food["offered"]["service"]["id"], "parcel");
    let order = food["order"].clone();
    let (status, refused) = h
        .send(h.post_with_key(
            &format!("/v1/cases/{id}/referrals"),
            &h.pathfinder_a,
            "k-2",
            json!({"steps": [order]}).to_string(),
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("`declined` entry"),
        "{refused}"
    );

    // Every version stays readable.
    let (status, first) = h.send(h.get(&format!("{uri}?version=1"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first, v1);
    let (status, _) = h.send(h.get(&format!("{uri}?version=9"), &h.pathfinder_a)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A re-plan asks the partners again and keeps what still applies.
    let (status, v5) = h.send(h.post(&uri, &h.pathfinder_a, String::new())).await;
    assert_eq!(status, StatusCode::CREATED, "{v5}");
    assert_eq!(v5["version"], 5);
    assert_eq!(entry(&v5, "food-1")["action"], "declined");
    assert_eq!(entry(&v5, "n1")["action"], "in_house");
    assert!(v5.get("dropped").is_none(), "nothing dropped: {v5}");

    let audit = h.audit_actions().await;
    for action in ["plan.amend:ok", "plan.amend:version_conflict", "plan.amend:amendment_refused"] {
        assert!(audit.contains(&action.to_string()), "{action} missing from {audit:?}");
    }
}

#[tokio::test]
async fn only_the_owner_amends_and_bad_bodies_are_json_errors() {
    let h = Harness::new().await;
    let (id, _) = planned(&h).await;
    let uri = format!("/v1/cases/{id}/plan");
    let goal = json!({"version": 1, "amendments": [{"op": "goal", "text": "x"}]}).to_string();
    let (status, _) = h.send(h.patch(&uri, &h.pathfinder_b, goal.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another organisation sees no case");
    let (status, _) = h.send(h.patch(&uri, &h.pantry, goal)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a partner organisation never amends");
    for bad in [
        json!({"version": 1, "amendments": []}),
        json!({"version": 1, "amendments": [{"op": "paint", "need_id": "n1"}]}),
        json!({"amendments": [{"op": "goal", "text": "x"}]}),
    ] {
        let (status, body) = h.send(h.patch(&uri, &h.pathfinder_a, bad.to_string())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {body}");
    }
    let reorder_safety =
        json!({"version": 1, "amendments": [{"op": "reorder", "need_ids": ["zz"]}]});
    let (status, body) = h.send(h.patch(&uri, &h.pathfinder_a, reorder_safety.to_string())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}
