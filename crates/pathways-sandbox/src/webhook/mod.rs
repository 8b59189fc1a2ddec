//! The webhook notifier: each simulator can tell the daemon when one of its referrals moves,
//! instead of waiting to be polled, as a partner with callbacks would.
//!
//! Configured per simulator (`[foodbank.webhook]`, `[nhs.webhook]`, ... in
//! `config/sandbox.toml`), a background task wakes every `min(step_ms, 1000)` ms, asks the
//! simulator where each referral has got to (the clock, or a status set by hand), and for every
//! change since its last notification POSTs one event per state passed through, in order.
//!
//! # Wire format ([Standard Webhooks](https://www.standardwebhooks.com/))
//! Headers `webhook-id` (`evt_<partner_reference>_<state>`: unique per event, the same on
//! every retry), `webhook-timestamp` (unix seconds), `webhook-signature: v1,<base64 of
//! HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` where the secret is `whsec_<base64 key>`, and
//! `content-type: application/json`. Body:
//! ```json
//! {"type": "referral.status_changed",
//!  "data": {"partner_reference": "FBV-7K3M9QAB", "state": "rejected", "reason": "no_capacity",
//!           "note": null, "occurred_at": "2026-11-20T10:00:05.000Z"}}
//! ```
//! `partner_reference` is what the simulator's receipt named (voucher id, Task id, Duty to
//! Refer referral id, Open311 `service_request_id`); `state` a FHIR Task state (`requested,
//! accepted, rejected, in-progress, completed, failed, cancelled`); `reason` one of
//! `no_capacity, not_eligible, out_of_area, could_not_contact, missing_information,
//! no_longer_interested, other` or null. A non-2xx answer is retried with backoff; after
//! `max_attempts` the event is given up (logged and counted in [`crate::WebhookStats`]).

mod config;
mod event;
mod notifier;
mod sign;

pub use config::WebhookConfig;
pub use notifier::WebhookStats;

pub(crate) use event::{EventReason, Progress, TaskState};
pub(crate) use notifier::{Notifier, WebhookSetup};

#[cfg(test)]
mod tests;
