//! The background task that watches one simulator's referrals and posts an event for every
//! state each one reaches, retrying a refused delivery with backoff before giving it up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::config::WebhookConfig;
use super::event::{event_body, event_id, EventReason, TaskState};
use super::sign::SigningKey;
use crate::sim::{lock, SimState};
use crate::SandboxError;

/// The longest the notifier waits between looks, whatever the clock's step.
const MAX_TICK: Duration = Duration::from_secs(1);

/// The longest one delivery attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a simulator's notifier starts: its webhook and the clock's step.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSetup {
    /// Where to and how signed.
    pub config: WebhookConfig,
    /// The sandbox clock's step (0: stopped), which sets how often the notifier looks.
    pub step_ms: u64,
}

/// Counts of one simulator's webhook deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookStats {
    /// Events the receiver accepted (2xx).
    pub delivered: u64,
    /// Attempts that failed (no connection, timeout, or a non-2xx answer).
    pub failed_attempts: u64,
    /// Events given up after `max_attempts` failed attempts.
    pub given_up: u64,
}

/// A running notifier.
#[derive(Debug)]
pub(crate) struct Notifier {
    stats: Arc<Mutex<WebhookStats>>,
    task: JoinHandle<()>,
}

/// One event on its way: what the notifier needs to send and sign it.
struct Delivery<'a> {
    partner: &'static str,
    client: &'a reqwest::Client,
    config: &'a WebhookConfig,
    key: &'a SigningKey,
    stats: &'a Mutex<WebhookStats>,
}

impl Notifier {
    /// Starts watching `state`'s referrals; fails when the secret cannot be had.
    pub(crate) fn start<S: SimState>(
        partner: &'static str,
        setup: WebhookSetup,
        state: Arc<S>,
    ) -> Result<Self, SandboxError> {
        let refused = |message: String| SandboxError::Config {
            origin: "sandbox configuration".into(),
            field: format!("{partner}.webhook"),
            line: None,
            message,
        };
        setup.config.validate().map_err(|(field, message)| SandboxError::Config {
            origin: "sandbox configuration".into(),
            field: format!("{partner}.webhook.{field}"),
            line: None,
            message,
        })?;
        let key = setup.config.signing_key().map_err(refused)?;
        let client = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| refused(format!("cannot build the HTTP client: {e}")))?;
        let stats = Arc::new(Mutex::new(WebhookStats::default()));
        let task = tokio::spawn(watch(partner, setup, state, client, key, stats.clone()));
        Ok(Self { stats, task })
    }

    /// A snapshot of the counts.
    pub(crate) fn stats(&self) -> WebhookStats {
        lock(&self.stats).clone()
    }

    /// Stops watching; an event being retried is dropped.
    pub(crate) async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Every tick, tells the receiver each state reached since the last one told.
async fn watch<S: SimState>(
    partner: &'static str,
    setup: WebhookSetup,
    state: Arc<S>,
    client: reqwest::Client,
    key: SigningKey,
    stats: Arc<Mutex<WebhookStats>>,
) {
    let step_ms = setup.step_ms;
    // A stopped clock still lets statuses be set by hand, so keep looking, just less often.
    let tick = if step_ms == 0 { MAX_TICK } else { Duration::from_millis(step_ms).min(MAX_TICK) };
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let delivery =
        Delivery { partner, client: &client, config: &setup.config, key: &key, stats: &stats };
    let mut told: HashMap<String, TaskState> = HashMap::new();
    loop {
        ticks.tick().await;
        for progress in state.progress() {
            let last = told.get(&progress.reference).copied();
            for (reached, at) in progress.since(last, step_ms) {
                let reason = if reached == progress.state { progress.reason } else { None };
                let url = setup.config.url_for(progress.area);
                delivery.send(url, &progress.reference, reached, reason, at).await;
                // Told or given up, it is not told again: a receiver that was down for one
                // event still hears about the next.
                told.insert(progress.reference.clone(), reached);
            }
        }
    }
}

impl Delivery<'_> {
    /// Posts one event, retrying with backoff; counts the outcome.
    async fn send(
        &self,
        url: &str,
        reference: &str,
        state: TaskState,
        reason: Option<EventReason>,
        at: DateTime<Utc>,
    ) {
        let id = event_id(reference, state);
        let body = event_body(reference, state, reason, at).to_string();
        let mut wait = Duration::from_millis(self.config.retry_ms);
        for attempt in 1..=self.config.max_attempts {
            if attempt > 1 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            // Each attempt is signed afresh: receivers refuse old timestamps.
            let timestamp = Utc::now().timestamp();
            let signature = self.key.sign(&id, timestamp, body.as_bytes());
            let answer = self
                .client
                .post(url)
                .header("webhook-id", &id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let failure = match answer {
                Ok(answer) if answer.status().is_success() => {
                    lock(self.stats).delivered += 1;
                    return;
                }
                Ok(answer) => format!("answered {}", answer.status()),
                Err(err) => format!("failed: {err}"),
            };
            lock(self.stats).failed_attempts += 1;
            let partner = self.partner;
            tracing::debug!(partner, event = %id, attempt, %failure, "webhook attempt failed");
        }
        lock(self.stats).given_up += 1;
        tracing::warn!(
            partner = self.partner,
            event = %id,
            attempts = self.config.max_attempts,
            %url,
            "webhook event given up"
        );
    }
}
