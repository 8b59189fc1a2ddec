//! A small Prometheus registry: counters and histograms keyed by name and labels, rendered in
//! the text exposition format. Hand-written because the daemon needs a dozen series, not a
//! metrics framework (and its build time).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds, in seconds, of the latency histograms: partner round trips are tens of
/// milliseconds, plan deadlines a few seconds.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Series {
    counters: BTreeMap<(&'static str, Labels), u64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// The daemon's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<Series>,
}

/// What each metric means, for `# HELP`.
const HELP: &[(&str, &str, &str)] = &[
    (
        "pathways_http_requests_total",
        "counter",
        "HTTP requests answered, by route, method and status.",
    ),
    ("pathways_plan_duration_seconds", "histogram", "Time to plan one case, fan-out included."),
    (
        "pathways_partner_calls_total",
        "counter",
        "Partners asked while planning, by partner and outcome.",
    ),
    (
        "pathways_partner_latency_seconds",
        "histogram",
        "How long each partner took to answer or fail.",
    ),
    ("pathways_config_reloads_total", "counter", "Configuration reloads, by result."),
    ("pathways_audit_failures_total", "counter", "Audit entries that could not be written."),
    ("pathways_dispatch_attempts_total", "counter", "Referral sends attempted, by partner."),
    (
        "pathways_dispatch_outcomes_total",
        "counter",
        "Referral send outcomes, by partner and outcome (delivered, retry, failed).",
    ),
    ("pathways_dispatch_latency_seconds", "histogram", "How long each referral send took."),
    ("pathways_webhooks_total", "counter", "Partner callbacks, by partner and outcome."),
];

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, labels: Labels) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        *series.counters.entry((name, labels)).or_default() += 1;
    }

    /// Records one observation of a histogram.
    pub fn observe(&self, name: &'static str, labels: Labels, value: Duration) {
        let seconds = value.as_secs_f64();
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let h = series.histograms.entry((name, labels)).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; BUCKETS.len()];
        }
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The text exposition format, with `extra` (gauges sampled at scrape time) appended.
    pub fn render(&self, extra: &str) -> String {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((_, labels), value) in series.counters.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
            }
            for ((_, labels), h) in series.histograms.iter().filter(|((n, _), _)| n == name) {
                for (bound, count) in BUCKETS.iter().zip(&h.counts) {
                    let le = bound.to_string();
                    let _ =
                        writeln!(out, "{name}_bucket{} {count}", render_labels(labels, Some(&le)));
                }
                let all = render_labels(labels, Some("+Inf"));
                let plain = render_labels(labels, None);
                let _ = writeln!(out, "{name}_bucket{all} {}", h.count);
                let _ = writeln!(out, "{name}_sum{plain} {}", h.sum);
                let _ = writeln!(out, "{name}_count{plain} {}", h.count);
            }
        }
        out.push_str(extra);
        out
    }
}

/// `{a="x",b="y"}` with values escaped as the format requires.
pub fn render_labels(labels: &[(&'static str, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_exposition_format() {
        let m = Metrics::default();
        m.inc("pathways_http_requests_total", vec![("route", "/healthz".into())]);
        m.inc("pathways_http_requests_total", vec![("route", "/healthz".into())]);
        m.observe("pathways_plan_duration_seconds", vec![], Duration::from_millis(30));
        let text = m.render("");
        assert!(text.contains("pathways_http_requests_total{route=\"/healthz\"} 2"), "{text}");
        assert!(text.contains("pathways_plan_duration_seconds_bucket{le=\"0.025\"} 0"), "{text}");
        assert!(text.contains("pathways_plan_duration_seconds_bucket{le=\"0.05\"} 1"), "{text}");
        assert!(text.contains("pathways_plan_duration_seconds_count 1"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render_labels(&[("p", "a\"b\\c".into())], None);
        assert_eq!(text, "{p=\"a\\\"b\\\\c\"}");
    }
}
