//! The pages, one module per task. Each handler authenticates through [`Signed`], checks the
//! role, calls the daemon's operations as the signed-in person, and renders a template with
//! the layout's context ([`page`]).

pub mod account;
pub mod case;
pub mod case_new;
pub mod consent;
pub mod copy;
pub mod dashboard;
pub mod follow_up;
pub mod home;
pub mod inbox;
pub mod live;
pub mod oidc;
pub mod partners;
pub mod plan;
pub mod schedule;

use axum::response::Response;
use minijinja::{context, Value};
use serde::Serialize;

use crate::session::{ConsoleRole, Signed};
use crate::Console;

/// One link of the navigation.
#[derive(Debug, Serialize)]
struct NavItem {
    href: &'static str,
    label: &'static str,
    active: bool,
}

/// The person shown in the header.
#[derive(Debug, Serialize)]
struct Me {
    name: String,
    role: ConsoleRole,
    role_label: &'static str,
    organisation: String,
    organisation_name: String,
}

/// Which section of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The home page and the cases reached from it.
    Home,
    /// Taking a new case.
    NewCase,
    /// The coordinator's dashboard.
    Dashboard,
    /// The partners page.
    Partners,
}

fn nav(role: ConsoleRole, active: Section) -> Vec<NavItem> {
    let item = |href, label, section| NavItem { href, label, active: active == section };
    let mut items = vec![item("/", "Home", Section::Home)];
    match role {
        ConsoleRole::Pathfinder => items.push(item("/cases/new", "New case", Section::NewCase)),
        ConsoleRole::Coordinator => items.push(item("/dashboard", "Dashboard", Section::Dashboard)),
        ConsoleRole::Admin => {
            items.push(item("/dashboard", "Dashboard", Section::Dashboard));
            items.push(item("/partners", "Partners", Section::Partners));
        }
        ConsoleRole::Partner => {}
    }
    items
}

/// Renders `template` for the signed-in person, with the layout's context (who is signed in,
/// the navigation, the CSRF token) merged into `context`.
pub fn page(
    console: &Console,
    signed: &Signed,
    section: Section,
    template: &str,
    context: Value,
) -> Response {
    let live = console.handle().live();
    let name = signed
        .user
        .display_name
        .as_ref()
        .map(|n| n.expose().clone())
        .unwrap_or_else(|| signed.user.email.expose().clone());
    let me = Me {
        name,
        role: signed.role,
        role_label: signed.role.label(),
        organisation: signed.user.organisation.clone(),
        organisation_name: live.orchestrator.display_name(&signed.user.organisation),
    };
    let layout = context! {
        me => Value::from_serialize(&me),
        nav => Value::from_serialize(nav(signed.role, section)),
        csrf => &signed.csrf,
    };
    console.render(template, context! { ..context, ..layout })
}

/// The owner's view of case `id` for the signed-in person, or the page to answer instead: a
/// case they may not see, or only a partner organisation's view of, is "page not found".
pub async fn owned_case(
    console: &Console,
    signed: &Signed,
    id: &str,
) -> Result<pathways_daemon::access::OwnerCaseView, Response> {
    use pathways_daemon::access::CaseView;
    match console.handle().case(&signed.caller, id).await {
        Ok(CaseView::Owner(view)) => Ok(view),
        Ok(CaseView::Partner(_)) => Err(crate::errors::page(axum::http::StatusCode::NOT_FOUND)),
        Err(e) => Err(crate::errors::api(e)),
    }
}

/// A form page: as [`page`], answered with `status` (and its error summary) when `problems`
/// has any.
pub fn form_page(
    console: &Console,
    signed: &Signed,
    template: &str,
    context: Value,
    problems: &crate::form::Errors,
    status: axum::http::StatusCode,
) -> Response {
    let mut response = page(console, signed, Section::Home, template, context);
    if !problems.is_empty() {
        *response.status_mut() = status;
    }
    response
}

/// The form a signed-in pathfinder posted (its CSRF token checked), or the page refusing it.
pub fn pathfinder_form(signed: &Signed, body: &[u8]) -> Result<crate::form::Form, Response> {
    signed.require(&[crate::session::ConsoleRole::Pathfinder])?;
    signed.form(body)
}

/// A 303 to `to` (after a form post: the browser then GETs it).
pub fn see_other(to: &str) -> Response {
    axum::response::IntoResponse::into_response(axum::response::Redirect::to(to))
}
