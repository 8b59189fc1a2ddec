//! Error pages. A handler answers a bare status (with, where it matters, which kind of
//! problem); the console's middleware (`layers::html_errors`) renders every error the same
//! way, inside the layout, so no one meets a blank page, a JSON body or a stack trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pathways_daemon::ApiError;

/// Which error page to show, carried in the response's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The status's own page.
    Status,
    /// A form whose CSRF token is missing or wrong (expired session, another site).
    FormExpired,
    /// Signing in is paused for this address or account.
    TooManyAttempts,
    /// Single sign-on did not vouch for the person (or the account is disabled).
    SignOnRefused,
}

/// The error page for `status`.
pub fn page(status: StatusCode) -> Response {
    with(status, Problem::Status)
}

/// `status` with `problem`'s page.
pub fn with(status: StatusCode, problem: Problem) -> Response {
    let mut response = status.into_response();
    response.extensions_mut().insert(problem);
    response
}

/// A form that failed its CSRF check: 403, "go back and try again".
pub fn forbidden_form() -> Response {
    with(StatusCode::FORBIDDEN, Problem::FormExpired)
}

/// The store failed: logged here (store errors never quote stored values), 503 to the person.
pub fn store_failed(error: pathways_store::StoreError) -> Response {
    tracing::error!(error = %error, "store failed");
    page(StatusCode::SERVICE_UNAVAILABLE)
}

/// The page for an error of the daemon's operations that a page does not show itself: a
/// case the person may not see is "page not found", exactly as a missing one.
pub fn api(error: ApiError) -> Response {
    if error.status.is_server_error() {
        tracing::error!(code = error.code, "an operation failed");
    }
    page(error.status)
}

/// The title and words of an error page.
pub fn words(status: StatusCode, problem: Problem) -> (&'static str, &'static str) {
    match (problem, status.as_u16()) {
        (Problem::FormExpired, _) => (
            "Your form has expired",
            "For your security, forms stop working when you sign out or after a time without \
             use. Go back, reload the page and try again.",
        ),
        (Problem::TooManyAttempts, _) => (
            "Too many attempts to sign in",
            "Signing in is paused for a while after too many attempts. Wait 15 minutes and try \
             again, or ask your administrator to reset your password.",
        ),
        (Problem::SignOnRefused, _) => (
            "You could not be signed in",
            "Your organisation's sign-in did not give Pathways what it needs to know who you \
             are, or your account is not active. Try again, or ask your Pathways administrator.",
        ),
        (_, 403) => (
            "You cannot use this page",
            "Your role does not include this page. Ask your administrator if you need it.",
        ),
        (_, 404) => (
            "Page not found",
            "If you typed the web address, check it is correct. If you followed a link to a \
             case, it may have been closed or you may not have access to it.",
        ),
        (_, 405) => ("This page cannot do that", "Go back and use the page's own buttons."),
        (_, 408) => ("The request took too long", "Go back and try again."),
        (_, 413) => {
            ("What you sent is too large", "Go back and shorten the notes, then try again.")
        }
        (_, 429) => ("The service is busy", "Wait a moment and try again."),
        (_, 503) => (
            "Sorry, the service is unavailable",
            "Nothing you entered has been lost if you go back. Try again in a few minutes.",
        ),
        (_, 400..=499) => ("There is a problem with the request", "Go back and try again."),
        _ => (
            "Sorry, there is a problem with the service",
            "Try again later. If it keeps happening, tell your administrator the time it \
             happened.",
        ),
    }
}
