//! Signing in and out, and setting a password from a one-time link.
//!
//! Sign-in is limited per address (in this daemon's memory) and per account (in the
//! database, so every daemon counts): after `lock_after` failures the account is locked for
//! `lock_for`, and the page says so without saying whether the account exists. The session id
//! is new at every sign-in (a token planted before sign-in is never promoted).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use minijinja::{context, Value};
use pathways_store::{AccountStatus, AuditAction, AuditOutcome, NewSession};

use crate::errors::{self, Problem};
use crate::form::{Errors, Form};
use crate::session::{self, Signed};
use crate::{password, Console};

/// `?signed-out=…` on the sign-in page.
#[derive(Debug, serde::Deserialize)]
pub struct SignInQuery {
    #[serde(rename = "signed-out")]
    signed_out: Option<String>,
}

/// `GET /sign-in`
pub async fn sign_in_form(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let notice = match query.signed_out {
        Some(reason) if reason == "timeout" => {
            Some("You were signed out because you had not used Pathways for a while.")
        }
        Some(_) => Some("You have signed out."),
        None => None,
    };
    let sso = console.settings().oidc.is_some();
    visitor_page(&console, &headers, "sign_in.html", context! { notice, email => "", sso }, None)
}

/// Renders a page for someone not signed in, with a CSRF token tied to their form cookie.
fn visitor_page(
    console: &Console,
    headers: &HeaderMap,
    template: &str,
    context: Value,
    errors: Option<&Errors>,
) -> Response {
    let secure = console.settings().secure_cookies;
    let (secret, cookie) = session::visitor_secret(headers, secure);
    let mut response = console.render(
        template,
        context! { ..context, ..context! {
            csrf => session::csrf_for(&secret),
            errors => errors.map(Value::from_serialize),
            title => match template { "set_password.html" => "Set your password", _ => "Sign in" },
        }},
    );
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if errors.is_some_and(|e| !e.is_empty()) {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// The form of a visitor, if its CSRF token matches their form cookie.
fn visitor_form(console: &Console, headers: &HeaderMap, body: &[u8]) -> Result<Form, Response> {
    let secure = console.settings().secure_cookies;
    let form = Form::parse(body);
    match session::cookie_value(headers, session::form_cookie(secure)) {
        Some(secret) if session::csrf_ok(&secret, form.get("csrf")) => Ok(form),
        _ => Err(errors::forbidden_form()),
    }
}

/// `POST /sign-in`
pub async fn sign_in(
    State(console): State<Console>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Response {
    let address = crate::layers::client_address(request.extensions());
    let Ok(body) = axum::body::to_bytes(request.into_body(), 16 * 1024).await else {
        return errors::page(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let form = match visitor_form(&console, &headers, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    if !console.limiter().attempt(address) {
        tracing::warn!(%address, "sign-in attempts from one address over the limit");
        return errors::with(StatusCode::TOO_MANY_REQUESTS, Problem::TooManyAttempts);
    }
    let email = form.get("email").to_string();
    let given = form.raw("password").to_string();
    let mut problems = Errors::default();
    if email.is_empty() {
        problems.add("email", "Enter your email address");
    }
    if given.is_empty() {
        problems.add("password", "Enter your password");
    }
    if !problems.is_empty() {
        let context = context! { email => email };
        return visitor_page(&console, &headers, "sign_in.html", context, Some(&problems));
    }
    let settings = console.settings();
    let store = console.handle().store();
    let user = match store.user_by_email(&email).await {
        Ok(user) => user,
        Err(e) => return errors::store_failed(e),
    };
    let now = Utc::now();
    if let Some(user) = &user {
        if user.locked_until.is_some_and(|until| until > now) {
            return errors::with(StatusCode::TOO_MANY_REQUESTS, Problem::TooManyAttempts);
        }
    }
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = password::verify(given, stored_hash).await;
    let active = user.as_ref().is_some_and(|u| u.status == AccountStatus::Active);
    let user = match user {
        Some(user) if matches && active => user,
        other => {
            if let Some(user) = other {
                let _ = store
                    .record_sign_in_failure(&user.id, now, settings.lock_after, settings.lock_for)
                    .await;
                let caller = console.handle().person(
                    user.id.as_str(),
                    &user.organisation,
                    pathways_daemon::Role::Pathfinder,
                );
                console
                    .handle()
                    .audit(&caller, AuditAction::SignIn, None, AuditOutcome::BadCredentials)
                    .await;
            }
            let mut problems = Errors::default();
            problems.add("email", "Enter a correct email address and password");
            let context = context! { email => email, sso => console.settings().oidc.is_some() };
            return visitor_page(&console, &headers, "sign_in.html", context, Some(&problems));
        }
    };
    if let Err(e) = store.clear_sign_in_failures(&user.id).await {
        return errors::store_failed(e);
    }
    match start_session(&console, &user).await {
        Ok(response) | Err(response) => response,
    }
}

/// Starts a new session for `user` (a new id at every sign-in: a token planted before sign-in
/// is never promoted), audits it, and sends them home.
pub(crate) async fn start_session(
    console: &Console,
    user: &pathways_store::StoredUser,
) -> Result<Response, Response> {
    let settings = console.settings();
    let store = console.handle().store();
    let now = Utc::now();
    let token = session::new_token();
    let absolute = chrono::Duration::from_std(settings.absolute_timeout)
        .unwrap_or(chrono::Duration::hours(12));
    let new = NewSession {
        id_hash: session::token_hash(&token),
        user_id: user.id.clone(),
        created_at: now,
        expires_at: now + absolute,
    };
    match store.insert_session(&new).await {
        Ok(true) => {}
        // The account was disabled meanwhile.
        Ok(false) => {
            return Err(errors::with(StatusCode::FORBIDDEN, errors::Problem::SignOnRefused))
        }
        Err(e) => return Err(errors::store_failed(e)),
    }
    let role = crate::session::ConsoleRole::parse(&user.role)
        .map_or(pathways_daemon::Role::Pathfinder, |r| r.api_role());
    let caller = console.handle().person(user.id.as_str(), &user.organisation, role);
    console.handle().audit(&caller, AuditAction::SignIn, None, AuditOutcome::Ok).await;
    tracing::info!(user = %user.id, "signed in");
    let secure = settings.secure_cookies;
    let mut response = super::see_other("/");
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(session::session_cookie(secure), &token, secure, None),
    );
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(session::form_cookie(secure), "", secure, Some(0)),
    );
    Ok(response)
}

/// `POST /sign-out`
pub async fn sign_out(State(console): State<Console>, signed: Signed, body: Bytes) -> Response {
    if let Err(response) = signed.form(&body) {
        return response;
    }
    if let Err(e) = console.handle().store().delete_session(&signed.session).await {
        return errors::store_failed(e);
    }
    console.handle().audit(&signed.caller, AuditAction::SignOut, None, AuditOutcome::Ok).await;
    let secure = console.settings().secure_cookies;
    let mut response = super::see_other("/sign-in?signed-out=yes");
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(session::session_cookie(secure), "", secure, Some(0)),
    );
    response
}

/// `?token=…` of a one-time link.
#[derive(Debug, serde::Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

/// `GET /set-password?token=…`
pub async fn set_password_form(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    let token = query.token.unwrap_or_default();
    let valid = match console
        .handle()
        .store()
        .peek_setup_token(&session::token_hash(&token), Utc::now())
        .await
    {
        Ok(found) => found.is_some(),
        Err(e) => return errors::store_failed(e),
    };
    let context = context! { token => token, valid => valid };
    let mut response = visitor_page(&console, &headers, "set_password.html", context, None);
    if !valid {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

/// `POST /set-password`
pub async fn set_password(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match visitor_form(&console, &headers, &body) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let token = form.get("token").to_string();
    let chosen = form.raw("password").to_string();
    if let Some(problem) = password::weakness(&chosen, form.raw("confirm")) {
        let mut problems = Errors::default();
        let field = if problem.contains("match") { "confirm" } else { "password" };
        problems.add(field, problem);
        let context = context! { token => token, valid => true };
        return visitor_page(&console, &headers, "set_password.html", context, Some(&problems));
    }
    let store = console.handle().store();
    let user_id = match store.take_setup_token(&session::token_hash(&token), Utc::now()).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            let context = context! { token => "", valid => false };
            let mut response = visitor_page(&console, &headers, "set_password.html", context, None);
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
        Err(e) => return errors::store_failed(e),
    };
    let hash = match password::hash(chosen).await {
        Ok(hash) => hash,
        Err(e) => {
            tracing::error!(error = %e, "cannot hash a password");
            return errors::page(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    if let Err(e) = store.set_password(&user_id, &hash, Utc::now()).await {
        return errors::store_failed(e);
    }
    tracing::info!(user = %user_id, "password set");
    super::see_other("/sign-in?signed-out=password-set").into_response()
}
