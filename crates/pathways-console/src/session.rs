//! Who is signed in: sessions kept in the daemon's database (so several daemons on one
//! PostgreSQL share them), a cookie holding only a random token (the database keeps its
//! SHA-256), idle and absolute timeouts, and a CSRF token on every form derived from the
//! session's token (or, before sign-in, from a form cookie), checked in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use cookie::{Cookie, SameSite};
use pathways_daemon::{Caller, Role};
use pathways_store::{AccountStatus, StoredUser};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::form::Form;
use crate::Console;

/// The role a person has in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsoleRole {
    /// Takes cases, plans them with the client, sends referrals.
    Pathfinder,
    /// Follows referrals and reads the pathway report for an organisation.
    Coordinator,
    /// Runs the service: partners, the report.
    Admin,
    /// Staff of a partner organisation: the referrals sent to it, nothing else.
    Partner,
}

impl ConsoleRole {
    /// Every role, in the order forms list them.
    pub const ALL: [ConsoleRole; 4] = [
        ConsoleRole::Pathfinder,
        ConsoleRole::Coordinator,
        ConsoleRole::Admin,
        ConsoleRole::Partner,
    ];

    /// The name stored and configured.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Pathfinder => "pathfinder",
            ConsoleRole::Coordinator => "coordinator",
            ConsoleRole::Admin => "admin",
            ConsoleRole::Partner => "partner",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            ConsoleRole::Pathfinder => "Pathfinder",
            ConsoleRole::Coordinator => "Coordinator",
            ConsoleRole::Admin => "Administrator",
            ConsoleRole::Partner => "Partner staff",
        }
    }

    /// The API role the person acts with: the same checks as a key of that role.
    pub fn api_role(self) -> Role {
        match self {
            ConsoleRole::Pathfinder => Role::Pathfinder,
            ConsoleRole::Coordinator => Role::Coordinator,
            ConsoleRole::Admin => Role::Admin,
            ConsoleRole::Partner => Role::Partner,
        }
    }
}

/// The session cookie's name: `__Host-` (HTTPS only, this host, path `/`) unless the console
/// runs on plain HTTP on loopback.
pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-pathways-session"
    } else {
        "pathways-session"
    }
}

/// The cookie that carries the CSRF secret of forms shown before sign-in.
pub fn form_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-pathways-form"
    } else {
        "pathways-form"
    }
}

/// A new random token: 32 bytes from the operating system's generator, URL-safe base64.
pub fn new_token() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The hex SHA-256 of a token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The CSRF token of forms shown with `secret` (a session's token, or a form cookie's).
pub fn csrf_for(secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"pathways-csrf\0");
    hash.update(secret.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// Whether `given` is the CSRF token for `secret`, compared in constant time.
pub fn csrf_ok(secret: &str, given: &str) -> bool {
    csrf_ok_plain(&csrf_for(secret), given)
}

/// Whether two secrets are equal, compared in constant time.
pub fn csrf_ok_plain(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The value of cookie `name` in the request's headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` for `name=value`: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure` when
/// configured; `max_age` `None` for a browser-session cookie, zero to delete it.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut cookie = Cookie::build((name.to_string(), value.to_string()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure);
    if let Some(seconds) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
    }
    HeaderValue::from_str(&cookie.build().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("pathways-invalid=1"))
}

/// A signed-in person, for a handler: their account, the caller they act as, and their
/// forms' CSRF token. A request without a live session is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Their account.
    pub user: StoredUser,
    /// Their role in the console.
    pub role: ConsoleRole,
    /// Who the daemon's operations and the audit log see: the person's user id.
    pub caller: Caller,
    /// The CSRF token their forms carry.
    pub csrf: String,
    /// The session's token hash (sign-out ends it).
    pub session: String,
}

impl Signed {
    /// The form posted with this session, if its CSRF token is right.
    pub fn form(&self, body: &[u8]) -> Result<Form, Response> {
        let form = Form::parse(body);
        // The expected token is derived from the session; a form from another session (or
        // another site) fails here.
        if csrf_ok_plain(&self.csrf, form.get("csrf")) {
            Ok(form)
        } else {
            Err(crate::errors::forbidden_form())
        }
    }

    /// Whether the person has one of `roles`.
    pub fn is(&self, roles: &[ConsoleRole]) -> bool {
        roles.contains(&self.role)
    }

    /// A 403 page unless the person has one of `roles`.
    pub fn require(&self, roles: &[ConsoleRole]) -> Result<(), Response> {
        if self.is(roles) {
            Ok(())
        } else {
            Err(crate::errors::page(axum::http::StatusCode::FORBIDDEN))
        }
    }
}

/// Why a request has no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// No cookie, or one the database does not know.
    Absent,
    /// It ended for lack of use or at its absolute limit.
    Expired,
}

impl NoSession {
    fn into_response(self, secure: bool) -> Response {
        let to = match self {
            NoSession::Absent => "/sign-in",
            NoSession::Expired => "/sign-in?signed-out=timeout",
        };
        let mut response = Redirect::to(to).into_response();
        if self == NoSession::Expired {
            response.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(session_cookie(secure), "", secure, Some(0)),
            );
        }
        response
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        let secure = console.settings().secure_cookies;
        match load(console, &parts.headers, Utc::now()).await {
            Ok(signed) => Ok(signed),
            Err(Ok(no)) => Err(no.into_response(secure)),
            Err(Err(response)) => Err(response),
        }
    }
}

/// The signed-in person of `headers`, if any (an error page shows who is signed in).
pub async fn signed_in(console: &Console, headers: &HeaderMap) -> Option<Signed> {
    load(console, headers, Utc::now()).await.ok()
}

/// The session of `headers` at `now`, touched when it was last seen over a minute ago.
async fn load(
    console: &Console,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Signed, Result<NoSession, Response>> {
    let settings = console.settings();
    let store = console.handle().store();
    let token = cookie_value(headers, session_cookie(settings.secure_cookies))
        .ok_or(Ok(NoSession::Absent))?;
    let hash = token_hash(&token);
    let session = store
        .get_session(&hash)
        .await
        .map_err(|e| Err(crate::errors::store_failed(e)))?
        .ok_or(Ok(NoSession::Absent))?;
    let idle = chrono::Duration::from_std(settings.idle_timeout).unwrap_or(chrono::Duration::MAX);
    if session.expires_at <= now || session.last_seen_at + idle <= now {
        let _ = store.delete_session(&hash).await;
        return Err(Ok(NoSession::Expired));
    }
    let user = store
        .get_user(&session.user_id)
        .await
        .map_err(|e| Err(crate::errors::store_failed(e)))?
        .ok_or(Ok(NoSession::Absent))?;
    let role = ConsoleRole::parse(&user.role).ok_or(Ok(NoSession::Absent))?;
    if user.status != AccountStatus::Active {
        let _ = store.delete_session(&hash).await;
        return Err(Ok(NoSession::Absent));
    }
    if now - session.last_seen_at > chrono::Duration::seconds(60) {
        if let Err(e) = store.touch_session(&hash, now).await {
            tracing::warn!(error = %e, "cannot record a session's use");
        }
    }
    let caller = console.handle().person(user.id.as_str(), &user.organisation, role.api_role());
    Ok(Signed { csrf: csrf_for(&token), session: hash, caller, role, user })
}

/// The CSRF secret of a visitor not signed in, and the cookie to set when it is new.
pub fn visitor_secret(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    match cookie_value(headers, form_cookie(secure)) {
        Some(secret) if secret.len() >= 32 => (secret, None),
        _ => {
            let secret = new_token();
            let cookie = set_cookie(form_cookie(secure), &secret, secure, None);
            (secret, Some(cookie))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_belong_to_their_secret() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(csrf_ok(&a, &csrf_for(&a)));
        assert!(!csrf_ok(&a, &csrf_for(&b)));
        assert!(!csrf_ok(&a, ""));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_when_asked() {
        let secure = set_cookie("__Host-pathways-session", "t", true, None);
        let text = secure.to_str().unwrap();
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Lax"), "{text}");
        assert!(text.contains("Secure") && text.contains("Path=/"), "{text}");
        let plain = set_cookie("pathways-session", "t", false, Some(0));
        assert!(!plain.to_str().unwrap().contains("Secure"));
        assert!(plain.to_str().unwrap().contains("Max-Age=0"));
    }
}
