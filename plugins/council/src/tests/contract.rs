//! The published HSDS examples (copied into `crates/pathways-sandbox/standards/hsds`, with
//! their attribution) read through the connector's mapping, and the mapping's rules on
//! documents the sandbox does not produce: foreign service areas, filters a directory
//! ignored, odd capacities and Open311 answers.

use std::collections::BTreeMap;

use pathways_sdk::{
    AgeBand, Capacity, Eligibility, NeedCode, PartnerErrorKind, ServiceChannel, StatusReason,
    TaskState,
};
use serde_json::{json, Value};

use super::query;
use crate::mapping::{self, Page, PostAnswer, RequestAnswer, Service, Taxonomy};

const SERVICE_FULL: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/pathways-sandbox/standards/hsds/examples/service_full.json"
));
const SERVICE_LIST: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/pathways-sandbox/standards/hsds/examples/service_list.json"
));

/// The example's only taxonomy term, which no built-in need uses.
const EXAMPLE_TERM: &str = "3f7b145d-84af-42d7-8fae-eaca714b02b2";

fn service(value: Value) -> Service {
    serde_json::from_value(value).unwrap()
}

#[test]
fn the_published_full_service_maps_to_an_offer() {
    let example: Service = serde_json::from_str(SERVICE_FULL).unwrap();
    assert_eq!(
        (example.name.as_str(), example.status.as_str()),
        ("Community Counselling", "active")
    );
    assert_eq!(example.attributes[0].term(), EXAMPLE_TERM);
    let builtin = Taxonomy::new(&BTreeMap::new());
    assert!(!builtin.means(EXAMPLE_TERM, NeedCode::SocialIsolation));
    let custom = Taxonomy::new(&BTreeMap::from([(
        "social_isolation".to_string(),
        vec![EXAMPLE_TERM.to_string()],
    )]));
    assert!(
        custom.means(EXAMPLE_TERM, NeedCode::SocialIsolation),
        "taxonomy_terms reaches other directories"
    );
    // Its service area names no ONS code, so it is not ruled out of any area.
    assert!(mapping::is_offerable(&example, "E09000020"));
    let q = query("E09000020", "W10", AgeBand::From35To49, &[NeedCode::SocialIsolation], &[]);
    let offer = mapping::offer(&example, NeedCode::SocialIsolation, &q, 14);
    assert_eq!(offer.eligibility, Eligibility::Eligible, "aged 12 to 100");
    assert_eq!(
        (offer.capacity, offer.channel),
        (Capacity::Unknown, Some(ServiceChannel::InPerson))
    );
    let venue = offer.location.unwrap();
    assert_eq!(
        (venue.name.as_str(), venue.postcode.as_deref()),
        ("MyCity Civic Center", Some("ABC 1234"))
    );
    assert_eq!(mapping::service_code(&example), None, "it links no Open311 service_code");
    let child = query("E09000020", "W10", AgeBand::Under18, &[NeedCode::SocialIsolation], &[]);
    assert_eq!(
        mapping::offer(&example, NeedCode::SocialIsolation, &child, 14).eligibility,
        Eligibility::Unknown
    );
}

#[test]
fn the_published_list_parses_as_a_page_that_is_not_the_last() {
    let page: Page<Service> = serde_json::from_str(SERVICE_LIST).unwrap();
    assert_eq!((page.contents.len(), page.total_pages, page.last_page), (1, Some(10), Some(false)));
    assert!(page.contents[0].attributes.is_empty(), "a list entry has no nested arrays");
}

#[test]
fn the_31_capacities_shape_and_nulls_are_read() {
    let mut value: Value = serde_json::from_str(SERVICE_FULL).unwrap();
    value["service_areas"] = Value::Null;
    // The example's `wait_time` is a placeholder ("wait_time") that would join the words;
    // this test is about capacities.
    value["wait_time"] = Value::Null;
    value["capacities"] = json!([
        {"id": "c1", "unit": {"id": "u1", "name": "Bed"}, "available": 2, "maximum": 5, "updated": "2026-11-19T10:00:00Z"},
        {"id": "c2", "unit": "Waiting list place", "available": 7, "updated": "2026-11-19T10:00:00+01:00"}
    ]);
    let q = query("E09000020", "W10", AgeBand::From35To49, &[NeedCode::SocialIsolation], &[]);
    let offer = mapping::offer(&service(value.clone()), NeedCode::SocialIsolation, &q, 14);
    assert_eq!(
        (offer.capacity, offer.wait_estimate.as_deref()),
        (Capacity::Capacity, Some("2 of 5 places free"))
    );
    value["capacities"][0]["available"] = json!(-3);
    let offer = mapping::offer(&service(value.clone()), NeedCode::SocialIsolation, &q, 14);
    assert_eq!(
        (offer.capacity, offer.wait_estimate.as_deref()),
        (Capacity::Waitlist, Some("waiting list open (7 places)"))
    );
    value["capacities"][1]["updated"] = json!("not a date");
    let offer = mapping::offer(&service(value), NeedCode::SocialIsolation, &q, 14);
    assert_eq!(
        offer.capacity,
        Capacity::NoCapacity,
        "the unreadable waitlist figure is not trusted"
    );
}

#[test]
fn area_and_status_decide_whether_a_service_is_offered() {
    let with = |status: &str, areas: Value| {
        service(json!({"id": "s", "name": "S", "status": status, "service_areas": areas}))
    };
    let shropshire = json!([{"id": "a", "uri": "http://statistics.data.gov.uk/id/statistical-geography/E06000051"}]);
    assert!(mapping::is_offerable(&with("active", shropshire.clone()), "E06000051"));
    assert!(!mapping::is_offerable(&with("active", shropshire), "E09000020"), "outside its area");
    let by_extent = json!([{"id": "a", "extent": "E09000020", "extent_type": "text"}, {"id": "b", "name": "Anywhere"}]);
    assert!(mapping::is_offerable(&with("active", by_extent), "E09000020"));
    assert!(mapping::is_offerable(&with("Temporarily Closed", json!([])), "E09000020"));
    for gone in ["inactive", "defunct", "open"] {
        assert!(!mapping::is_offerable(&with(gone, json!([])), "E09000020"), "{gone}");
    }
}

#[test]
fn open311_statuses_map_to_task_states() {
    let status = |status: &str, notes: &str| {
        let answer = vec![RequestAnswer {
            status: status.into(),
            status_notes: notes.into(),
            updated_datetime: "2026-11-20T10:00:00-08:00".into(),
            requested_datetime: String::new(),
        }];
        mapping::status(&answer, "/requests/1.json").map(|s| (s.state, s.reason))
    };
    assert_eq!(status("open", ""), Ok((TaskState::Requested, None)));
    assert_eq!(status("open", "accepted: yes"), Ok((TaskState::Accepted, None)));
    assert_eq!(status("Open", "IN_PROGRESS: visiting"), Ok((TaskState::InProgress, None)));
    assert_eq!(status("closed", "Case closed by Jo Bloggs"), Ok((TaskState::Completed, None)));
    assert_eq!(
        status("closed", "declined.out_of_area: x"),
        Ok((TaskState::Rejected, Some(StatusReason::OutOfArea)))
    );
    assert_eq!(
        status("closed", "declined.missing_information: x"),
        Ok((TaskState::Rejected, Some(StatusReason::MissingInformation)))
    );
    assert_eq!(
        status("closed", "declined: no"),
        Ok((TaskState::Rejected, Some(StatusReason::Other)))
    );
    assert_eq!(
        status("closed", "withdrawn: by client"),
        Ok((TaskState::Cancelled, Some(StatusReason::NoLongerInterested)))
    );
    assert_eq!(status("pending", "").unwrap_err().kind, PartnerErrorKind::Permanent);
    assert_eq!(
        mapping::status(&[], "/requests/1.json").unwrap_err().kind,
        PartnerErrorKind::Permanent
    );
    let note = mapping::status(
        &[RequestAnswer {
            status: "closed".into(),
            status_notes: "completed: Jo Bloggs helped".into(),
            updated_datetime: String::new(),
            requested_datetime: String::new(),
        }],
        "/r",
    )
    .unwrap()
    .note
    .unwrap();
    assert!(!note.contains("Jo"), "the council's free text is never passed on: {note}");
}

#[test]
fn post_answers_without_an_id_are_clear_errors() {
    let token: Vec<PostAnswer> = serde_json::from_str(r#"[{"token": "abc"}]"#).unwrap();
    let err = mapping::receipt(&token, "/requests.json").unwrap_err();
    assert_eq!(err.kind, PartnerErrorKind::Permanent);
    assert!(err.message.contains("only a token"), "{err}");
    assert!(mapping::receipt(&[], "/requests.json").unwrap_err().kind.is_retryable());
    let ok: Vec<PostAnswer> =
        serde_json::from_str(r#"[{"service_request_id": "7", "service_notice": null}]"#).unwrap();
    assert_eq!(mapping::receipt(&ok, "/requests.json").unwrap().partner_reference, "7");
}
