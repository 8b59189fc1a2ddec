//! Single sign-on with OpenID Connect (`[console.oidc]`): the authorisation code flow with
//! PKCE. The provider is discovered from its issuer (and remembered); the PKCE verifier, the
//! nonce and the state travel in a short-lived `HttpOnly` cookie, so the callback may reach any
//! daemon. The ID token's signature, issuer, audience, expiry and nonce are checked by the
//! `openidconnect` crate; the organisation and role come from the configured claims.
//!
//! A person is found by the provider's subject (`issuer|sub`), else by their email address (the
//! subject is then linked); someone the console has never seen gets an account from the
//! claims. A disabled account stays disabled whatever the provider says.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IdToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use pathways_core::Personal;
use pathways_store::{AccountStatus, NewUser};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::errors;
use crate::session::{self, ConsoleRole};
use crate::{Console, OidcSettings};

/// The cookie that carries the flow's secrets between the two redirects.
fn flow_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-pathways-oidc"
    } else {
        "pathways-oidc"
    }
}

/// How long a sign-in at the provider may take.
const FLOW_SECONDS: i64 = 600;

/// The claims beyond the standard ones: the organisation and role claims are read from here.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    claims: HashMap<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type Token = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The provider's metadata, discovered once.
#[derive(Debug, Default)]
pub struct Provider {
    metadata: OnceCell<CoreProviderMetadata>,
}

fn http() -> Result<openidconnect::reqwest::Client, String> {
    // No redirects: a token endpoint that redirects could leak the code elsewhere (the
    // crate's own advice).
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}

async fn metadata<'a>(
    console: &'a Console,
    settings: &OidcSettings,
) -> Result<&'a CoreProviderMetadata, String> {
    console
        .oidc()
        .metadata
        .get_or_try_init(|| async {
            let issuer = IssuerUrl::new(settings.issuer.clone()).map_err(|e| e.to_string())?;
            CoreProviderMetadata::discover_async(issuer, &http()?)
                .await
                .map_err(|e| format!("{e:?}"))
        })
        .await
}

fn callback_url(console: &Console) -> String {
    format!("{}/sign-in/oidc/callback", console.settings().public_url.trim_end_matches('/'))
}

/// `GET /sign-in/oidc`: off to the provider.
pub async fn start(State(console): State<Console>) -> Response {
    let Some(settings) = console.settings().oidc.clone() else {
        return errors::page(StatusCode::NOT_FOUND);
    };
    let metadata = match metadata(&console, &settings).await {
        Ok(metadata) => metadata.clone(),
        Err(e) => {
            tracing::error!(error = %e, "the single sign-on provider cannot be discovered");
            return errors::page(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let Ok(redirect) = RedirectUrl::new(callback_url(&console)) else {
        return errors::page(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = format!("{}.{}.{}", state.secret(), nonce.secret(), verifier.secret());
    let secure = console.settings().secure_cookies;
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(flow_cookie(secure), &flow, secure, Some(FLOW_SECONDS)),
    );
    response
}

/// `?code=…&state=…` (or `?error=…`) from the provider.
#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Why a single sign-on was refused, for the log (never the person's data).
fn refused(why: &str) -> Response {
    tracing::warn!(why, "single sign-on refused");
    errors::with(StatusCode::FORBIDDEN, errors::Problem::SignOnRefused)
}

/// `GET /sign-in/oidc/callback`
pub async fn callback(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some(settings) = console.settings().oidc.clone() else {
        return errors::page(StatusCode::NOT_FOUND);
    };
    let secure = console.settings().secure_cookies;
    let Some(flow) = session::cookie_value(&headers, flow_cookie(secure)) else {
        return refused("no flow cookie (expired, or another browser)");
    };
    let mut parts = flow.splitn(3, '.');
    let (Some(state), Some(nonce), Some(verifier)) = (parts.next(), parts.next(), parts.next())
    else {
        return refused("a malformed flow cookie");
    };
    if query.error.is_some() {
        return refused("the provider answered an error");
    }
    let (Some(code), Some(given_state)) = (query.code, query.state) else {
        return errors::page(StatusCode::BAD_REQUEST);
    };
    if !session::csrf_ok_plain(state, &given_state) {
        return refused("the state does not match the flow cookie");
    }
    let claims = match verify(&console, &settings, code, verifier, nonce).await {
        Ok(claims) => claims,
        Err(why) => return refused(&why),
    };
    let mut response = match sign_in(&console, &settings, claims).await {
        Ok(response) => response,
        Err(response) => return response,
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(flow_cookie(secure), "", secure, Some(0)));
    response
}

/// What the ID token says of the person.
struct Person {
    subject: String,
    email: Option<String>,
    name: Option<String>,
    organisation: Option<String>,
    role: Option<String>,
}

async fn verify(
    console: &Console,
    settings: &OidcSettings,
    code: String,
    verifier: &str,
    nonce: &str,
) -> Result<Person, String> {
    let metadata = metadata(console, settings).await?.clone();
    let redirect = RedirectUrl::new(callback_url(console)).map_err(|e| e.to_string())?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| format!("no token endpoint: {e}"))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .request_async(&http()?)
        .await
        .map_err(|e| format!("the token request failed: {e:?}"))?;
    let _ = tokens.access_token();
    let raw = tokens.id_token().ok_or("no ID token in the answer")?.to_string();
    let token: Token = raw.parse().map_err(|e| format!("the ID token does not read: {e}"))?;
    let claims = token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
        .map_err(|e| format!("the ID token does not verify: {e}"))?;
    let text = |name: &str| {
        claims.additional_claims().claims.get(name).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            // A roles claim is often a list: the first role the console knows.
            serde_json::Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str())
                .find(|s| ConsoleRole::parse(s).is_some() || name != settings.role_claim)
                .map(str::to_string),
            _ => None,
        })
    };
    Ok(Person {
        subject: format!("{}|{}", settings.issuer, claims.subject().as_str()),
        email: claims.email().map(|e| e.as_str().to_string()),
        name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
        organisation: text(&settings.organisation_claim),
        role: text(&settings.role_claim),
    })
}

async fn sign_in(
    console: &Console,
    settings: &OidcSettings,
    person: Person,
) -> Result<Response, Response> {
    let store = console.handle().store();
    let found =
        match store.user_by_oidc_subject(&person.subject).await.map_err(errors::store_failed)? {
            Some(user) => Some(user),
            None => match &person.email {
                Some(email) => {
                    let user = store.user_by_email(email).await.map_err(errors::store_failed)?;
                    if let Some(user) = &user {
                        store
                            .set_oidc_subject(&user.id, Some(&person.subject))
                            .await
                            .map_err(errors::store_failed)?;
                    }
                    user
                }
                None => None,
            },
        };
    let user = match found {
        Some(user) => user,
        None => {
            // Someone new: an account from the claims, or nothing.
            let (Some(email), Some(organisation), Some(role)) =
                (&person.email, &person.organisation, &person.role)
            else {
                return Err(refused("a new person without email, organisation or role claims"));
            };
            let Some(role) = ConsoleRole::parse(role) else {
                return Err(refused("a role claim the console does not know"));
            };
            if !crate::accounts::is_organisation_id(organisation)
                || !crate::accounts::is_email(email)
            {
                return Err(refused("an organisation or email claim that is not one"));
            }
            let new = NewUser {
                organisation: organisation.clone(),
                role: role.as_str().to_string(),
                email: Personal::new(email.clone()),
                display_name: person.name.clone().map(Personal::new),
            };
            let id = store.insert_user(&new, Utc::now()).await.map_err(errors::store_failed)?;
            store
                .set_oidc_subject(&id, Some(&person.subject))
                .await
                .map_err(errors::store_failed)?;
            // Signed in by the provider: active without a password of ours.
            store
                .set_user_status(&id, AccountStatus::Active)
                .await
                .map_err(errors::store_failed)?;
            store
                .get_user(&id)
                .await
                .map_err(errors::store_failed)?
                .ok_or_else(|| errors::page(StatusCode::INTERNAL_SERVER_ERROR))?
        }
    };
    if user.status == AccountStatus::Disabled {
        return Err(refused("a disabled account"));
    }
    if user.status == AccountStatus::Invited {
        // An account made for password sign-in and never used: the provider vouches for it.
        store
            .set_user_status(&user.id, AccountStatus::Active)
            .await
            .map_err(errors::store_failed)?;
    }
    let _ = settings;
    super::account::start_session(console, &user).await
}
