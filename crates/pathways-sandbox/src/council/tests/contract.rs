//! The simulator's HSDS answers validate against the published schemas: the API root against
//! the OpenAPI document, every Page against `Page` with services against `service.json`, every
//! fully nested service, and each HSDS 3.1 capacity against `service_capacity.json`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use super::schema::Schemas;
use super::{get, start};
use crate::{CapacityOverride, Faults};

/// Problems of every capacity of `service` against the HSDS 3.1 capacity schema.
fn capacity_errors(schemas: &Schemas, service: &Value) -> Vec<String> {
    let capacities = service["capacities"].as_array().cloned().unwrap_or_default();
    capacities
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            schemas
                .validate("service_capacity.json", c)
                .into_iter()
                .map(move |e| format!("/capacities/{i}{e}"))
        })
        .collect()
}

#[tokio::test]
async fn directory_answers_validate_against_the_published_hsds_schemas() {
    let schemas = Schemas::load();
    let sandbox = start().await;
    let (_, root) = get(&sandbox, "/hsds/").await;
    assert_eq!(schemas.validate_inline(schemas.openapi_response("/"), &root), Vec::<String>::new());

    let mut ids = BTreeSet::new();
    let queries = [
        "",
        "full=true",
        "full=true&taxonomy_term_id=esdNeed:69&postcode=SY8&proximity=16000",
        "full=true&postcode=W10",
        "full=true&postcode=LA14",
        "taxonomy_term_id=nothing-has-this",
    ];
    for query in queries {
        for page in 1..=20 {
            let (status, body) =
                get(&sandbox, &format!("/hsds/services?{query}&page={page}")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(
                schemas.validate_page("service.json", &body),
                Vec::<String>::new(),
                "{query} p{page}"
            );
            for service in body["contents"].as_array().unwrap() {
                assert_eq!(capacity_errors(&schemas, service), Vec::<String>::new());
                ids.insert(service["id"].as_str().unwrap().to_string());
            }
            if body["last_page"] == true {
                break;
            }
        }
    }
    assert!(ids.len() >= 30, "every seeded service was seen: {}", ids.len());
    for knob in [None, Some(CapacityOverride::Waitlist), Some(CapacityOverride::Full)] {
        sandbox.set_council_faults(Faults { capacity: knob, ..Faults::none() });
        for id in &ids {
            let (status, service) = get(&sandbox, &format!("/hsds/services/{id}")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(schemas.validate("service.json", &service), Vec::<String>::new(), "{id}");
            assert_eq!(capacity_errors(&schemas, &service), Vec::<String>::new(), "{id}");
        }
    }
    sandbox.shutdown().await;
}
