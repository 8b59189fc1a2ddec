//! Single sign-on: the console against a minimal OpenID Connect provider started inside the
//! test (discovery, JWKS, an authorisation endpoint that consents at once, a token endpoint
//! that checks the client secret and the PKCE verifier and signs an RS256 ID token). The real
//! `pathways serve` discovers it, runs the authorisation code flow with PKCE, verifies the
//! token, and signs the person in: a new person gets an account from the claims; a refused
//! state, an unknown role, a disabled account or a wrong client secret sign no one in.

mod console_util;
mod referrals_util;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use console_util::{client, get as page};
use openidconnect::core::{
    CoreGenderClaim, CoreIdToken, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AdditionalClaims, Audience, EndUserEmail, EndUserName, IdTokenClaims, IssuerUrl, JsonWebKeyId,
    LocalizedClaim, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use pathways_sandbox::{Sandbox, SandboxConfig};
use referrals_util::{Daemon, Storage, ORG};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "pathways-console";
const CLIENT_SECRET: &str = "test-client-secret-not-a-real-one";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    organisation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<Vec<String>>,
}

impl AdditionalClaims for Claims {}

/// Who the provider says signs in next.
#[derive(Debug, Clone)]
struct Person {
    subject: String,
    email: String,
    name: String,
    claims: Claims,
}

#[derive(Default)]
struct ProviderState {
    next: Option<Person>,
    /// code -> (nonce, PKCE challenge, person)
    codes: HashMap<String, (String, String, Person)>,
    tokens_issued: usize,
    /// Sign the next ID tokens for another client (their audience is not ours).
    wrong_audience: bool,
}

#[derive(Clone)]
struct Provider {
    base: String,
    state: Arc<Mutex<ProviderState>>,
    key: Arc<CoreRsaPrivateSigningKey>,
}

async fn discovery(State(p): State<Provider>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "issuer": p.base,
        "authorization_endpoint": format!("{}/authorize", p.base),
        "token_endpoint": format!("{}/token", p.base),
        "jwks_uri": format!("{}/jwks", p.base),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "scopes_supported": ["openid", "email", "profile"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(p): State<Provider>) -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![p.key.as_verification_key()]))
}

async fn authorize(
    State(p): State<Provider>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"), "PKCE is used");
    let mut state = p.state.lock().unwrap();
    let person = state.next.clone().expect("a person to sign in");
    let code = format!("code-{}", state.codes.len() + 1);
    state.codes.insert(code.clone(), (q["nonce"].clone(), q["code_challenge"].clone(), person));
    let to = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
    Redirect::to(&to).into_response()
}

async fn token(
    State(p): State<Provider>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if basic != expected {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": "invalid_client"})))
            .into_response();
    }
    let Some((nonce, challenge, person)) = p.state.lock().unwrap().codes.remove(&form["code"])
    else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": "invalid_grant"})))
            .into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let derived = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if derived != challenge {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant", "error_description": "PKCE"})),
        )
            .into_response();
    }
    let now = chrono::Utc::now();
    let audience =
        if p.state.lock().unwrap().wrong_audience { "another-client" } else { CLIENT_ID };
    let mut name = LocalizedClaim::new();
    name.insert(None, EndUserName::new(person.name.clone()));
    let claims = IdTokenClaims::<Claims, CoreGenderClaim>::new(
        IssuerUrl::new(p.base.clone()).unwrap(),
        vec![Audience::new(audience.into())],
        now + chrono::Duration::minutes(5),
        now,
        StandardClaims::new(SubjectIdentifier::new(person.subject.clone()))
            .set_email(Some(EndUserEmail::new(person.email.clone())))
            .set_name(Some(name)),
        person.claims.clone(),
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let id_token: openidconnect::IdToken<
        Claims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    > = openidconnect::IdToken::new(
        claims,
        p.key.as_ref(),
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("the ID token signs");
    let _: CoreIdToken = id_token.to_string().parse().expect("a standard ID token");
    p.state.lock().unwrap().tokens_issued += 1;
    Json(serde_json::json!({
        "access_token": "access-token", "token_type": "Bearer", "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
    .into_response()
}

async fn start_provider() -> Provider {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/oidc-test-provider-key.pem"),
    )
    .unwrap();
    let key = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new("test-key".into())))
        .unwrap();
    let provider = Provider { base, state: Arc::default(), key: Arc::new(key) };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    provider
}

fn config(provider: &Provider) -> String {
    format!(
        r#"{console}
[console.oidc]
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret_env = "PATHWAYS_TEST_OIDC_SECRET"
organisation_claim = "organisation"
role_claim = "roles"
"#,
        console = console_util::CONSOLE,
        issuer = provider.base,
    )
}

/// The whole flow for `person` with a fresh browser-like client; returns the client and the
/// last answer (the daemon's callback's).
async fn sign_on(
    daemon: &Daemon,
    provider: &Provider,
    person: Person,
    tamper_state: bool,
) -> (reqwest::Client, console_util::Page) {
    provider.state.lock().unwrap().next = Some(person);
    let c = client();
    let sign_in = page(&c, daemon, "/sign-in").await;
    assert!(sign_in.body.contains("Sign in with your organisation's account"), "{}", sign_in.body);
    let start = page(&c, daemon, "/sign-in/oidc").await;
    assert_eq!(start.status, 303, "{}", start.body);
    let to_provider = start.location.unwrap();
    assert!(
        to_provider.starts_with(&provider.base) && to_provider.contains("code_challenge="),
        "{to_provider}"
    );
    let at_provider = c.get(&to_provider).send().await.unwrap();
    assert_eq!(at_provider.status(), 303);
    let mut back = at_provider.headers()["location"].to_str().unwrap().to_string();
    if tamper_state {
        back = back.replace("state=", "state=x");
    }
    let back = back.strip_prefix(&daemon.base).expect("back to the console").to_string();
    let answer = page(&c, daemon, &back).await;
    (c, answer)
}

fn person(subject: &str, email: &str, organisation: Option<&str>, roles: &[&str]) -> Person {
    Person {
        subject: subject.into(),
        email: email.into(),
        name: "Olu Oidc".into(),
        claims: Claims {
            organisation: organisation.map(str::to_string),
            roles: Some(roles.iter().map(|r| r.to_string()).collect()),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_signs_a_person_in_by_the_code_flow_with_pkce_and_refuses_what_it_must() {
    let provider = start_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    let storage = Storage::Sqlite(dir.path().join("pathways.db"));
    let env = [("PATHWAYS_TEST_OIDC_SECRET", CLIENT_SECRET)];
    let daemon = Daemon::start_with(dir.path(), &storage, &sandbox, &env, &config(&provider)).await;

    // Someone new: an account from the claims (the first role the console knows), signed in.
    let olu = person("olu-1", "olu@ca.example", Some(ORG), &["staff", "pathfinder"]);
    let (c, back) = sign_on(&daemon, &provider, olu.clone(), false).await;
    assert_eq!((back.status, back.location.as_deref()), (303, Some("/")), "{}", back.body);
    let home = page(&c, &daemon, "/").await;
    assert!(home.body.contains("Signed in as Olu Oidc (Pathfinder,"), "{}", home.body);
    assert_eq!(page(&c, &daemon, "/cases/new").await.status, 200);

    // The same person again: the same account (found by the provider's subject).
    let (_, again) = sign_on(&daemon, &provider, olu.clone(), false).await;
    assert_eq!(again.status, 303);
    let (_, _, code) = console_util::users(
        &daemon,
        &["add", "--organisation", ORG, "--role", "pathfinder", "--email", "olu@ca.example"],
    );
    assert_eq!(code, 2, "the account exists already");

    // A callback whose state is not the one this browser started with: nobody is signed in.
    let (c, forged) = sign_on(&daemon, &provider, olu.clone(), true).await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("You could not be signed in"));
    assert_eq!(page(&c, &daemon, "/").await.status, 303);

    // A new person with a role the console does not know: refused, no account made.
    let (_, unknown) =
        sign_on(&daemon, &provider, person("x-2", "x@ca.example", Some(ORG), &["janitor"]), false)
            .await;
    assert_eq!(unknown.status, 403);
    let (_, _, code) = console_util::users(&daemon, &["reset", "--email", "x@ca.example"]);
    assert_eq!(code, 2, "no account was made for them");

    // An ID token for another client (or a forged one) does not verify: refused.
    provider.state.lock().unwrap().wrong_audience = true;
    let (_, other_audience) = sign_on(
        &daemon,
        &provider,
        person("z-4", "z@ca.example", Some(ORG), &["pathfinder"]),
        false,
    )
    .await;
    assert_eq!(other_audience.status, 403);
    provider.state.lock().unwrap().wrong_audience = false;
    let (_, _, code) = console_util::users(&daemon, &["reset", "--email", "z@ca.example"]);
    assert_eq!(code, 2, "no account was made from an unverified token");

    // Disabled here: the provider's word does not sign them in.
    let (_, _, code) = console_util::users(&daemon, &["disable", "--email", "olu@ca.example"]);
    assert_eq!(code, 0);
    let (_, disabled) = sign_on(&daemon, &provider, olu, false).await;
    assert_eq!(disabled.status, 403);

    // A daemon with the wrong client secret: the provider refuses the code, no one signs in.
    drop(daemon);
    let env = [("PATHWAYS_TEST_OIDC_SECRET", "not-the-secret")];
    let wrong = Daemon::start_with(dir.path(), &storage, &sandbox, &env, &config(&provider)).await;
    let issued = provider.state.lock().unwrap().tokens_issued;
    let (_, refused) = sign_on(
        &wrong,
        &provider,
        person("y-3", "y@ca.example", Some(ORG), &["coordinator"]),
        false,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(provider.state.lock().unwrap().tokens_issued, issued, "no token for a wrong secret");
}
