//! The coordinator's dashboard: the pathway report (the API's `GET /v1/reports/pathways`,
//! the same function) as tables and charts over a chosen period: acceptance rate and time to
//! acceptance by partner and need, rejections by reason; and the unmet needs by need and
//! area (`GET /v1/reports/unmet`). Each chart is server-rendered SVG
//! with a title and description, and the table beside it holds the same numbers; each table
//! downloads as CSV.

use pathways_daemon::csv_cell as cell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use minijinja::{context, Value};
use pathways_daemon::api::PathwayReport;
use serde::Serialize;

use super::{page, Section};
use crate::errors;
use crate::session::{ConsoleRole, Signed};
use crate::templates;
use crate::Console;

const READERS: &[ConsoleRole] = &[ConsoleRole::Coordinator, ConsoleRole::Admin];
const PERIODS: &[(u32, &str)] =
    &[(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days"), (365, "Last 12 months")];

/// `?days=…`
#[derive(Debug, serde::Deserialize)]
pub struct Period {
    days: Option<String>,
}

impl Period {
    fn days(query: Period) -> Result<u32, ()> {
        match query.days {
            None => Ok(90),
            Some(days) => {
                days.parse().ok().filter(|d| PERIODS.iter().any(|(p, _)| p == d)).ok_or(())
            }
        }
    }
}

/// One row of the acceptance table.
#[derive(Debug, Serialize)]
struct Acceptance {
    partner: String,
    need: String,
    sent: u64,
    accepted: u64,
    accepted_percent: Option<f64>,
    completed: u64,
    median_to_acceptance: String,
}

/// One row of the unmet (or blocked) needs tables.
#[derive(Debug, Serialize)]
struct Unmet {
    need: String,
    area: String,
    cases: u64,
    /// The reasons in words, with their counts ("No space (2); not eligible (1)").
    reasons: String,
}

/// A reason code of the unmet needs report, in the coordinator's words.
fn reason_words(code: &str) -> &'static str {
    match code {
        "no_service_in_area" => "No partner offers it in the area",
        "no_offer" => "Partners had no service for the client",
        "not_eligible" => "Not eligible",
        "no_capacity" => "No space",
        "no_answer" => "A partner did not answer",
        "consent_to_refer" => "Consent to refer not recorded",
        "consent_to_share_contact" => "Consent to share contact details not recorded",
        "chosen_authority" => "Housing authority not chosen",
        "authority_not_served" => "Chosen housing authority not served",
        "client_field" => "Client details missing",
        "direct_contact" => "No way to contact the client",
        "not_recorded" => "Not recorded",
        _ => "Other",
    }
}

fn unmet_rows(rows: &[pathways_daemon::api::UnmetRow]) -> Vec<Unmet> {
    rows.iter()
        .map(|r| Unmet {
            need: templates::need(r.need.as_str()),
            area: if r.area.is_empty() { "Not known".into() } else { r.area.clone() },
            cases: r.cases,
            reasons: r
                .reasons
                .iter()
                .map(|c| format!("{} ({})", reason_words(&c.reason), c.cases))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .collect()
}

async fn unmet(
    console: &Console,
    signed: &Signed,
    days: u32,
) -> Result<pathways_daemon::api::UnmetReport, Response> {
    let to = Utc::now();
    let from = to - Duration::days(i64::from(days));
    console.handle().unmet_report(&signed.caller, Some(from), Some(to)).await.map_err(errors::api)
}

/// One row of the rejections table.
#[derive(Debug, Serialize)]
struct Rejection {
    reason: String,
    count: u64,
}

async fn report(console: &Console, signed: &Signed, days: u32) -> Result<PathwayReport, Response> {
    let to = Utc::now();
    let from = to - Duration::days(i64::from(days));
    console.handle().pathway_report(&signed.caller, Some(from), Some(to)).await.map_err(errors::api)
}

fn tables(console: &Console, report: &PathwayReport) -> (Vec<Acceptance>, Vec<Rejection>) {
    let live = console.handle().live();
    let acceptance = report
        .pathways
        .iter()
        .map(|row| Acceptance {
            partner: live.orchestrator.display_name(&row.partner_id),
            need: templates::need(row.need.as_str()),
            sent: row.sent,
            accepted: row.accepted,
            accepted_percent: row.accepted_percent.map(|p| (p * 10.0).round() / 10.0),
            completed: row.completed,
            median_to_acceptance: row
                .median_secs_to_acceptance
                .map_or_else(|| "–".into(), duration),
        })
        .collect();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for row in &report.pathways {
        for r in &row.rejected_by_reason {
            let text = serde_json::to_value(r.reason)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_string))
                .unwrap_or_else(|| "other".into());
            *reasons.entry(text.replace('_', " ")).or_default() += r.count;
        }
    }
    let mut rejections: Vec<Rejection> =
        reasons.into_iter().map(|(reason, count)| Rejection { reason, count }).collect();
    rejections.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    (acceptance, rejections)
}

/// Seconds as "3 hours", "2 days".
fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => "under a minute".to_string(),
        s if s < 3600 => format!("{} minutes", s.div_ceil(60)),
        s if s < 48 * 3600 => format!("{} hours", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// The period asked for and the pathway report over it, for a coordinator or admin.
async fn read(
    console: &Console,
    signed: &Signed,
    query: Period,
) -> Result<(u32, PathwayReport), Response> {
    signed.require(READERS)?;
    let days = Period::days(query).map_err(|()| errors::page(StatusCode::BAD_REQUEST))?;
    Ok((days, report(console, signed, days).await?))
}

/// `GET /dashboard`
pub async fn show(
    State(console): State<Console>,
    signed: Signed,
    Query(query): Query<Period>,
) -> Response {
    let (days, report) = match read(&console, &signed, query).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let (acceptance, rejections) = tables(&console, &report);
    let (unmet, blocked) = match unmet(&console, &signed, days).await {
        Ok(report) => (unmet_rows(&report.unmet), unmet_rows(&report.blocked)),
        Err(response) => return response,
    };
    let mut by_need: Vec<(String, f64)> = Vec::new();
    for row in &unmet {
        match by_need.iter_mut().find(|(need, _)| *need == row.need) {
            Some((_, total)) => *total += row.cases as f64,
            None => by_need.push((row.need.clone(), row.cases as f64)),
        }
    }
    by_need.sort_by(|a, b| b.1.total_cmp(&a.1));
    let most = by_need.first().map_or(1.0, |(_, n)| n.max(1.0));
    let unmet_chart = bar_chart(
        "unmet-chart",
        "Cases with a need no service could meet, by need",
        &by_need,
        most,
        "",
    );
    let acceptance_chart = bar_chart(
        "acceptance-chart",
        "Referrals accepted, as a percentage of those sent, by partner and need",
        &acceptance
            .iter()
            .filter_map(|a| a.accepted_percent.map(|p| (format!("{}: {}", a.partner, a.need), p)))
            .collect::<Vec<_>>(),
        100.0,
        "%",
    );
    let max = rejections.iter().map(|r| r.count).max().unwrap_or(1) as f64;
    let rejections_chart = bar_chart(
        "rejections-chart",
        "Referrals declined by partners, by reason",
        &rejections.iter().map(|r| (r.reason.clone(), r.count as f64)).collect::<Vec<_>>(),
        max.max(1.0),
        "",
    );
    let periods: Vec<(String, String)> =
        PERIODS.iter().map(|(d, l)| (d.to_string(), (*l).to_string())).collect();
    let to = Utc::now();
    let from = to - chrono::Duration::days(i64::from(days));
    let outcomes = match console.handle().outcome_report(&signed.caller, Some(from), Some(to)).await
    {
        Ok(report) => report.pathways,
        Err(e) => return errors::api(e),
    };
    let schedule = match console.handle().follow_up_schedule(&signed.caller).await {
        Ok(schedule) => schedule,
        Err(e) => return errors::api(e),
    };
    let live = console.handle().live();
    let outcomes: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|row| {
            let mut value = serde_json::to_value(row).unwrap_or_default();
            value["partner"] = live.orchestrator.display_name(&row.partner_id).into();
            value["need_words"] = crate::templates::need(row.need.as_str()).into();
            value
        })
        .collect();
    let context = context! {
        outcomes => Value::from_serialize(&outcomes),
        suppress_below => pathways_daemon::SUPPRESS_BELOW,
        follow_up_weeks => super::home::weeks(schedule.after_days),
        follow_up_scheduled => schedule.after_days > 0,
        title => "Dashboard",
        days => days.to_string(),
        periods => periods,
        from => report.from.to_rfc3339(),
        to => report.to.to_rfc3339(),
        organisation => if report.organisation == "all" { "every organisation".to_string() } else { console.handle().live().orchestrator.display_name(&report.organisation) },
        acceptance => Value::from_serialize(&acceptance),
        rejections => Value::from_serialize(&rejections),
        acceptance_chart => Value::from_safe_string(acceptance_chart),
        rejections_chart => Value::from_safe_string(rejections_chart),
        unmet => Value::from_serialize(&unmet),
        blocked => Value::from_serialize(&blocked),
        unmet_chart => Value::from_safe_string(unmet_chart),
    };
    page(&console, &signed, Section::Dashboard, "dashboard.html", context)
}

/// `GET /dashboard/{table}.csv`
pub async fn csv(
    State(console): State<Console>,
    signed: Signed,
    Path(table): Path<String>,
    Query(query): Query<Period>,
) -> Response {
    let (days, report) = match read(&console, &signed, query).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let (acceptance, rejections) = tables(&console, &report);
    let mut out = String::new();
    match table.as_str() {
        "acceptance.csv" => {
            out.push_str("partner,need,sent,accepted,accepted_percent,completed,median_time_to_acceptance\r\n");
            for a in &acceptance {
                let percent = a.accepted_percent.map(|p| p.to_string()).unwrap_or_default();
                let _ = write!(
                    out,
                    "{},{},{},{},{},{},{}\r\n",
                    cell(&a.partner),
                    cell(&a.need),
                    a.sent,
                    a.accepted,
                    percent,
                    a.completed,
                    cell(&a.median_to_acceptance)
                );
            }
        }
        "rejections.csv" => {
            out.push_str("reason,count\r\n");
            for r in &rejections {
                let _ = write!(out, "{},{}\r\n", cell(&r.reason), r.count);
            }
        }
        "unmet.csv" => {
            // The API's own CSV (`GET /v1/reports/unmet?format=csv`), codes and all.
            match unmet(&console, &signed, days).await {
                Ok(report) => out.push_str(&pathways_daemon::unmet_csv(&report)),
                Err(response) => return response,
            };
        }
        _ => return errors::page(StatusCode::NOT_FOUND),
    }
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let name = format!(
        "attachment; filename=\"pathways-{}-{days}-days.csv\"",
        table.trim_end_matches(".csv")
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A CSV cell: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A horizontal bar chart as SVG: one bar per `(label, value)`, scaled to `max`; a title and
/// description for screen readers (the table beside it holds the same numbers).
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64)], max: f64, unit: &str) -> String {
    const LABEL: f64 = 320.0;
    const WIDTH: f64 = 320.0;
    const ROW: f64 = 28.0;
    let height = (bars.len().max(1) as f64) * ROW + 10.0;
    let mut svg = format!(
        "<svg class=\"app-chart\" id=\"{id}\" role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" \
         viewBox=\"0 0 {} {height}\" width=\"{}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        LABEL + WIDTH + 70.0,
        LABEL + WIDTH + 70.0,
        escape(title),
        if bars.is_empty() { "No data in this period.".to_string() } else { format!("{} bars; the table beside the chart lists the values.", bars.len()) },
    );
    if bars.is_empty() {
        svg.push_str(
            "<text class=\"app-chart__label\" x=\"0\" y=\"20\">No data in this period</text>",
        );
    }
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i as f64 * ROW + 5.0;
        let width = if max > 0.0 { (value / max).clamp(0.0, 1.0) * WIDTH } else { 0.0 };
        let _ = write!(
            svg,
            "<text class=\"app-chart__label\" x=\"0\" y=\"{}\">{}</text>\
             <rect class=\"app-chart__bar\" x=\"{LABEL}\" y=\"{y}\" width=\"{width:.1}\" height=\"{}\"/>\
             <text class=\"app-chart__label\" x=\"{:.1}\" y=\"{}\">{}{unit}</text>",
            y + 17.0,
            escape(&truncate(label, 44)),
            ROW - 8.0,
            LABEL + width + 6.0,
            y + 17.0,
            (value * 10.0).round() / 10.0,
        );
    }
    svg.push_str(&format!("<line class=\"app-chart__axis\" x1=\"{LABEL}\" y1=\"0\" x2=\"{LABEL}\" y2=\"{height}\"/></svg>"));
    svg
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let cut: String = text.chars().take(chars - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn a_chart_escapes_its_labels_and_scales_its_bars() {
        let svg =
            bar_chart("c", "Title <x>", &[("A & B".into(), 50.0), ("C".into(), 100.0)], 100.0, "%");
        assert!(svg.contains("A &amp; B") && svg.contains("Title &lt;x&gt;"));
        assert!(svg.contains("width=\"160.0\"") && svg.contains("width=\"320.0\""), "{svg}");
        assert!(svg.contains("role=\"img\""));
        assert!(!svg.contains("style="));
    }
}
