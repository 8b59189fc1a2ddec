//! The `Idempotency-Key` of `POST /v1/cases/{id}/referrals` across daemons, end to end: the
//! real binary over real HTTP, with the food bank plugin and its simulator (which counts
//! distinct referral keys). The test opens the daemon's SQLite file itself to play another
//! daemon's request: one still in flight (409), and one left in flight by a daemon that died,
//! before or after writing its referrals (taken over once older than twice the request
//! timeout, never creating a second referral).

mod referrals_util;

use std::time::Duration;

use pathways_core::Referral;
use pathways_daemon::{referral_fingerprint, referral_key, ReferralRequest};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_store::{
    AuditAction, AuditFilter, AuditOutcome, CaseId, IdempotencyOutcome, NewReferral, ReferralId,
    SqliteStore, Store,
};
use referrals_util::{Daemon, Storage, ORG};
use serde_json::Value;
use tokio::time::Instant;

/// The request timeout of the daemon that takes over: a request in flight is stale after
/// twice this.
const REQUEST_TIMEOUT_MS: u64 = 1000;

fn scope() -> String {
    format!("referrals:{ORG}")
}

struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    storage: Storage,
    store: SqliteStore,
}

async fn setup() -> Setup {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/pathways.db");
    let keys = referrals_util::data_keys(dir.path());
    let store = SqliteStore::open(&db, keys).await.expect("the store opens");
    Setup { sandbox, dir, storage: Storage::Sqlite(db), store }
}

impl Setup {
    /// A daemon with the helper's defaults (a request timeout of 30 s).
    async fn daemon(&self) -> Daemon {
        Daemon::start(self.dir.path(), &self.storage, &self.sandbox, 5000).await
    }

    /// A daemon whose request timeout is `REQUEST_TIMEOUT_MS`.
    async fn short_timeout_daemon(&self) -> Daemon {
        let timeout = REQUEST_TIMEOUT_MS.to_string();
        let env = [("PATHWAYS__SERVER__REQUEST_TIMEOUT_MS", timeout.as_str())];
        Daemon::start_with_env(self.dir.path(), &self.storage, &self.sandbox, 5000, &env).await
    }

    /// Claims `key` for `body` on `case_id` as another daemon's request would; returns when
    /// the claim was durable (its `started_at` is no later than that).
    async fn claim(&self, case_id: &str, key: &str, body: &str) -> Instant {
        let case = CaseId::parse(case_id).unwrap();
        let request: ReferralRequest = serde_json::from_str(body).unwrap();
        let fingerprint = referral_fingerprint(&case, &request);
        let never_stale = std::time::Duration::MAX;
        let outcome =
            self.store.begin_idempotent(&scope(), key, &fingerprint, never_stale).await.unwrap();
        assert_eq!(outcome, IdempotencyOutcome::Started);
        Instant::now()
    }

    /// The referral the intake derives for step `order` of this key, if it was written.
    async fn referral_for(&self, case_id: &str, key: &str, order: u32) -> Option<ReferralId> {
        let case = CaseId::parse(case_id).unwrap();
        self.store.find_referral_by_key(&referral_key(&scope(), key, &case, order)).await.unwrap()
    }

    /// The outcomes of `referral.create` on this case, oldest first.
    async fn intake_outcomes(&self, case_id: &str) -> Vec<AuditOutcome> {
        let filter = AuditFilter {
            case_id: Some(CaseId::parse(case_id).unwrap()),
            limit: 1000,
            ..AuditFilter::default()
        };
        let entries = self.store.audit_entries(&filter).await.unwrap();
        entries
            .into_iter()
            .filter(|r| r.entry.action == AuditAction::ReferralCreate)
            .map(|r| r.entry.outcome)
            .collect()
    }
}

fn ids(response: &Value) -> Vec<String> {
    let listed = response["referrals"].as_array().expect("a list of referrals");
    listed.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

fn code(error: &Value) -> Option<&str> {
    error["error"]["code"].as_str()
}

/// The order of the plan's only step: a referral to the food bank.
fn food_step(plan: &Value) -> u32 {
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{plan}");
    assert_eq!(
        (steps[0]["action"].as_str(), steps[0]["partner"]["id"].as_str()),
        (Some("refer"), Some("foodbank-test")),
        "{plan}"
    );
    u32::try_from(steps[0]["order"].as_u64().unwrap()).unwrap()
}

/// Sleeps until a request claimed at `claimed` is older than twice the request timeout.
async fn until_stale(claimed: Instant) {
    let stale = Duration::from_millis(2 * REQUEST_TIMEOUT_MS);
    tokio::time::sleep_until(claimed + stale + Duration::from_millis(100)).await;
}

/// A POST made soon after the claim must still see it in flight: asserted when the answer came
/// back before the claim could have gone stale (always, unless the machine stalled).
fn assert_in_flight_while_fresh(claimed: Instant, status: u16, body: &Value) {
    if claimed.elapsed() < Duration::from_millis(2 * REQUEST_TIMEOUT_MS) {
        assert_eq!((status, code(body)), (409, Some("idempotency_in_flight")), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_still_in_flight_is_answered_409_and_nothing_is_written_twice() {
    let s = setup().await;
    let daemon = s.daemon().await;
    let (case_id, plan) = daemon.planned_case("IDEM-1", "planned_partners".into()).await;
    let order = food_step(&plan);
    s.claim(&case_id, "busy-1", "{}").await;

    let (status, error) = daemon.refer(&case_id, "busy-1", "{}").await;
    assert_eq!((status, code(&error)), (409, Some("idempotency_in_flight")), "{error}");
    let (status, error) = daemon.refer(&case_id, "busy-1", "{ }").await;
    assert_eq!((status, code(&error)), (409, Some("idempotency_in_flight")), "same request");
    // `null` is not a selection (the schema does not allow it): refused before the key is read.
    let (status, error) = daemon.refer(&case_id, "busy-1", r#"{ "steps": null }"#).await;
    assert_eq!((status, code(&error)), (400, Some("invalid_request")), "{error}");
    let (status, error) = daemon.refer(&case_id, "busy-1", r#"{"steps": [1]}"#).await;
    assert_eq!((status, code(&error)), (422, Some("idempotency_key_reused")), "{error}");
    assert_eq!(s.referral_for(&case_id, "busy-1", order).await, None, "nothing was written");
    assert_eq!(s.store.outbox_depth().await.unwrap(), 0, "nothing queued for the partner");

    // The first request fails before writing anything and releases the key: the retry does
    // the work, once; a repeat after that gets the same answer.
    s.store.abandon_idempotent(&scope(), "busy-1").await.unwrap();
    let (status, first) = daemon.refer(&case_id, "busy-1", "{}").await;
    assert_eq!(status, 202, "{first}");
    let written = s.referral_for(&case_id, "busy-1", order).await.expect("written");
    assert_eq!(ids(&first), [written.as_str()]);
    let (status, again) = daemon.refer(&case_id, "busy-1", "{}").await;
    assert_eq!((status, &again), (202, &first), "replayed");
    assert_eq!(
        s.intake_outcomes(&case_id).await,
        [
            AuditOutcome::InFlight,
            AuditOutcome::InFlight,
            AuditOutcome::KeyReused,
            AuditOutcome::Ok,
            AuditOutcome::Replayed
        ]
    );

    let settled = daemon.settled(&ids(&first), Duration::from_secs(30)).await;
    assert_eq!(settled[0]["dispatch"]["state"], "delivered", "{settled:#?}");
    let stats = s.sandbox.foodbank_stats();
    assert_eq!((stats.distinct_keys, stats.vouchers_created), (1, 1), "{stats:?}");
    s.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_left_in_flight_by_a_dead_daemon_is_taken_over_after_twice_the_timeout() {
    let s = setup().await;
    // Planning under the helper's 30 s timeout; the daemon that takes over has a short one.
    let daemon = s.daemon().await;
    let (case_id, plan) = daemon.planned_case("IDEM-2", "planned_partners".into()).await;
    let order = food_step(&plan);
    drop(daemon);
    let daemon = s.short_timeout_daemon().await;
    // A daemon claimed the key, then died before writing anything.
    let claimed = s.claim(&case_id, "dead-1", "{}").await;

    let (status, early) = daemon.refer(&case_id, "dead-1", "{}").await;
    assert_in_flight_while_fresh(claimed, status, &early);
    until_stale(claimed).await;
    // Several retries at once: exactly one takes the key over and does the work; the others
    // are told it is in flight, or get its answer if it has finished.
    let retries = (0..4).map(|_| daemon.refer(&case_id, "dead-1", "{}"));
    let answers = futures::future::join_all(retries).await;
    let done: Vec<&serde_json::Value> =
        answers.iter().filter(|(status, _)| *status == 202).map(|(_, body)| body).collect();
    assert!(!done.is_empty(), "taken over once stale: {answers:?}");
    assert!(answers.iter().all(|(status, _)| [202, 409].contains(status)), "{answers:?}");
    let first = done[0].clone();
    assert!(done.iter().all(|body| **body == first), "one answer: {answers:?}");
    let written = s.referral_for(&case_id, "dead-1", order).await.expect("written");
    assert_eq!(ids(&first), [written.as_str()]);
    let (status, again) = daemon.refer(&case_id, "dead-1", "{ }").await;
    assert_eq!((status, &again), (202, &first), "the takeover's answer is replayed");
    let outcomes = s.intake_outcomes(&case_id).await;
    assert_eq!(
        outcomes.iter().filter(|o| **o == AuditOutcome::Ok).count(),
        1,
        "one did the work: {outcomes:?}"
    );
    assert_eq!(outcomes.last(), Some(&AuditOutcome::Replayed), "{outcomes:?}");

    let settled = daemon.settled(&ids(&first), Duration::from_secs(30)).await;
    assert_eq!(settled[0]["dispatch"]["state"], "delivered", "{settled:#?}");
    let stats = s.sandbox.foodbank_stats();
    assert_eq!((stats.distinct_keys, stats.vouchers_created), (1, 1), "{stats:?}");
    let sent = referral_key(&scope(), "dead-1", &CaseId::parse(&case_id).unwrap(), order);
    assert_eq!(stats.posts_per_key.get(&sent), Some(&1), "sent once, with the derived key");
    s.sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_answers_with_the_referrals_the_dead_request_had_written() {
    let s = setup().await;
    let daemon = s.daemon().await;
    let (case_id, _) = daemon.planned_case("IDEM-3", "planned_partners".into()).await;
    drop(daemon);
    let daemon = s.short_timeout_daemon().await;

    // A daemon claimed the key and wrote the referrals (with the keys the intake derives), then
    // died before recording its answer.
    let claimed = s.claim(&case_id, "dead-2", "{}").await;
    let case = CaseId::parse(&case_id).unwrap();
    let stored = s.store.get_case(&case).await.unwrap().expect("the case");
    let plan = s.store.latest_plan(&case).await.unwrap().expect("its plan").plan;
    let referrals: Vec<NewReferral> = plan
        .steps
        .iter()
        .filter(|step| step.is_refer())
        .map(|step| {
            NewReferral::from(Referral::for_partner(
                &stored.case,
                &step.partner_id().unwrap().parse().unwrap(),
                step.service().cloned().unwrap(),
                &[step.need],
                step.shares(),
                false,
                referral_key(&scope(), "dead-2", &case, step.order).parse().unwrap(),
            ))
        })
        .collect();
    assert_eq!(referrals.len(), 1, "{plan:?}");
    let written = s.store.create_referrals(&case, referrals, chrono::Utc::now()).await.unwrap();

    let (status, early) = daemon.refer(&case_id, "dead-2", "{}").await;
    assert_in_flight_while_fresh(claimed, status, &early);
    until_stale(claimed).await;
    let (status, first) = daemon.refer(&case_id, "dead-2", "{}").await;
    assert_eq!(status, 202, "taken over once stale: {first}");
    assert_eq!(ids(&first), [written[0].as_str()], "the referral already written, not a new one");
    let (status, again) = daemon.refer(&case_id, "dead-2", "{}").await;
    assert_eq!((status, &again), (202, &first), "the takeover's answer is replayed");

    let settled = daemon.settled(&ids(&first), Duration::from_secs(30)).await;
    assert_eq!(settled[0]["dispatch"]["state"], "delivered", "{settled:#?}");
    let stats = s.sandbox.foodbank_stats();
    assert_eq!((stats.distinct_keys, stats.vouchers_created), (1, 1), "{stats:?}");
    s.sandbox.shutdown().await;
}
