//! The daemon's metrics, each declared once, here: its name, help, type, unit and label set.
//! Call sites pass typed values to one method per metric (a [`StatusCode`], a
//! [`DispatchOutcome`], an [`AuditOutcome`], …), never a metric name or a label name, so a typo
//! is a compile error rather than a series that silently never appears.
//!
//! Kept by `prometheus-client` (the Prometheus project's Rust client) and rendered in the
//! Prometheus text format 0.0.4. The library writes the naming conventions: every family is
//! registered under the `pathways` prefix, a counter's name gets `_total` and a duration's
//! `_seconds` from its unit, so neither can be forgotten or doubled.

use std::fmt::Write as _;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use pathways_core::PartnerOutcome;
use pathways_orchestrator::{BreakerState, PartnerState};
use pathways_store::{AuditOutcome, DispatchOutcome};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of what [`Metrics::render`] returns.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Every family's name starts `pathways_`.
const PREFIX: &str = "pathways";

/// Upper bounds, in seconds, of the latency histograms: partner round trips are tens of
/// milliseconds, plan deadlines a few seconds.
const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// A family of latency histograms, one per label set.
type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

/// How a configuration reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    /// The new configuration serves from now on.
    Ok,
    /// It was refused; the previous one stays.
    Refused,
}

impl EncodeLabelValue for ReloadResult {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Refused => "refused",
        })
    }
}

/// What a referral send came to, as the outcome label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dispatched {
    Delivered,
    Retry,
    Failed,
}

impl From<&DispatchOutcome> for Dispatched {
    fn from(outcome: &DispatchOutcome) -> Self {
        match outcome {
            DispatchOutcome::Delivered { .. } => Dispatched::Delivered,
            DispatchOutcome::Retry { .. } => Dispatched::Retry,
            DispatchOutcome::Failed { .. } => Dispatched::Failed,
        }
    }
}

impl EncodeLabelValue for Dispatched {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Dispatched::Delivered => "delivered",
            Dispatched::Retry => "retry",
            Dispatched::Failed => "failed",
        })
    }
}

/// The label sets: a struct's field names are its label names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpRequest {
    /// The route's path template (`/v1/cases/{id}`), never a concrete path, or `unmatched`.
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Partner {
    partner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PartnerCall {
    partner: String,
    /// `plan.partners[].outcome` as the API spells it.
    outcome: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Reload {
    result: ReloadResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Dispatch {
    partner: String,
    outcome: Dispatched,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Webhook {
    /// The partner's id, or `unknown` when the path does not hold a code.
    partner: String,
    /// The callback's audit outcome.
    outcome: &'static str,
}

/// The daemon's counters and histograms.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpRequest, Counter>,
    plan_duration: Histogram,
    partner_calls: Family<PartnerCall, Counter>,
    partner_latency: Latencies<Partner>,
    config_reloads: Family<Reload, Counter>,
    audit_failures: Counter,
    dispatch_attempts: Family<Partner, Counter>,
    dispatch_outcomes: Family<Dispatch, Counter>,
    dispatch_latency: Latencies<Partner>,
    webhooks: Family<Webhook, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let latencies = || Latencies::new_with_constructor(latency_histogram as fn() -> Histogram);
        let metrics = Self {
            registry: Registry::with_prefix(PREFIX),
            http_requests: Family::default(),
            plan_duration: latency_histogram(),
            partner_calls: Family::default(),
            partner_latency: latencies(),
            config_reloads: Family::default(),
            audit_failures: Counter::default(),
            dispatch_attempts: Family::default(),
            dispatch_outcomes: Family::default(),
            dispatch_latency: latencies(),
            webhooks: Family::default(),
        };
        metrics.registered()
    }
}

impl Metrics {
    /// Registers every metric under its name and help (the library ends each help with a full
    /// stop); the handles stay shared with `self`.
    fn registered(mut self) -> Self {
        let r = &mut self.registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            self.http_requests.clone(),
        );
        r.register_with_unit(
            "plan_duration",
            "Time to plan one case, fan-out included",
            Unit::Seconds,
            self.plan_duration.clone(),
        );
        r.register(
            "partner_calls",
            "Partners asked while planning, by partner and outcome",
            self.partner_calls.clone(),
        );
        r.register_with_unit(
            "partner_latency",
            "How long each partner took to answer or fail",
            Unit::Seconds,
            self.partner_latency.clone(),
        );
        r.register(
            "config_reloads",
            "Configuration reloads, by result",
            self.config_reloads.clone(),
        );
        r.register(
            "audit_failures",
            "Audit entries that could not be written",
            self.audit_failures.clone(),
        );
        r.register(
            "dispatch_attempts",
            "Referral sends attempted, by partner",
            self.dispatch_attempts.clone(),
        );
        r.register(
            "dispatch_outcomes",
            "Referral send outcomes, by partner and outcome (delivered, retry, failed)",
            self.dispatch_outcomes.clone(),
        );
        r.register_with_unit(
            "dispatch_latency",
            "How long each referral send took",
            Unit::Seconds,
            self.dispatch_latency.clone(),
        );
        r.register("webhooks", "Partner callbacks, by partner and outcome", self.webhooks.clone());
        self
    }

    /// One HTTP request answered on `route` (its template).
    pub fn http_request(&self, route: &str, method: &Method, status: StatusCode) {
        let labels = HttpRequest {
            route: route.to_string(),
            method: method.as_str().to_string(),
            status: status.as_u16(),
        };
        self.http_requests.get_or_create(&labels).inc();
    }

    /// One case planned, fan-out included, in `took`.
    pub fn plan(&self, took: Duration) {
        self.plan_duration.observe(took.as_secs_f64());
    }

    /// One partner asked while planning: how it ended and how long it took.
    pub fn partner_call(&self, partner: &str, outcome: PartnerOutcome, took: Duration) {
        // The API's spelling of the outcome (serde's), so the label and the plan agree.
        let outcome = serde_json::to_value(outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let labels = PartnerCall { partner: partner.to_string(), outcome };
        self.partner_calls.get_or_create(&labels).inc();
        let partner = Partner { partner: labels.partner };
        self.partner_latency.get_or_create(&partner).observe(took.as_secs_f64());
    }

    /// One configuration reload attempted.
    pub fn config_reload(&self, result: ReloadResult) {
        self.config_reloads.get_or_create(&Reload { result }).inc();
    }

    /// One audit entry that could not be written.
    pub fn audit_failure(&self) {
        self.audit_failures.inc();
    }

    /// One referral send to `partner` started.
    pub fn dispatch_attempt(&self, partner: &str) {
        self.dispatch_attempts.get_or_create(&Partner { partner: partner.to_string() }).inc();
    }

    /// One referral send to `partner` finished with `outcome` after `took`.
    pub fn dispatch_finished(&self, partner: &str, outcome: &DispatchOutcome, took: Duration) {
        let labels = Partner { partner: partner.to_string() };
        self.dispatch_latency.get_or_create(&labels).observe(took.as_secs_f64());
        let labels = Dispatch { partner: labels.partner, outcome: Dispatched::from(outcome) };
        self.dispatch_outcomes.get_or_create(&labels).inc();
    }

    /// One partner callback, audited as `outcome`.
    pub fn webhook(&self, partner: &str, outcome: AuditOutcome) {
        let labels = Webhook { partner: partner.to_string(), outcome: outcome.as_str() };
        self.webhooks.get_or_create(&labels).inc();
    }

    /// The text exposition format: the counters and histograms, then what `sampled` read at
    /// scrape time.
    pub fn render(&self, sampled: &Sampled) -> String {
        let mut text = String::new();
        let encoded = prometheus_text::encode(&mut text, &self.registry)
            .and_then(|()| prometheus_text::encode(&mut text, &sampled.registry()));
        // Writing into a `String` cannot fail; should the library ever, the scrape shows
        // what was written and the log says why the rest is missing.
        if let Err(e) = encoded {
            tracing::error!(error = %e, "cannot render the metrics");
            let _ = writeln!(text, "# rendering stopped here: {e}");
        }
        text
    }
}

/// What is read rather than counted, at each scrape: each partner's breaker and calls in
/// flight, the outbox depth (absent when the store did not answer, so a dashboard shows a
/// gap rather than a false all-clear) and, on SQLite, the group commit's counts.
#[derive(Debug, Default)]
pub struct Sampled {
    /// Each enabled partner's state.
    pub partners: Vec<PartnerState>,
    /// Referrals waiting in the outbox.
    pub outbox_depth: Option<u64>,
    /// Transactions committed and the writes they carried (SQLite only).
    pub commits: Option<(u64, u64)>,
}

impl Sampled {
    /// A registry of this scrape's values alone: partners that a reload removed are gone
    /// from the next scrape, rather than frozen at their last value.
    fn registry(&self) -> Registry {
        let mut r = Registry::with_prefix(PREFIX);
        let breakers = Family::<Partner, Gauge>::default();
        let in_flight = Family::<Partner, Gauge>::default();
        for state in &self.partners {
            let labels = Partner { partner: state.partner_id.clone() };
            breakers.get_or_create(&labels).set(match state.breaker {
                BreakerState::Closed { .. } => 0,
                BreakerState::HalfOpen { .. } => 1,
                BreakerState::Open { .. } => 2,
            });
            in_flight
                .get_or_create(&labels)
                .set(i64::try_from(state.in_flight).unwrap_or(i64::MAX));
        }
        r.register(
            "partner_breaker_state",
            "Circuit breaker: 0 closed, 1 half open, 2 open",
            breakers,
        );
        r.register("partner_in_flight", "Calls in flight to each partner", in_flight);
        // Only partners whose plugin runs in a process of its own have a plugin host.
        let hosts_up = Family::<Partner, Gauge>::default();
        let host_deaths = Family::<Partner, Counter>::default();
        let mut isolated = false;
        for state in &self.partners {
            let Some(host) = &state.plugin_host else { continue };
            isolated = true;
            let labels = Partner { partner: state.partner_id.clone() };
            hosts_up.get_or_create(&labels).set(i64::from(host.pid.is_some()));
            host_deaths.get_or_create(&labels).inc_by(host.deaths);
        }
        if isolated {
            r.register(
                "plugin_host_up",
                "Whether the partner's plugin host child runs now (isolation = \"process\")",
                hosts_up,
            );
            r.register(
                "plugin_host_deaths",
                "Plugin host children of the partner that died (crashed or killed as hung)",
                host_deaths,
            );
        }
        if let Some(depth) = self.outbox_depth {
            let depth = i64::try_from(depth).unwrap_or(i64::MAX);
            r.register(
                "outbox_depth",
                "Referrals waiting in the outbox to be sent",
                ConstGauge::new(depth),
            );
        }
        // Writes ÷ commits is the group commit's batch size under the current load.
        if let Some((commits, writes)) = self.commits {
            r.register(
                "store_commits",
                "Transactions the store has committed",
                ConstCounter::new(commits),
            );
            r.register(
                "store_writes",
                "Writes those transactions carried",
                ConstCounter::new(writes),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format_with_their_conventions() {
        let m = Metrics::default();
        m.http_request("/healthz", &Method::GET, StatusCode::OK);
        m.http_request("/healthz", &Method::GET, StatusCode::OK);
        m.plan(Duration::from_millis(30));
        m.config_reload(ReloadResult::Refused);
        let text = m.render(&Sampled::default());
        for line in [
            "# TYPE pathways_http_requests_total counter",
            "pathways_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2",
            "# TYPE pathways_plan_duration_seconds histogram",
            "pathways_plan_duration_seconds_bucket{le=\"0.025\"} 0",
            "pathways_plan_duration_seconds_bucket{le=\"0.05\"} 1",
            "pathways_plan_duration_seconds_bucket{le=\"1\"} 1",
            "pathways_plan_duration_seconds_bucket{le=\"+Inf\"} 1",
            "pathways_plan_duration_seconds_count 1",
            "pathways_config_reloads_total{result=\"refused\"} 1",
            "# HELP pathways_audit_failures_total Audit entries that could not be written.",
            "pathways_audit_failures_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "`{line}` missing from:\n{text}");
        }
        assert!(!text.contains("# EOF"), "Prometheus text, not OpenMetrics");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.dispatch_attempt("a\"b\\c");
        let text = m.render(&Sampled::default());
        assert!(
            text.contains("pathways_dispatch_attempts_total{partner=\"a\\\"b\\\\c\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn sampled_values_are_rendered_only_when_read() {
        let m = Metrics::default();
        let none = m.render(&Sampled::default());
        assert!(!none.contains("pathways_outbox_depth"), "a gap, not a zero: {none}");
        assert!(!none.contains("pathways_store_commits_total"), "{none}");
        let sampled =
            Sampled { outbox_depth: Some(3), commits: Some((2, 5)), ..Sampled::default() };
        let text = m.render(&sampled);
        for line in [
            "# TYPE pathways_outbox_depth gauge",
            "pathways_outbox_depth 3",
            "# TYPE pathways_store_commits_total counter",
            "pathways_store_commits_total 2",
            "pathways_store_writes_total 5",
        ] {
            assert!(text.lines().any(|l| l == line), "`{line}` missing from:\n{text}");
        }
    }

    #[test]
    fn isolated_partners_plugin_hosts_are_rendered_and_others_have_none() {
        let m = Metrics::default();
        let state = |id: &str, host: Option<pathways_core::PluginHostState>| PartnerState {
            partner_id: id.into(),
            breaker: BreakerState::Closed { failures: 0 },
            in_flight: 0,
            last: None,
            plugin_host: host,
        };
        let in_process = Sampled { partners: vec![state("trusted", None)], ..Sampled::default() };
        assert!(!m.render(&in_process).contains("plugin_host"), "no isolated partner, no series");
        let host = |pid, deaths| pathways_core::PluginHostState { pid, deaths, last_death: None };
        let sampled = Sampled {
            partners: vec![
                state("trusted", None),
                state("steady", Some(host(Some(41), 0))),
                state("crashing", Some(host(None, 3))),
            ],
            ..Sampled::default()
        };
        let text = m.render(&sampled);
        for line in [
            "pathways_plugin_host_up{partner=\"steady\"} 1",
            "pathways_plugin_host_up{partner=\"crashing\"} 0",
            "pathways_plugin_host_deaths_total{partner=\"steady\"} 0",
            "pathways_plugin_host_deaths_total{partner=\"crashing\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "`{line}` missing from:\n{text}");
        }
        assert!(!text.contains("plugin_host_up{partner=\"trusted\"}"), "{text}");
    }
}
