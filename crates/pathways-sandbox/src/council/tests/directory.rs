//! The HSDS directory: filters, pages, statuses, nesting and refusals.

use reqwest::StatusCode;
use serde_json::Value;

use super::{all_services, get, names, start};
use crate::{CapacityOverride, Faults};

#[tokio::test]
async fn root_describes_the_api() {
    let sandbox = start().await;
    let (status, body) = get(&sandbox, "/hsds/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["version"], "3.0");
    assert!(body["openapi_url"].as_str().unwrap().starts_with("https://"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn postcode_and_proximity_find_ludlow_befriending_over_two_pages() {
    let sandbox = start().await;
    let query = "taxonomy_term_id=esdNeed:69&postcode=SY8%201AA&proximity=16000&full=true";
    let (found, pages) = all_services(&sandbox, query).await;
    let found = names(&found);
    assert_eq!(pages, 2, "six matches at five a page: {found:?}");
    assert_eq!(found.len(), 6, "{found:?}");
    for near in
        ["Ludlow Lunch Club", "Craven Arms Community Café", "Shropshire Telephone Befriending"]
    {
        assert!(found.contains(&near), "{near} missing from {found:?}");
    }
    for far in ["Church Stretton Walking Group", "Bishop's Castle Community Hub"] {
        assert!(!found.contains(&far), "{far} is beyond 16 km of Ludlow");
    }
    let (county_wide, _) =
        all_services(&sandbox, "taxonomy_term_id=esdNeed:69&postcode=SY8%201AA").await;
    assert_eq!(county_wide.len(), 8, "without proximity the whole county's area matches");
    let (london, _) = all_services(&sandbox, "taxonomy_term_id=esdNeed:69&postcode=W10").await;
    assert_eq!(names(&london), ["Community Connectors Befriending"]);
    assert_eq!(sandbox.council_stats().service_list_requests, 2 + 2 + 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn every_status_is_listed_and_services_nest_only_when_full() {
    let sandbox = start().await;
    let (found, _) = all_services(&sandbox, "taxonomy_term_id=esdNeed:91&postcode=W8").await;
    assert_eq!(found[0]["status"], "inactive");
    assert!(found[0].get("attributes").is_none(), "one-to-one fields only without `full`");
    let (found, _) =
        all_services(&sandbox, "taxonomy_term_id=esdServiceType:116&postcode=LA14&full=true").await;
    let barrow = &found[0];
    assert_eq!(barrow["name"], "Barrow Welfare Rights");
    let capacities = barrow["capacities"].as_array().unwrap();
    let units: Vec<&Value> = capacities.iter().map(|c| &c["unit"]["identifier"]).collect();
    assert_eq!(units, ["place", "waitlist"]);
    assert_eq!(
        (capacities[0]["available"].as_u64(), capacities[1]["available"].as_u64()),
        (Some(0), Some(5))
    );
    let area = &barrow["service_areas"][0];
    assert!(area["uri"].as_str().unwrap().ends_with("/E07000027"), "{area}");
    let referral = barrow["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["taxonomy_term_id"] == "open311:service_code")
        .expect("a referral link");
    assert_eq!(referral["value"], "BARROW-WELFARE-RIGHTS");

    let id = barrow["id"].as_str().unwrap();
    let (status, one) = get(&sandbox, &format!("/hsds/services/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, *barrow, "GET /services/{{id}} is the fully nested service");
    let (status, missing) = get(&sandbox, "/hsds/services/no-such-id").await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (StatusCode::NOT_FOUND, &"unknown_service".into())
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn pages_are_capped_and_a_page_past_the_end_is_empty() {
    let sandbox = start().await;
    let (_, body) = get(&sandbox, "/hsds/services?per_page=100").await;
    assert_eq!(body["size"], 5, "per_page is capped at max_per_page");
    let total_pages = body["total_pages"].as_u64().unwrap();
    assert!(total_pages >= 6, "{body}");
    assert_eq!(
        (body["first_page"].as_bool(), body["last_page"].as_bool()),
        (Some(true), Some(false))
    );
    let (_, past) = get(&sandbox, &format!("/hsds/services?page={}", total_pages + 1)).await;
    assert_eq!((past["empty"].as_bool(), past["last_page"].as_bool()), (Some(true), Some(true)));
    assert_eq!(past["contents"], serde_json::json!([]));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn search_organisation_and_modified_after_filter() {
    let sandbox = start().await;
    let (found, _) = all_services(&sandbox, "search=blue%20badge").await;
    assert_eq!(names(&found), ["Blue Badge Applications", "Blue Badge (Shropshire)"]);
    let org = found[1]["organization_id"].as_str().unwrap().to_string();
    let (shropshire, _) = all_services(&sandbox, &format!("organization_id={org}")).await;
    assert!(
        shropshire.len() > 10 && shropshire.iter().all(|s| s["organization_id"] == org.as_str())
    );
    // Seeded records change at most a month before the pinned 2026-11-20.
    let (everything, _) = all_services(&sandbox, "").await;
    let (recent, _) = all_services(&sandbox, "modified_after=2026-11-19").await;
    let recent = names(&recent);
    assert!(!recent.is_empty() && recent.len() < everything.len(), "{recent:?}");
    assert!(recent.contains(&"Welfare Rights Advice"), "updated today: {recent:?}");
    assert!(!recent.contains(&"Private Rented Housing Standards"), "updated 60 days ago");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_refused_by_name() {
    let sandbox = start().await;
    for (query, expected) in [
        ("taxonomy_term=esdNeed:69", "taxonomy_term"),
        ("per_page=0", "per_page"),
        ("page=two", "page"),
        ("postcode=ZZ99%209ZZ", "postcode"),
        ("proximity=500", "proximity"),
        ("postcode=W10&proximity=-5", "proximity"),
        ("modified_after=yesterday", "modified_after"),
    ] {
        let (status, body) = get(&sandbox, &format!("/hsds/services?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{query}: {message}");
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn capacity_and_failure_knobs_apply_to_the_directory() {
    let sandbox = start().await;
    sandbox.set_council_faults(Faults { capacity: Some(CapacityOverride::Full), ..Faults::none() });
    let (found, _) = all_services(&sandbox, "postcode=SY8&full=true").await;
    let capacities: Vec<&Value> =
        found.iter().flat_map(|s| s["capacities"].as_array().unwrap()).collect();
    assert!(capacities.len() >= found.len());
    assert!(capacities.iter().all(|c| c["available"] == 0), "every service is full");
    sandbox.set_council_faults(Faults::failing());
    let response = reqwest::get(format!("{}/hsds/services", sandbox.council_url())).await.unwrap();
    assert!(response.status().is_server_error());
    let control = reqwest::get(format!("{}/_sandbox/stats", sandbox.council_url())).await.unwrap();
    assert_eq!(control.status(), StatusCode::OK, "control routes are never faulted");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn services_publish_how_to_reach_them_in_the_hsds_shape() {
    let sandbox = start().await;
    let (found, _) =
        all_services(&sandbox, "taxonomy_term_id=esdNeed:101&postcode=SY8&full=true").await;
    let digital = found
        .iter()
        .find(|s| s["name"] == "Digital Skills at Ludlow Library")
        .expect("the Ludlow digital skills service");
    let open311 = digital["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["taxonomy_term_id"] == "open311:service_code");
    assert!(!open311, "it takes no referrals: clients phone or drop in");
    assert_eq!(digital["phones"][0]["number"], "0306 999 0106");
    assert_eq!(digital["phones"][0]["type"], "voice");
    let schedule = &digital["schedules"][0];
    assert_eq!(
        (&schedule["freq"], &schedule["byday"], &schedule["opens_at"], &schedule["closes_at"]),
        (&"WEEKLY".into(), &"MO,TH".into(), &"10:00:00".into(), &"16:00:00".into())
    );
    assert_eq!(
        schedule["description"],
        "Mondays and Thursdays, 10:00 to 16:00, except bank holidays"
    );
    assert_eq!(digital["email"], "ludlow.library@shropshire.council.example");
    assert!(digital["url"].as_str().unwrap().starts_with("https://"));
    let address = &digital["service_at_locations"][0]["location"]["addresses"][0];
    assert_eq!(
        (&address["address_1"], &address["postal_code"]),
        (&"1 Mill Street".into(), &"SY8 1AZ".into())
    );
    assert_eq!(digital["contacts"][0]["name"], "Enquiries");

    let (isolation, _) =
        all_services(&sandbox, "taxonomy_term_id=esdNeed:69&postcode=SY8&full=true").await;
    let online = isolation.iter().find(|s| s["name"] == "Online Friendship Circle").unwrap();
    let location = &online["service_at_locations"][0]["location"];
    assert_eq!(location["location_type"], "virtual");
    assert_eq!(location["url"], "https://ssc-network.example/online-friendship");

    let (care, _) = all_services(&sandbox, "taxonomy_term_id=esdNeed:12&postcode=SY8").await;
    let assessment =
        care.iter().find(|s| s["name"] == "Adult Social Care Needs Assessment").unwrap();
    assert_eq!(assessment["wait_time"], "About 6 to 8 weeks", "a one-to-one field, even unnested");
    sandbox.shutdown().await;
}
