//! The console's middleware, outermost first:
//!
//! 1. every request gets an `x-request-id` and a tracing span (method, path; never a form
//!    value, a cookie or a query);
//! 2. security headers on every answer: a Content-Security-Policy without `unsafe-inline`
//!    (scripts, styles, images and connections from this site only; no frames, no other
//!    form targets), `frame-ancestors 'none'`, `Referrer-Policy: no-referrer`,
//!    `X-Content-Type-Options: nosniff`; pages are `Cache-Control: no-store` (a shared
//!    computer's back button must not show a client's case after sign-out);
//! 3. error pages: any error answered without a page (a bare status from a handler, axum's
//!    own rejections, a timeout, a panic) becomes the error page inside the layout;
//! 4. a panic becomes a 500 (the process and the connection survive);
//! 5. a request that takes longer than the daemon's request timeout is answered 503;
//! 6. the body limit (413).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::{BoxError, Router};
use minijinja::context;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::errors::{self, Problem};
use crate::Console;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The policy: nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Wraps the console's routes in the stack described above.
pub fn wrap(routes: Router<Console>, console: Console) -> Router {
    let limits = console.handle().limits();
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overload_error))
        .timeout(limits.request_timeout);
    routes
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(overload)
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a console handler panicked");
            errors::page(StatusCode::INTERNAL_SERVER_ERROR)
        }))
        .layer(middleware::from_fn_with_state(console.clone(), html_errors))
        .layer(middleware::from_fn_with_state(console.clone(), security_headers))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok());
            tracing::info_span!("page", request_id = id.unwrap_or(""), method = %req.method(),
                path = req.uri().path())
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(console)
}

async fn overload_error(error: BoxError) -> Response<Body> {
    if error.is::<tower::timeout::error::Elapsed>() {
        errors::page(StatusCode::SERVICE_UNAVAILABLE)
    } else {
        tracing::error!(error = %error, "console middleware failed");
        errors::page(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

async fn security_headers(
    State(console): State<Console>,
    req: Request,
    next: Next,
) -> Response<Body> {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(
        headers,
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    if console.settings().secure_cookies {
        set(headers, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    if !is_asset {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

async fn html_errors(State(console): State<Console>, req: Request, next: Next) -> Response<Body> {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().clone();
    let headers = req.headers().clone();
    let response = next.run(req).await;
    let status = response.status();
    console.handle().count_request(&route, &method, status);
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_html {
        return response;
    }
    let problem = response.extensions().get::<Problem>().copied().unwrap_or(Problem::Status);
    let (title, words) = errors::words(status, problem);
    let context = context! { title => title, words => words, status => status.as_u16() };
    // A signed-in person keeps their header and navigation on an error page (not after a
    // refused form: its session may be the problem).
    let signed = match problem {
        Problem::Status => crate::session::signed_in(&console, &headers).await,
        _ => None,
    };
    let mut page = match signed {
        Some(signed) => crate::pages::page(
            &console,
            &signed,
            crate::pages::Section::Home,
            "error.html",
            context,
        ),
        None => console.render("error.html", context),
    };
    *page.status_mut() = status;
    for name in [header::RETRY_AFTER, header::ALLOW, header::SET_COOKIE] {
        for value in response.headers().get_all(&name) {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
}

/// The fallback for paths no page serves.
pub async fn no_page() -> Response<Body> {
    errors::page(StatusCode::NOT_FOUND)
}

/// The answer for a page with a method it does not accept.
pub async fn wrong_method() -> Response<Body> {
    errors::page(StatusCode::METHOD_NOT_ALLOWED)
}

/// The client's address, when the server recorded it (it does for every connection).
pub fn client_address(req: &axum::http::Extensions) -> IpAddr {
    req.get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |ConnectInfo(address)| address.ip())
}

/// Sign-in attempts per address within a window, in this daemon's memory (an account's own
/// lock is in the database, shared by every daemon).
pub struct AddressLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AddressLimiter {
    /// At most `limit` attempts per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts an attempt from `address`; `false` when it is over the limit.
    pub fn attempt(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() > 100_000 {
            // Bounded memory whatever the traffic: forget windows that have passed.
            seen.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = seen.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_within_its_window_only() {
        let limiter = AddressLimiter::new(3, Duration::from_millis(50));
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        assert!(limiter.attempt(a) && limiter.attempt(a) && limiter.attempt(a));
        assert!(!limiter.attempt(a));
        assert!(limiter.attempt(b));
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.attempt(a));
    }
}
