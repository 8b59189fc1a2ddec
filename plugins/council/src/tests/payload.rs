//! Exactly what a referral puts on the wire, captured by a loopback server playing the
//! council: only the declared fields, never notes, health or abuse details, and no contact
//! details or address when contact is unsafe.

use pathways_plugin_testkit::Capture;
use pathways_sdk::{NeedCode, Partner, PartnerPlugin, ServiceRef};

use super::{referral, sandbox};
use crate::{CouncilPartner, Settings};

/// The directory entry the capture server gives for any service: active, with a referral link.
const SERVICE: &str = r#"{"id": "svc-1", "name": "Welfare Rights Advice", "status": "active",
  "attributes": [{"id": "a1", "taxonomy_term_id": "open311:service_code", "value": "RBKC-WELFARE-RIGHTS"}]}"#;

/// The created request the capture server answers the referral's POST with.
const CREATED: &str = r#"[{"service_request_id": "CAPTURED-1", "service_notice": "ok"}]"#;

/// The form a referral sends, as (field, value) pairs in order, and the request head.
async fn sent_form(safe_contact: bool) -> (Vec<(String, String)>, String) {
    let capture = Capture::serving(SERVICE, CREATED);
    let settings =
        Settings { jurisdiction_id: Some("E09000020".into()), ..Settings::new(capture.url()) };
    let service = ServiceRef { id: "svc-1".into(), name: "Welfare Rights Advice".into() };
    CouncilPartner::from_settings(settings)
        .unwrap()
        .send_referral(&referral(service, NeedCode::DebtMoney, "key-capture", safe_contact))
        .await
        .unwrap();
    let post = capture.post();
    let body = String::from_utf8_lossy(&post.body);
    let parsed = reqwest::Url::parse(&format!("http://x/?{body}")).unwrap();
    (parsed.query_pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect(), post.head)
}

fn keys(form: &[(String, String)]) -> Vec<&str> {
    form.iter().map(|(k, _)| k.as_str()).collect()
}

fn value<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
}

#[tokio::test]
async fn the_request_carries_only_declared_fields_and_no_notes() {
    let (form, head) = sent_form(false).await;
    assert_eq!(
        keys(&form),
        [
            "service_code",
            "jurisdiction_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "address_string",
            "description"
        ]
    );
    assert_eq!((value(&form, "first_name"), value(&form, "last_name")), ("Test Q", "Person"));
    assert_eq!(value(&form, "address_string"), "1 Test Road, W10 5AB");
    assert!(head.to_ascii_lowercase().contains("idempotency-key: key-capture"), "{head}");
    assert!(head.contains("application/x-www-form-urlencoded"), "{head}");
    let text = format!("{form:?}");
    for secret in ["PRIVATE", "mental", "abuse", "1989", "notes", "damp"] {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "`{secret}` was sent: {text}"
        );
    }
    let description = value(&form, "description");
    assert!(
        description.contains("CAKC-000123") && description.contains("debt and money (urgent)"),
        "{description}"
    );

    // The strict simulator (which refuses unknown fields) accepts exactly this form.
    let sandbox = sandbox().await;
    let council = CouncilPartner::from_settings(Settings::new(sandbox.council_url())).unwrap();
    let service =
        super::kensington_service(&council, NeedCode::DebtMoney, "Welfare Rights Advice").await;
    council
        .send_referral(&referral(service, NeedCode::DebtMoney, "key-strict", false))
        .await
        .unwrap();
    assert_eq!(sandbox.council_stats().requests_created, 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_client_with_unsafe_contact_is_reached_only_through_the_referrer() {
    let (form, _) = sent_form(true).await;
    assert_eq!(
        keys(&form),
        ["service_code", "jurisdiction_id", "first_name", "last_name", "description"]
    );
    let description = value(&form, "description");
    assert!(description.contains("Do not contact the client directly"), "{description}");
    assert!(description.contains("citizens-advice-kc"), "{description}");
    let text = format!("{form:?}");
    for secret in ["07700", "test@example.org", "Test Road", "W10"] {
        assert!(!text.contains(secret), "`{secret}` was sent: {text}");
    }
}
