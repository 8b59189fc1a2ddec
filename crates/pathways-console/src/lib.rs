//! The pathways web console: server-rendered pages for the people who use pathways
//! (pathfinders, coordinators, administrators, partner staff), served by the daemon at `/`
//! beside its API (`pathways_daemon::Daemon::with_front`).
//!
//! It shares the daemon's state and calls the daemon's own operations
//! ([`pathways_daemon::service::Handle`]) with the signed-in person as the caller: intake,
//! planning, amendments, referrals, views by role and the audit log have one implementation,
//! and the console never calls its own HTTP API. Every task works without JavaScript (forms
//! and redirects); GOV.UK Frontend's styles and scripts are embedded in the binary.

// A handler's early answer (a redirect, an error page) is a `Response`, built once and
// returned at once: boxing it would only add an allocation to every refusal.
#![allow(clippy::result_large_err)]

pub mod accounts;
mod assets;
pub mod errors;
pub mod form;
mod layers;
pub mod pages;
pub mod password;
pub mod session;
mod settings;
mod templates;

use std::sync::Arc;

use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use pathways_daemon::service::Handle;

pub use settings::{ConsoleSettings, OidcSettings};

/// The console: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    settings: ConsoleSettings,
    templates: minijinja::Environment<'static>,
    limiter: layers::AddressLimiter,
    jobs: pages::live::Jobs,
    oidc: pages::oidc::Provider,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

/// A console that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// A template does not compile (a bug in this crate, found at start-up).
    #[error("a console template does not compile: {0}")]
    Template(#[from] minijinja::Error),
}

impl Console {
    /// A console over the daemon's `handle`.
    pub fn new(handle: Handle, settings: ConsoleSettings) -> Result<Self, ConsoleError> {
        let templates = templates::environment()?;
        let limiter =
            layers::AddressLimiter::new(settings.address_attempts, settings.address_window);
        let jobs = pages::live::Jobs::default();
        let oidc = pages::oidc::Provider::default();
        Ok(Self { inner: Arc::new(Inner { handle, settings, templates, limiter, jobs, oidc }) })
    }

    /// The daemon's operations and state.
    pub fn handle(&self) -> &Handle {
        &self.inner.handle
    }

    /// The settings.
    pub fn settings(&self) -> &ConsoleSettings {
        &self.inner.settings
    }

    pub(crate) fn limiter(&self) -> &layers::AddressLimiter {
        &self.inner.limiter
    }

    pub(crate) fn jobs(&self) -> &pages::live::Jobs {
        &self.inner.jobs
    }

    pub(crate) fn oidc(&self) -> &pages::oidc::Provider {
        &self.inner.oidc
    }

    /// Renders template `name` with `context`; a failure is logged and answered with the
    /// error page (a template bug must not show a person half a page).
    pub fn render(&self, name: &str, context: minijinja::Value) -> Response {
        match self.inner.templates.get_template(name).and_then(|t| t.render(context)) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "a page did not render");
                errors::page(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    /// The router of every page, with the console's middleware.
    pub fn router(&self) -> Router {
        use pages::{
            account, case, case_new, consent, copy, dashboard, follow_up, home, inbox, live, oidc,
            partners, plan, schedule,
        };
        let routes = Router::new()
            .route("/", get(home::show))
            .route("/sign-in", get(account::sign_in_form).post(account::sign_in))
            .route("/sign-in/oidc", get(oidc::start))
            .route("/sign-in/oidc/callback", get(oidc::callback))
            .route("/sign-out", post(account::sign_out))
            .route("/set-password", get(account::set_password_form).post(account::set_password))
            .route("/cases/new", get(case_new::form).post(case_new::submit))
            .route("/cases/{id}", get(case::show))
            .route("/cases/{id}/consent", get(consent::form).post(consent::submit))
            .route("/cases/{id}/reroute", post(consent::reroute))
            .route("/cases/{id}/follow-up", get(follow_up::form).post(follow_up::submit))
            .route("/cases/{id}/plan", get(plan::show).post(plan::make))
            .route("/cases/{id}/plan/start", post(live::start))
            .route("/cases/{id}/plan/events/{job}", get(live::events))
            .route("/cases/{id}/states", get(live::states))
            .route("/cases/{id}/plan/amend", post(plan::amend))
            .route("/cases/{id}/plan/check", get(plan::check))
            .route("/cases/{id}/referrals", post(plan::send))
            .route("/cases/{id}/sent", get(plan::sent))
            .route("/cases/{id}/copy", get(copy::show))
            .route("/referrals/{id}", get(case::referral))
            .route("/referrals/{id}/cancel", post(case::cancel))
            .route("/referrals/{id}/answer", post(inbox::answer))
            .route("/capacity", get(inbox::capacity_form).post(inbox::capacity_save))
            .route("/dashboard", get(dashboard::show))
            .route("/dashboard/{table}", get(dashboard::csv))
            .route("/follow-up-schedule", get(schedule::form).post(schedule::save))
            .route("/partners", get(partners::show))
            .route("/assets/{name}", get(assets::serve))
            .fallback(layers::no_page)
            .method_not_allowed_fallback(layers::wrong_method);
        layers::wrap(routes, self.clone())
    }
}
