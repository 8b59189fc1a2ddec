//! A daemon in-process for the router tests: a SQLite store in a temporary folder, one test
//! partner (`pantry`, a food service with capacity) and a key per role and organisation.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use pathways_core::{
    Availability, AvailabilityQuery, Capability, Capacity, ClientField, Eligibility, Health,
    HealthStatus, Manifest, NeedCode, Offer, Partner, PartnerError, PartnerKind, Referral,
    ReferralReceipt, ReferralRef, ReferralStatus, ServiceRef,
};
use pathways_daemon::{hash_token, new_token, ApiKey, Daemon, KeyRing, Limits, Live, Role};
use pathways_orchestrator::{ConfiguredPartner, Orchestrator, OrchestratorSettings, PlanRules};
use pathways_store::AuditFilter;
use tower::ServiceExt;

pub const ORG_A: &str = "citizens-advice-kc";
pub const ORG_B: &str = "other-advice";
/// The organisation that runs the service in these tests: its admin sees across organisations.
pub const OPERATOR: &str = "council-operator";

/// A food partner that always has capacity, after an optional delay.
pub struct Pantry(Manifest, std::time::Duration);

impl Pantry {
    pub fn new() -> Self {
        Self::slow(std::time::Duration::ZERO)
    }

    pub fn slow(delay: std::time::Duration) -> Self {
        Self(
            Manifest {
                plugin: "pantry".into(),
                kind: PartnerKind::Foodbank,
                version: "1.0.0".into(),
                description: "test pantry".into(),
                needs: vec![NeedCode::Food],
                areas: vec![],
                shares: vec![
                    ClientField::Name,
                    ClientField::YearOfBirth,
                    ClientField::Address,
                    ClientField::Phone,
                    ClientField::NeedNotes,
                    ClientField::Household,
                ],
                capabilities: vec![Capability::Availability, Capability::Referral],
                settings_schema: serde_json::Value::Null,
                build: None,
                requires: Vec::new(),
            },
            delay,
        )
    }
}

#[async_trait]
impl Partner for Pantry {
    fn manifest(&self) -> &Manifest {
        &self.0
    }
    async fn check_availability(
        &self,
        _: &AvailabilityQuery,
    ) -> Result<Availability, PartnerError> {
        tokio::time::sleep(self.1).await;
        let parcel = Offer {
            need: NeedCode::Food,
            service: ServiceRef { id: "parcel".into(), name: "Food parcel".into() },
            eligibility: Eligibility::Eligible,
            capacity: Capacity::Capacity,
            earliest_start: None,
            wait_estimate: None,
            channel: None,
            location: None,
            contact: None,
            route: None,
        };
        // A second, worse service: the plan's fallback, which a pathfinder may choose instead.
        let fridge = Offer {
            service: ServiceRef { id: "fridge".into(), name: "Community fridge".into() },
            capacity: Capacity::Waitlist,
            ..parcel.clone()
        };
        Ok(Availability { offers: vec![parcel, fridge] })
    }
    async fn send_referral(&self, _: &Referral) -> Result<ReferralReceipt, PartnerError> {
        Err(PartnerError::permanent("not in these tests: see `Harness::deliver_all`"))
    }
    async fn referral_status(&self, _: &ReferralRef) -> Result<ReferralStatus, PartnerError> {
        Err(PartnerError::permanent("not in these tests"))
    }
    async fn health(&self) -> Result<Health, PartnerError> {
        Ok(Health { status: HealthStatus::Ok, detail: None })
    }
}

/// The daemon's router with its store, and a token per test key.
pub struct Harness {
    /// The daemon the router is over, for what tests do besides requests (a reload, the
    /// dispatcher).
    pub daemon: Daemon,
    pub router: Router,
    pub store: Arc<dyn pathways_store::Store>,
    pub pathfinder_a: String,
    pub pathfinder_b: String,
    pub coordinator_a: String,
    /// A pathfinder key of the organisation `pantry`, the partner the plans refer to.
    pub pantry: String,
    /// An admin of `ORG_A`.
    pub admin_a: String,
    /// A coordinator of `ORG_B`.
    pub coordinator_b: String,
    /// An admin of the operating organisation.
    pub operator_admin: String,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(Limits::default(), std::time::Duration::ZERO).await
    }

    /// A harness with these limits, whose partner takes `partner_delay` to answer.
    pub async fn with(limits: Limits, partner_delay: std::time::Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = pathways_store::open(
            &format!("sqlite://{}/p.db", dir.path().display()),
            pathways_store::DataKeys::ephemeral(),
        )
        .await
        .unwrap();
        let tokens: Vec<String> = (0..7).map(|_| new_token()).collect();
        let keys = KeyRing::new(vec![
            ApiKey::new("pf-a", ORG_A, Role::Pathfinder, &hash_token(&tokens[0])).unwrap(),
            ApiKey::new("pf-b", ORG_B, Role::Pathfinder, &hash_token(&tokens[1])).unwrap(),
            ApiKey::new("co-a", ORG_A, Role::Coordinator, &hash_token(&tokens[2])).unwrap(),
            ApiKey::new("pantry-1", "pantry", Role::Pathfinder, &hash_token(&tokens[3])).unwrap(),
            ApiKey::new("ad-a", ORG_A, Role::Admin, &hash_token(&tokens[4])).unwrap(),
            ApiKey::new("co-b", ORG_B, Role::Coordinator, &hash_token(&tokens[5])).unwrap(),
            ApiKey::new("op-admin", OPERATOR, Role::Admin, &hash_token(&tokens[6])).unwrap(),
        ])
        .unwrap()
        .with_operator(Some(OPERATOR.to_string()));
        let partners = vec![ConfiguredPartner {
            id: "pantry".into(),
            name: "Community Pantry".into(),
            areas: vec![],
            partner: Arc::new(Pantry::slow(partner_delay)),
            domestic_abuse_service: false,
        }];
        let orchestrator =
            Orchestrator::new(partners, OrchestratorSettings::default(), PlanRules::default());
        let daemon = Daemon::new(store.clone(), Live::new(orchestrator, keys), limits);
        Self {
            router: daemon.router(),
            daemon,
            store,
            pathfinder_a: tokens[0].clone(),
            pathfinder_b: tokens[1].clone(),
            coordinator_a: tokens[2].clone(),
            pantry: tokens[3].clone(),
            admin_a: tokens[4].clone(),
            coordinator_b: tokens[5].clone(),
            operator_admin: tokens[6].clone(),
            _dir: dir,
        }
    }

    pub fn request(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body)).unwrap()
    }

    pub fn get(&self, uri: &str, token: &str) -> Request<Body> {
        self.request(Method::GET, uri, Some(token), None, vec![])
    }

    pub fn patch(&self, uri: &str, token: &str, json: String) -> Request<Body> {
        self.request(Method::PATCH, uri, Some(token), Some("application/json"), json.into_bytes())
    }

    pub fn post(&self, uri: &str, token: &str, json: String) -> Request<Body> {
        self.request(Method::POST, uri, Some(token), Some("application/json"), json.into_bytes())
    }

    /// Sends a request; asserts the answer is JSON (errors always are), never a 500, and
    /// exactly what `/openapi.json` declares for it (its status, and its body's schema).
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        let response = self.router.clone().oneshot(req).await.unwrap();
        let status = response.status();
        assert!(!status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE, "{status}");
        assert!(response.headers().contains_key("x-request-id"), "every answer names its request");
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "{status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        conforms(&method, &path, status, &body);
        (status, body)
    }

    pub async fn text(&self, req: Request<Body>) -> String {
        let response = self.router.clone().oneshot(req).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// Marks every queued referral delivered, as the dispatcher would after the partner's
    /// receipt (these tests run no dispatcher; the end-to-end tests do, with real plugins).
    pub async fn deliver_all(&self) -> usize {
        let now = chrono::Utc::now();
        let items = self
            .store
            .claim_outbox("test-worker", 100, std::time::Duration::from_secs(60), now)
            .await
            .unwrap();
        for item in &items {
            let outcome = pathways_store::DispatchOutcome::Delivered {
                partner_reference: format!("PANTRY-{}", &item.referral_id.as_str()[..6]),
            };
            assert!(self.store.finish_outbox(item.id, "test-worker", outcome, now).await.unwrap());
        }
        items.len()
    }

    pub fn delete(&self, uri: &str, token: &str, json: String) -> Request<Body> {
        self.request(Method::DELETE, uri, Some(token), Some("application/json"), json.into_bytes())
    }

    pub fn post_with_key(&self, uri: &str, token: &str, key: &str, json: String) -> Request<Body> {
        let mut req = self.post(uri, token, json);
        req.headers_mut().insert("idempotency-key", key.parse().unwrap());
        req
    }

    /// The audit log as `action:outcome` codes.
    pub async fn audit_actions(&self) -> Vec<String> {
        let entries = self.store.audit_entries(&AuditFilter::default()).await.unwrap();
        entries.iter().map(|r| format!("{}:{}", r.entry.action, r.entry.outcome)).collect()
    }
}

/// A valid one-need case referred by `organisation`.
pub fn case_json(organisation: &str) -> String {
    format!(
        r#"{{
  "reference": "REF-1",
  "channel": "phone",
  "referrer": {{"organisation": "{organisation}", "worker": "pf-17"}},
  "client": {{
    "name": "Test Person", "date_of_birth": "1989-04-02", "postcode": "W10 5AB",
    "local_authority": "E09000020", "phone": "07700 900123", "email": null,
    "preferred_language": "en", "safe_contact": false,
    "household": {{"adults": 1, "children_ages": []}}
  }},
  "needs": [{{"code": "food", "urgency": "urgent"}}],
  "circumstances": [],
  "consent": {{"lawful_basis": "consent", "share_with": "planned_partners",
              "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}}
}}"#
    )
}

/// A fleeing-abuse case referred by `organisation`: safe contact, an address and a phone, food
/// (with a note the food partner may read) and mental health (with a note it must not).
pub fn safe_contact_case_json(organisation: &str) -> String {
    serde_json::json!({
        "reference": "REF-DA-1",
        "channel": "walk_in",
        "referrer": {"organisation": organisation, "worker": "pf-17"},
        "client": {
            "name": "Amara Example", "date_of_birth": "1990-03-04", "postcode": "W10 5AB",
            "address": "12 Hidden Mews, London", "local_authority": "E09000020",
            "phone": "07700 900456", "email": "amara@example.org",
            "preferred_language": "en", "safe_contact": true,
            "household": {"adults": 1, "children_ages": [4]}
        },
        "needs": [
            {"code": "food", "urgency": "urgent", "notes": "no food since Tuesday"},
            {"code": "mental_health", "urgency": "soon", "notes": "partner has been violent; panic attacks"}
        ],
        "circumstances": ["fleeing_violence"],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                    "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    })
    .to_string()
}

/// Asserts that the answer `status` and `body` to `method path` is one `/openapi.json`
/// declares: the status among the operation's responses, the body valid against its schema.
/// Every request the router tests send goes through here, so a handler that answers
/// something undocumented fails the test that provoked it.
pub fn conforms(method: &Method, path: &str, status: StatusCode, body: &serde_json::Value) {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let doc = DOCUMENT.get_or_init(pathways_daemon::openapi_document);
    let Some((template, item)) =
        doc["paths"].as_object().unwrap().iter().find(|(template, _)| path_matches(template, path))
    else {
        // A path no route serves: the router's own 404, outside any operation.
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: not in the document");
        return;
    };
    let Some(operation) = item.get(method.as_str().to_ascii_lowercase()) else {
        // An undocumented method: 405, or 401 first for an API path asked without a key.
        assert!(
            status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::UNAUTHORIZED,
            "{method} {template}: not documented, answered {status}"
        );
        return;
    };
    let code = status.as_u16().to_string();
    let declared = &operation["responses"][&code];
    assert!(
        declared.is_object(),
        "{method} {template} answered {status}, which the document does not declare: {body}"
    );
    let Some(schema) = declared.pointer("/content/application~1json/schema") else { return };
    let mut schema = schema.clone();
    schema["components"] = doc["components"].clone();
    let validator = jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{method} {template} {status}: the document's schema: {e}"));
    let errors: Vec<String> =
        validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status}: the body does not match the document: {errors:?}\n{body}"
    );
}

/// Whether `path` is an instance of the document's `template` (`/v1/cases/{id}`).
fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}
