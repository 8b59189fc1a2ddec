//! Data safety: sealing at rest, key rotation, databases from before sealing, one live
//! referral per plan step, erasure, legal holds, retention, scoped reports, and (SQLite) the
//! database files' permissions.
//!
//! Most checks read the database behind the store's back, as someone holding a backup
//! would, and each has a positive control (something that must be found) so that a check
//! that reads nothing cannot pass.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pathways_core::{NeedCode, Referral, ServiceRef, StatusReason, TaskState};
use pathways_store::{
    AuditAction, AuditFilter, CaseId, DataKeys, DispatchOutcome, Erasure, ErasureReason, LegalHold,
    OutboxState, ReferralId, StatusChange, StatusSource, Store, StoreError,
};

use crate::data::{audit, case, plan, referral, step_referral, t, PERSONAL};
use crate::fixtures::Fixture;

const LEASE: Duration = Duration::from_secs(30);
const ORG: &str = "citizens-advice-kc";
/// A partner's note that names the client.
const NOTE: &str = "Daniel Okafor has not eaten since Monday";
/// A dispatch error that quotes the client's phone number (a careless connector).
const DISPATCH_ERROR: &str = "partner answered 422: phone 07700 900123 rejected";
/// A legal hold's reason, in an admin's words.
const HOLD_REASON: &str = "safeguarding enquiry about Daniel Okafor";

fn note(
    state: TaskState,
    reason: Option<StatusReason>,
    note: Option<&str>,
    at: i64,
) -> StatusChange {
    StatusChange {
        state,
        reason,
        note: note.map(str::to_string),
        source: StatusSource::PartnerWebhook,
        at: t(at),
    }
}

fn hold(at: i64) -> LegalHold {
    LegalHold { reason: HOLD_REASON.into(), set_by: "dpo-1".into(), set_at: t(at) }
}

/// Asserts that no personal value is in `text`, naming where it was found.
fn assert_no_personal_data(text: &str, place: &str) {
    for personal in PERSONAL.iter().chain([&NOTE, &DISPATCH_ERROR, &HOLD_REASON]) {
        assert!(!text.contains(personal), "`{personal}` is readable in {place}: {text}");
    }
}

/// Reads every row of every table (and, on SQLite, the file and its WAL byte for byte) and
/// asserts that no personal value is readable, and that the control `visible` is.
async fn assert_database_holds_no_personal_data(fx: &Fixture, visible: &str) {
    let rows = fx.raw_rows().await;
    assert!(
        rows.iter().any(|(_, row)| row.contains(visible)),
        "control: `{visible}` must be readable in the raw rows"
    );
    for (table, row) in &rows {
        assert_no_personal_data(row, &format!("table {table}"));
    }
    if let Some(files) = fx.raw_files() {
        let contains = |bytes: &[u8], needle: &str| {
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        };
        assert!(
            files.iter().any(|(_, bytes)| contains(bytes, visible)),
            "control: `{visible}` must be in the database files"
        );
        for (file, bytes) in &files {
            for personal in PERSONAL.iter().chain([&NOTE, &DISPATCH_ERROR, &HOLD_REASON]) {
                assert!(!contains(bytes, personal), "`{personal}` is in {}", file.display());
            }
        }
    }
}

/// Quotes a value for an SQL string literal.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// One case with a plan and a hold, one referral delivered with a partner's note, one
/// retried with a dispatch error: a value in every sealed column.
struct Written {
    case_id: CaseId,
    delivered: ReferralId,
    retried: ReferralId,
    referrals: Vec<Referral>,
}

async fn write_everything(store: &dyn Store) -> Written {
    let case_id = store.insert_case(ORG, &case()).await.unwrap();
    store
        .insert_plan(&case_id, &plan("lead-a", "housing-a"), &serde_json::Value::Null)
        .await
        .unwrap();
    let new = vec![
        referral("housing-a", &[NeedCode::HousingHomelessness], "k-delivered"),
        referral("foodbank-b", &[NeedCode::Food], "k-retried"),
    ];
    let referrals = new.iter().map(|n| n.referral.clone()).collect();
    let ids = store.create_referrals(&case_id, new, t(0)).await.unwrap();
    for item in store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap() {
        let outcome = if item.referral_id == ids[0] {
            DispatchOutcome::Delivered { partner_reference: "HRA-1".into() }
        } else {
            DispatchOutcome::Retry { not_before: t(100), last_error: DISPATCH_ERROR.into() }
        };
        assert!(store.finish_outbox(item.id, "w", outcome, t(2)).await.unwrap());
    }
    let accepted = note(TaskState::Accepted, None, Some(NOTE), 5);
    assert!(store.record_referral_status(&ids[0], &accepted).await.unwrap());
    store.set_legal_hold(&case_id, Some(hold(6))).await.unwrap();
    Written { case_id, delivered: ids[0].clone(), retried: ids[1].clone(), referrals }
}

/// Asserts that `store` reads back everything [`write_everything`] wrote.
async fn assert_reads_everything(store: &dyn Store, w: &Written) {
    let stored = store.get_case(&w.case_id).await.unwrap().expect("the case");
    assert_eq!(stored.case, case());
    assert_eq!(stored.legal_hold, Some(hold(6)));
    let plan_back = store.latest_plan(&w.case_id).await.unwrap().expect("the plan");
    assert_eq!(plan_back.plan, plan("lead-a", "housing-a"));
    let delivered = store.get_referral(&w.delivered).await.unwrap().expect("delivered");
    assert_eq!(delivered.referral.as_ref(), Some(&w.referrals[0]));
    assert_eq!(delivered.history.last().and_then(|h| h.note.as_deref()), Some(NOTE));
    let retried = store.get_referral(&w.retried).await.unwrap().expect("retried");
    assert_eq!(retried.referral.as_ref(), Some(&w.referrals[1]));
    assert_eq!(retried.dispatch.last_error.as_deref(), Some(DISPATCH_ERROR));
}

pub async fn the_raw_database_holds_no_personal_data(fx: &Fixture) {
    let written = write_everything(&*fx.store).await;
    assert_database_holds_no_personal_data(fx, ORG).await;
    let sealed = fx.raw_text("SELECT case_json FROM cases").await;
    assert!(sealed[0].as_deref().is_some_and(|v| v.starts_with("pws1:")), "{sealed:?}");
    assert_reads_everything(&*fx.store, &written).await;
    // And a second daemon, with the same keys, reads the same.
    assert_reads_everything(&*fx.reopen().await, &written).await;
}

/// Replaces one character of a sealed value's body, keeping it valid base64.
fn altered(sealed: &str) -> String {
    let mut chars: Vec<char> = sealed.chars().collect();
    let at = chars.len() - 6;
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn assert_sealed(result: Result<impl std::fmt::Debug, StoreError>, what: &str, id: &str) {
    let err = match result {
        Err(err) => err,
        Ok(value) => panic!("expected a sealed {what} `{id}` not to open, got {value:?}"),
    };
    match &err {
        StoreError::Sealed { what: w, id: i, .. } => {
            assert_eq!((*w, i.as_str()), (what, id), "{err}")
        }
        other => panic!("expected a sealed {what} `{id}` not to open, got {other}"),
    }
    assert_no_personal_data(&err.to_string(), "the error");
}

pub async fn a_sealed_value_moved_or_altered_does_not_open(fx: &Fixture) {
    let a = fx.store.insert_case(ORG, &case()).await.unwrap();
    let b = fx.store.insert_case(ORG, &case()).await.unwrap();
    fx.store.insert_plan(&a, &plan("lead-a", "housing-a"), &serde_json::Value::Null).await.unwrap();
    fx.store.set_legal_hold(&a, Some(hold(1))).await.unwrap();
    let new = vec![
        referral("p1", &[NeedCode::Food], "k1"),
        referral("p2", &[NeedCode::Food], "k2"),
        referral("p3", &[NeedCode::Food], "k3"),
    ];
    let r = fx.store.create_referrals(&a, new, t(0)).await.unwrap();
    let rejected = note(TaskState::Rejected, Some(StatusReason::NotEligible), Some(NOTE), 5);
    fx.store.record_referral_status(&r[0], &rejected).await.unwrap();

    // Copied into another row: it is A's, bound to A's place.
    let copy = |table: &str, column: &str, key: &str, from: &str, to: &str| {
        format!(
            "UPDATE {table} SET {column} = (SELECT {column} FROM {table} WHERE {key} = '{from}' \
             AND {column} IS NOT NULL) WHERE {key} = '{to}'"
        )
    };
    let (a_id, b_id) = (a.as_str(), b.as_str());
    assert_eq!(fx.raw_execute(&copy("cases", "case_json", "id", a_id, b_id)).await, Ok(1));
    assert_sealed(fx.store.get_case(&b).await, "case", b_id);
    fx.raw_execute(&copy("referrals", "payload", "id", r[0].as_str(), r[1].as_str()))
        .await
        .unwrap();
    assert_sealed(fx.store.get_referral(&r[1]).await, "referral", r[1].as_str());
    assert_sealed(fx.store.referrals_of_case(&a).await, "referral", r[1].as_str());
    fx.raw_execute(&copy("referral_history", "note", "referral_id", r[0].as_str(), r[2].as_str()))
        .await
        .unwrap();
    assert_sealed(fx.store.get_referral(&r[2]).await, "referral history", r[2].as_str());
    assert!(fx.store.get_referral(&r[0]).await.unwrap().is_some(), "the original still opens");

    // A hold's reason moved to a third case (whose own document is intact).
    let c = fx.store.insert_case(ORG, &case()).await.unwrap();
    let c_id = c.as_str();
    fx.raw_execute(&copy("cases", "legal_hold_reason", "id", a_id, c_id)).await.unwrap();
    fx.raw_execute(&format!(
        "UPDATE cases SET legal_hold_by = 'dpo-1', legal_hold_at = \
         (SELECT legal_hold_at FROM cases WHERE id = '{a_id}') WHERE id = '{c_id}'"
    ))
    .await
    .unwrap();
    assert_sealed(fx.store.get_case(&c).await, "legal hold", c_id);

    // Altered in place: one character of the ciphertext.
    let case_sealed =
        fx.raw_text(&format!("SELECT case_json FROM cases WHERE id = '{a_id}'")).await;
    let case_sealed = case_sealed[0].clone().expect("a sealed case");
    let plan_sealed = fx.raw_text("SELECT plan_json FROM plans").await;
    let plan_sealed = plan_sealed[0].clone().expect("a sealed plan");
    let set_case =
        |value: &str| format!("UPDATE cases SET case_json = {} WHERE id = '{a_id}'", quoted(value));
    let set_plan = |value: &str| format!("UPDATE plans SET plan_json = {}", quoted(value));
    fx.raw_execute(&set_case(&altered(&case_sealed))).await.unwrap();
    fx.raw_execute(&set_plan(&altered(&plan_sealed))).await.unwrap();
    assert_sealed(fx.store.get_case(&a).await, "case", a_id);
    assert_sealed(fx.store.latest_plan(&a).await, "plan of case", a_id);
    assert_sealed(fx.store.plans_of_case(&a).await, "plan of case", a_id);
    // Put back as they were, they open again: the failure was the alteration, nothing else.
    fx.raw_execute(&set_case(&case_sealed)).await.unwrap();
    fx.raw_execute(&set_plan(&plan_sealed)).await.unwrap();
    assert_eq!(fx.store.get_case(&a).await.unwrap().expect("A").case, case());
    assert_eq!(
        fx.store.latest_plan(&a).await.unwrap().expect("A's plan").plan,
        plan("lead-a", "housing-a")
    );
}

pub async fn keys_rotate_end_to_end(fx: &Fixture) {
    let written = write_everything(&*fx.store).await;
    let old_id = fx.keys.current_id().to_string();
    let new_entry = DataKeys::generate_entry();
    let new_only = DataKeys::parse(&new_entry).unwrap();
    let new_id = new_only.current_id().to_string();

    // Without the old key the store does not open at all, naming the missing key, and a key
    // under the right id but with other material is refused as well.
    let err = fx.reopen_with(new_only.clone()).await.expect_err("the old key is needed");
    assert!(err.contains(&old_id) && err.contains("not configured"), "{err}");
    assert!(matches!(fx.store.verify_data_keys(&new_only).await, Err(StoreError::Sealed { .. })));
    let impostor = DataKeys::generate_entry();
    let impostor = format!("{old_id}:{}", impostor.split_once(':').expect("id:key").1);
    let err = fx.reopen_with(DataKeys::parse(&impostor).unwrap()).await.expect_err("wrong key");
    assert!(err.contains("fails authentication"), "{err}");
    // Reads through a store whose keys were swapped without a check fail, naming the key.
    fx.store.replace_data_keys(new_only.clone());
    let err = fx.store.get_case(&written.case_id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Sealed { problem, .. } if problem.contains(&old_id)),
        "{err}"
    );
    fx.store.replace_data_keys(fx.keys.clone());

    // New key first (it seals), old key kept to open: everything reads, then is re-sealed in
    // small batches.
    let both = DataKeys::parse(&format!("{new_entry}\n{}", fx.key_entry)).unwrap();
    let rotated = fx.reopen_with(both.clone()).await.unwrap();
    assert_reads_everything(&*rotated, &written).await;
    let mut passes = Vec::new();
    loop {
        let progress = rotated.reseal(2).await.unwrap();
        assert!(progress.resealed <= 2, "{progress:?}");
        passes.push(progress);
        if progress.remaining == 0 {
            break;
        }
        assert!(passes.len() < 20, "re-sealing makes no progress: {passes:?}");
    }
    // case, hold, plan, 2 payloads, 1 note, 1 dispatch error.
    let total: u64 = passes.iter().map(|p| p.resealed).sum();
    assert_eq!(total, 7, "{passes:?}");
    assert_eq!(passes[0].resealed + passes[0].remaining, 7, "{passes:?}");
    assert!(passes.len() >= 4, "batches of 2: {passes:?}");
    let again = rotated.reseal(100).await.unwrap();
    assert_eq!((again.resealed, again.remaining), (0, 0));
    for value in fx.raw_text("SELECT case_json FROM cases").await {
        assert!(value.is_some_and(|v| v.starts_with(&format!("pws1:{new_id}:"))));
    }

    // The old key can go: a store with the new key alone reads everything.
    let after = fx.reopen_with(new_only.clone()).await.unwrap();
    assert_reads_everything(&*after, &written).await;
    // The first store still has the old key only, until its configuration is reloaded.
    let err = fx.store.get_case(&written.case_id).await.unwrap_err();
    assert!(err.to_string().contains(&new_id), "{err}");
    fx.store.verify_data_keys(&new_only).await.expect("the new key alone opens everything");
    fx.store.replace_data_keys(new_only);
    assert_reads_everything(&*fx.store, &written).await;
}

pub async fn plain_values_from_before_sealing_are_sealed_on_opening(fx: &Fixture) {
    let written = write_everything(&*fx.store).await;
    let json = serde_json::to_string(&case()).unwrap();
    let id = written.case_id.as_str();
    let plain = [
        format!("UPDATE cases SET case_json = {} WHERE id = '{id}'", quoted(&json)),
        format!(
            "UPDATE referral_history SET note = {} WHERE referral_id = '{}' AND note IS NOT NULL",
            quoted(NOTE),
            written.delivered
        ),
        format!(
            "UPDATE outbox SET last_error = {} WHERE referral_id = '{}'",
            quoted(DISPATCH_ERROR),
            written.retried
        ),
    ];
    for sql in &plain {
        assert_eq!(fx.raw_execute(sql).await, Ok(1), "{sql}");
    }
    // A plain value is never taken for a sealed one.
    let err = fx.store.get_case(&written.case_id).await.unwrap_err();
    assert!(matches!(&err, StoreError::Sealed { problem, .. } if problem.contains("not sealed")));
    assert!(fx.raw_rows().await.iter().any(|(_, row)| row.contains("Daniel Okafor")), "control");

    let reopened = fx.reopen().await;
    assert_reads_everything(&*reopened, &written).await;
    let raw = fx.raw_text(&format!("SELECT case_json FROM cases WHERE id = '{id}'")).await;
    assert!(raw[0].as_deref().is_some_and(|v| v.starts_with("pws1:")), "{raw:?}");
    assert_database_holds_no_personal_data(fx, ORG).await;
    assert_reads_everything(&*fx.store, &written).await;
}

/// Builds the same version-1 rows for both backends' schemas.
struct V1 {
    sqlite: String,
    postgres: String,
}

enum Cell {
    Text(String),
    Json(String),
    At(i64),
    Int(i64),
    Null,
}

impl V1 {
    fn insert(&mut self, table: &str, columns: &str, cells: Vec<Cell>) {
        let render = |postgres: bool| -> Vec<String> {
            cells
                .iter()
                .map(|cell| match cell {
                    Cell::Text(text) => quoted(text),
                    Cell::Json(json) if postgres => format!("{}::JSONB", quoted(json)),
                    Cell::Json(json) => quoted(json),
                    Cell::At(secs) if postgres => {
                        format!("'{}'::TIMESTAMPTZ", t(*secs).to_rfc3339())
                    }
                    Cell::At(secs) => t(*secs).timestamp_micros().to_string(),
                    Cell::Int(n) => n.to_string(),
                    Cell::Null => "NULL".into(),
                })
                .collect()
        };
        let statement = |values: Vec<String>| {
            format!("INSERT INTO {table} ({columns}) VALUES ({});\n", values.join(", "))
        };
        self.sqlite += &statement(render(false));
        self.postgres += &statement(render(true));
    }
}

pub async fn a_version_1_database_is_migrated_and_sealed(fx: &Fixture) {
    use Cell::{At, Int, Json, Null, Text};
    let case_id = CaseId::random();
    let mut v1 = V1 { sqlite: String::new(), postgres: String::new() };
    v1.insert(
        "cases",
        "id, organisation, case_json, created_at",
        vec![
            Text(case_id.to_string()),
            Text(ORG.into()),
            Json(serde_json::to_string(&case()).unwrap()),
            At(0),
        ],
    );
    v1.insert(
        "plans",
        "case_id, plan_json, created_at",
        vec![
            Text(case_id.to_string()),
            Json(serde_json::to_string(&plan("l", "h")).unwrap()),
            At(1),
        ],
    );
    // Version 1 let one step (housing-a's service, for the client's housing and food, the
    // housing need first as the case lists it) be referred twice, both still live; and
    // once more to another service, rejected.
    let service = |id: &str| ServiceRef { id: id.into(), name: "housing".into() };
    let payload = |key: &str, service_id: &str| {
        let mut new = referral("housing-a", &[NeedCode::Food, NeedCode::HousingHomelessness], key);
        new.referral.service = service(service_id);
        new.referral
    };
    let referrals = [
        ("k-first", "svc-h", "requested", 10),
        ("k-again", "svc-h", "accepted", 20),
        ("k-other", "svc-other", "rejected", 30),
    ]
    .map(|(key, service_id, state, at)| {
        (ReferralId::random(), payload(key, service_id), state, at)
    });
    for (i, (id, payload, state, at)) in referrals.iter().enumerate() {
        v1.insert(
            "referrals",
            "id, case_id, partner_id, idempotency_key, payload, state, state_changed_at, \
             partner_reference, created_at, sent_at",
            vec![
                Text(id.to_string()),
                Text(case_id.to_string()),
                Text("housing-a".into()),
                Text(payload.idempotency_key.to_string()),
                Json(serde_json::to_string(payload).unwrap()),
                Text(state.to_string()),
                At(*at + 5),
                Text(format!("HRA-{i}")),
                At(*at),
                At(*at + 1),
            ],
        );
        for need in ["housing_homelessness", "food"] {
            v1.insert(
                "referral_needs",
                "referral_id, need",
                vec![Text(id.to_string()), Text(need.into())],
            );
        }
        v1.insert(
            "referral_history",
            "referral_id, state, reason, note, source, at, recorded_at",
            vec![
                Text(id.to_string()),
                Text(state.to_string()),
                Null,
                Text(NOTE.into()),
                Text("partner_webhook".into()),
                At(*at + 5),
                At(*at + 5),
            ],
        );
        v1.insert(
            "outbox",
            "referral_id, state, attempts, not_before, last_error, updated_at",
            vec![
                Text(id.to_string()),
                Text("delivered".into()),
                Int(2),
                At(*at),
                Text(DISPATCH_ERROR.into()),
                At(*at + 1),
            ],
        );
    }
    let old = fx.version_1(&v1.sqlite, &v1.postgres).await;

    // Everything reads back, and nothing is readable in the database any more.
    assert_eq!(old.store.get_case(&case_id).await.unwrap().expect("the case").case, case());
    // A plan kept before plans had versions reads as none (the next POST makes one), not
    // as an error.
    assert!(old.store.latest_plan(&case_id).await.unwrap().is_none());
    for (id, payload, state, _) in &referrals {
        let stored = old.store.get_referral(id).await.unwrap().expect("the referral");
        assert_eq!(stored.referral.as_ref(), Some(payload));
        assert_eq!(serde_json::to_value(stored.state).unwrap(), *state);
        assert_eq!(stored.history[0].note.as_deref(), Some(NOTE));
        assert_eq!(stored.dispatch.last_error.as_deref(), Some(DISPATCH_ERROR));
    }
    let raw = old.raw_text("SELECT case_json FROM cases").await;
    assert!(raw[0].as_deref().is_some_and(|v| v.starts_with("pws1:")), "{raw:?}");
    assert_database_holds_no_personal_data(&old, ORG).await;
    assert_eq!(old.raw_count("schema_migrations").await, crate::fixtures::SCHEMA_VERSION);

    // The step is the one a new referral would name: its first need, housing. While the two
    // version-1 referrals are live, a new one is refused, naming the older; once the older
    // is final, naming the legacy duplicate still live; once both are, it is accepted.
    let again = || {
        vec![step_referral(
            "housing-a",
            &[NeedCode::Food, NeedCode::HousingHomelessness],
            "svc-h",
            "k-new",
        )]
    };
    let refused = |existing: &ReferralId| {
        let existing = existing.clone();
        move |err: StoreError| match err {
            StoreError::StepHasLiveReferral { existing: e, need, partner_id } => {
                assert_eq!(
                    (e, need.as_str(), partner_id.as_str()),
                    (existing, "housing_homelessness", "housing-a")
                );
            }
            other => panic!("expected StepHasLiveReferral, got {other}"),
        }
    };
    let err = old.store.create_referrals(&case_id, again(), t(100)).await.unwrap_err();
    refused(&referrals[0].0)(err);
    let done = note(TaskState::Rejected, Some(StatusReason::NoCapacity), None, 200);
    assert!(old.store.record_referral_status(&referrals[0].0, &done).await.unwrap());
    let err = old.store.create_referrals(&case_id, again(), t(201)).await.unwrap_err();
    refused(&referrals[1].0)(err);
    assert!(old.store.record_referral_status(&referrals[1].0, &done).await.unwrap());
    old.store.create_referrals(&case_id, again(), t(202)).await.expect("the step is free");
    old.teardown().await;
}

fn assert_step_taken(err: StoreError, existing: &ReferralId, need: &str, partner: &str) {
    match err {
        StoreError::StepHasLiveReferral { existing: e, need: n, partner_id } => {
            assert_eq!((&e, n.as_str(), partner_id.as_str()), (existing, need, partner));
        }
        other => panic!("expected StepHasLiveReferral naming {existing}, got {other}"),
    }
}

pub async fn a_plan_step_has_one_live_referral(fx: &Fixture) {
    use NeedCode::{Food, HousingHomelessness as Housing};
    let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
    let step = |key: &str| vec![step_referral("housing-a", &[Housing], "svc-1", key)];
    let first = fx.store.create_referrals(&case_id, step("k1"), t(0)).await.unwrap().remove(0);
    let err = fx.store.create_referrals(&case_id, step("k2"), t(1)).await.unwrap_err();
    assert_step_taken(err, &first, "housing_homelessness", "housing-a");
    // All or nothing: a batch with one taken step writes none of its referrals.
    let mut batch = vec![step_referral("foodbank-b", &[Food], "svc-9", "k3")];
    batch.extend(step("k4"));
    let err = fx.store.create_referrals(&case_id, batch, t(1)).await.unwrap_err();
    assert_step_taken(err, &first, "housing_homelessness", "housing-a");
    assert_eq!(fx.raw_count("referrals").await, 1);
    assert_eq!(fx.raw_count("outbox").await, 1);

    // Another service, another need, another partner, another case: other steps.
    let others = vec![
        step_referral("housing-a", &[Housing], "svc-2", "k5"),
        step_referral("housing-a", &[Food], "svc-1", "k6"),
        step_referral("housing-b", &[Housing], "svc-1", "k7"),
    ];
    fx.store.create_referrals(&case_id, others, t(2)).await.expect("other steps are free");
    let other_case = fx.store.insert_case(ORG, &case()).await.unwrap();
    fx.store.create_referrals(&other_case, step("k8"), t(2)).await.expect("another case");

    // Live through every state short of final; free once it is final.
    for (state, at) in
        [(TaskState::Accepted, 10), (TaskState::OnHold, 11), (TaskState::InProgress, 12)]
    {
        let reason = (state == TaskState::OnHold).then_some(StatusReason::Other);
        assert!(fx
            .store
            .record_referral_status(&first, &note(state, reason, None, at))
            .await
            .unwrap());
        let err = fx.store.create_referrals(&case_id, step("k9"), t(at)).await.unwrap_err();
        assert_step_taken(err, &first, "housing_homelessness", "housing-a");
    }
    let rejected = note(TaskState::Rejected, Some(StatusReason::NoCapacity), None, 20);
    assert!(fx.store.record_referral_status(&first, &rejected).await.unwrap());
    let second = fx.store.create_referrals(&case_id, step("k10"), t(21)).await.unwrap().remove(0);
    let err = fx.store.create_referrals(&case_id, step("k11"), t(22)).await.unwrap_err();
    assert_step_taken(err, &second, "housing_homelessness", "housing-a");
    // A repeat of the same key is a duplicate, whatever its step.
    let err = fx.store.create_referrals(&case_id, step("k10"), t(22)).await.unwrap_err();
    assert!(matches!(&err, StoreError::DuplicateReferral { key } if key == "k10"), "{err}");
}

pub async fn two_daemons_racing_for_one_step_make_one_referral(fx: &Fixture) {
    const RACERS: usize = 20;
    let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
    let second = fx.reopen().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = if i % 2 == 0 { Arc::clone(&fx.store) } else { Arc::clone(&second) };
            let (barrier, case_id) = (Arc::clone(&barrier), case_id.clone());
            tokio::spawn(async move {
                let new = step_referral(
                    "housing-a",
                    &[NeedCode::HousingHomelessness],
                    "svc-1",
                    &format!("race-{i}"),
                );
                barrier.wait().await;
                store.create_referrals(&case_id, vec![new], t(0)).await
            })
        })
        .collect();
    let (mut created, mut refused) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(ids) => created.extend(ids),
            Err(StoreError::StepHasLiveReferral { existing, .. }) => refused.push(existing),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one referral for the step; refused: {refused:?}");
    assert_eq!(refused.len(), RACERS - 1);
    assert!(refused.iter().all(|id| *id == created[0]), "each refusal names the winner");
    assert_eq!(fx.raw_count("referrals").await, 1);
    assert_eq!(fx.raw_count("outbox").await, 1);
}

pub async fn batches_taking_steps_in_opposite_orders_make_one_referral_each(fx: &Fixture) {
    let second = fx.reopen().await;
    for round in 0..5 {
        let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
        let x = |key: String| {
            step_referral("housing-a", &[NeedCode::HousingHomelessness], "svc-x", &key)
        };
        let y = |key: String| step_referral("foodbank-b", &[NeedCode::Food], "svc-y", &key);
        let batches = [
            (Arc::clone(&fx.store), vec![x(format!("a-x-{round}")), y(format!("a-y-{round}"))]),
            (Arc::clone(&second), vec![y(format!("b-y-{round}")), x(format!("b-x-{round}"))]),
        ];
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = batches
            .into_iter()
            .map(|(store, batch)| {
                let (barrier, case_id) = (Arc::clone(&barrier), case_id.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create_referrals(&case_id, batch, t(0)).await
                })
            })
            .collect();
        let mut created = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(ids) => created += ids.len(),
                Err(StoreError::StepHasLiveReferral { .. }) => {}
                Err(other) => panic!("round {round}: unexpected {other}"),
            }
        }
        assert_eq!(created, 2, "round {round}: one batch wins both steps");
    }
}

pub async fn erasure_removes_personal_data_and_keeps_the_statistics(fx: &Fixture) {
    let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
    let kept = fx.store.insert_case(ORG, &case()).await.unwrap();
    fx.store
        .insert_plan(&case_id, &plan("lead-a", "housing-a"), &serde_json::Value::Null)
        .await
        .unwrap();
    fx.store
        .insert_plan(&kept, &plan("lead-a", "housing-a"), &serde_json::Value::Null)
        .await
        .unwrap();
    let new = vec![
        referral("housing-a", &[NeedCode::HousingHomelessness], "k-completed"),
        referral("foodbank-b", &[NeedCode::Food], "k-queued"),
        referral("housing-b", &[NeedCode::HousingHomelessness], "k-accepted"),
    ];
    let ids = fx.store.create_referrals(&case_id, new, t(0)).await.unwrap();
    let (completed, queued, accepted) = (&ids[0], &ids[1], &ids[2]);
    for item in fx.store.claim_outbox("w", 10, LEASE, t(10)).await.unwrap() {
        let outcome = if item.referral_id == *queued {
            DispatchOutcome::Retry { not_before: t(1000), last_error: DISPATCH_ERROR.into() }
        } else {
            DispatchOutcome::Delivered { partner_reference: format!("P-{}", item.id) }
        };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, t(10)).await.unwrap());
    }
    for (id, state, at) in [
        (completed, TaskState::Accepted, 50),
        (completed, TaskState::Completed, 100),
        (accepted, TaskState::Accepted, 60),
    ] {
        assert!(fx
            .store
            .record_referral_status(id, &note(state, None, Some(NOTE), at))
            .await
            .unwrap());
    }
    let stats = fx.store.pathway_stats(t(0), t(5000), None).await.unwrap();
    assert_eq!(stats.iter().map(|r| r.sent).sum::<u64>(), 2, "{stats:?}");
    let sealed_before = fx
        .raw_text(&format!(
            "SELECT case_json FROM cases WHERE id = '{case_id}'
             UNION ALL SELECT plan_json FROM plans WHERE case_id = '{case_id}'
             UNION ALL SELECT payload FROM referrals WHERE case_id = '{case_id}'
             UNION ALL SELECT note FROM referral_history WHERE note IS NOT NULL
             UNION ALL SELECT last_error FROM outbox WHERE last_error IS NOT NULL"
        ))
        .await;
    assert_eq!(sealed_before.len(), 1 + 1 + 3 + 3 + 1, "{sealed_before:?}");

    let erasure =
        fx.store.erase_case(&case_id, ErasureReason::ClientRequest, t(500)).await.unwrap();
    assert_eq!(erasure, Erasure { referrals: 3, cancelled: 1, plans: 1 });

    assert!(fx.store.get_case(&case_id).await.unwrap().is_none());
    assert!(fx.store.latest_plan(&case_id).await.unwrap().is_none());
    assert!(fx.store.plans_of_case(&case_id).await.unwrap().is_empty());
    let referrals = fx.store.referrals_of_case(&case_id).await.unwrap();
    assert_eq!(referrals.len(), 3);
    for r in &referrals {
        assert!(r.referral.is_none(), "payload of {} erased", r.id);
        assert!(r.history.iter().all(|h| h.note.is_none()), "notes of {} erased", r.id);
        assert_eq!(r.dispatch.last_error, None);
    }
    let state = |id: &ReferralId| {
        referrals.iter().find(|r| r.id == *id).map(|r| (r.state, r.dispatch.state))
    };
    assert_eq!(
        state(queued),
        Some((TaskState::Cancelled, OutboxState::Failed)),
        "never sent: cancelled"
    );
    assert_eq!(state(completed), Some((TaskState::Completed, OutboxState::Delivered)));
    assert_eq!(
        state(accepted),
        Some((TaskState::Accepted, OutboxState::Delivered)),
        "the partner has it"
    );
    assert!(
        fx.store.claim_outbox("w", 10, LEASE, t(5000)).await.unwrap().is_empty(),
        "nothing to send"
    );
    assert_eq!(fx.store.outbox_depth().await.unwrap(), 0);
    assert_eq!(fx.store.pathway_stats(t(0), t(5000), None).await.unwrap(), stats, "same figures");
    assert_eq!(fx.store.pathway_stats(t(0), t(5000), Some(ORG)).await.unwrap(), stats);

    // Nothing of it is left in the database, sealed or not; the other case is untouched.
    let rows = fx.raw_rows().await;
    for sealed in sealed_before.iter().flatten() {
        assert!(
            !rows.iter().any(|(_, row)| row.contains(sealed.as_str())),
            "a sealed value survived"
        );
    }
    assert_database_holds_no_personal_data(fx, case_id.as_str()).await;
    assert_eq!(fx.store.get_case(&kept).await.unwrap().expect("kept").case, case());
    assert!(fx.store.latest_plan(&kept).await.unwrap().is_some());

    // Erased means gone for every purpose.
    for result in [
        fx.store.erase_case(&case_id, ErasureReason::ClientRequest, t(600)).await.map(drop),
        fx.store.erase_case(&CaseId::random(), ErasureReason::Other, t(600)).await.map(drop),
        fx.store.insert_plan(&case_id, &plan("l", "h"), &serde_json::Value::Null).await,
        fx.store.set_legal_hold(&case_id, Some(hold(600))).await,
        fx.store
            .create_referrals(&case_id, vec![referral("x", &[NeedCode::Food], "k-x")], t(600))
            .await
            .map(drop),
    ] {
        assert!(matches!(result, Err(StoreError::UnknownCase(_))), "{result:?}");
    }
    // A partner's later report still counts, but its note about the client is not kept.
    let late = note(TaskState::Completed, None, Some(NOTE), 700);
    assert!(fx.store.record_referral_status(accepted, &late).await.unwrap());
    let after = fx.store.get_referral(accepted).await.unwrap().unwrap();
    assert_eq!(
        (after.state, after.history.last().and_then(|h| h.note.clone())),
        (TaskState::Completed, None)
    );
    assert_database_holds_no_personal_data(fx, case_id.as_str()).await;
}

pub async fn an_erasure_racing_new_plans_and_referrals_leaves_nothing_behind(fx: &Fixture) {
    let second = fx.reopen().await;
    for round in 0..10 {
        let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(3));
        let start =
            |store: &Arc<dyn Store>| (Arc::clone(store), Arc::clone(&barrier), case_id.clone());
        let (store, go, id) = start(&fx.store);
        let erase = tokio::spawn(async move {
            go.wait().await;
            store.erase_case(&id, ErasureReason::ClientRequest, t(100)).await
        });
        let (store, go, id) = start(&second);
        let add_plan = tokio::spawn(async move {
            go.wait().await;
            store.insert_plan(&id, &plan("lead-a", "housing-a"), &serde_json::Value::Null).await
        });
        let (store, go, id) = start(&second);
        let refer = tokio::spawn(async move {
            go.wait().await;
            let new = vec![referral("housing-a", &[NeedCode::Food], &format!("k-{round}"))];
            store.create_referrals(&id, new, t(0)).await
        });
        erase.await.unwrap().expect("the erasure");
        let plan_added = add_plan.await.unwrap();
        assert!(matches!(plan_added, Ok(()) | Err(StoreError::UnknownCase(_))), "{plan_added:?}");
        let referred = refer.await.unwrap();
        assert!(matches!(referred, Ok(_) | Err(StoreError::UnknownCase(_))), "{referred:?}");
        // Whatever came first, nothing personal of the case outlives its erasure.
        assert!(fx.store.plans_of_case(&case_id).await.unwrap().is_empty(), "round {round}");
        for r in fx.store.referrals_of_case(&case_id).await.unwrap() {
            assert!(r.referral.is_none(), "round {round}: a payload outlived the erasure");
            assert_eq!(r.state, TaskState::Cancelled, "round {round}: never sent, so cancelled");
        }
    }
    assert_database_holds_no_personal_data(fx, ORG).await;
}

pub async fn a_legal_hold_refuses_erasure_until_lifted(fx: &Fixture) {
    let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
    fx.store
        .insert_plan(&case_id, &plan("lead-a", "housing-a"), &serde_json::Value::Null)
        .await
        .unwrap();
    let ids = fx
        .store
        .create_referrals(&case_id, vec![referral("a", &[NeedCode::Food], "k")], t(0))
        .await
        .unwrap();
    fx.store.set_legal_hold(&case_id, Some(hold(5))).await.unwrap();
    let stored = fx.store.get_case(&case_id).await.unwrap().unwrap();
    assert_eq!(stored.legal_hold, Some(hold(5)));
    assert_no_personal_data(&format!("{stored:?}"), "Debug of a held case");

    let err =
        fx.store.erase_case(&case_id, ErasureReason::RetentionExpired, t(10)).await.unwrap_err();
    match &err {
        StoreError::LegalHold { case_id: c, since, reason } => {
            assert_eq!((c, *since, reason.as_str()), (&case_id, t(5), HOLD_REASON));
        }
        other => panic!("expected LegalHold, got {other}"),
    }
    assert_no_personal_data(&err.to_string(), "the error's message");
    // Nothing changed.
    assert_eq!(fx.store.get_case(&case_id).await.unwrap().unwrap(), stored);
    assert!(fx.store.latest_plan(&case_id).await.unwrap().is_some());
    let referral = fx.store.get_referral(&ids[0]).await.unwrap().unwrap();
    assert!(referral.referral.is_some());
    assert_eq!((referral.state, referral.dispatch.state), (TaskState::Draft, OutboxState::Pending));
    assert!(!fx
        .store
        .cases_due_for_erasure(Utc::now() + chrono::Duration::days(1), 10)
        .await
        .unwrap()
        .contains(&case_id));

    fx.store.set_legal_hold(&case_id, None).await.unwrap();
    assert_eq!(fx.store.get_case(&case_id).await.unwrap().unwrap().legal_hold, None);
    let erasure =
        fx.store.erase_case(&case_id, ErasureReason::RetentionExpired, t(20)).await.unwrap();
    assert_eq!(erasure, Erasure { referrals: 1, cancelled: 1, plans: 1 });
    let err = fx.store.set_legal_hold(&CaseId::random(), Some(hold(1))).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownCase(_)), "{err}");
}

pub async fn an_erasure_that_fails_halfway_leaves_the_case_whole(fx: &Fixture) {
    let case_id = fx.store.insert_case(ORG, &case()).await.unwrap();
    fx.store
        .insert_plan(&case_id, &plan("lead-a", "housing-a"), &serde_json::Value::Null)
        .await
        .unwrap();
    let new =
        vec![referral("a", &[NeedCode::Food], "k-a"), referral("b", &[NeedCode::Food], "k-b")];
    let ids = fx.store.create_referrals(&case_id, new, t(0)).await.unwrap();
    let items = fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap();
    for item in items {
        let outcome = if item.referral_id == ids[0] {
            DispatchOutcome::Delivered { partner_reference: "P-1".into() }
        } else {
            DispatchOutcome::Retry { not_before: t(100), last_error: DISPATCH_ERROR.into() }
        };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, t(2)).await.unwrap());
    }
    assert!(fx
        .store
        .record_referral_status(&ids[0], &note(TaskState::Accepted, None, Some(NOTE), 5))
        .await
        .unwrap());
    let before = fx.store.referrals_of_case(&case_id).await.unwrap();

    // The erasure's last statement (marking the case erased) fails, after every other.
    if fx.is_sqlite() {
        fx.raw_execute(
            "CREATE TRIGGER refuse_erasure BEFORE UPDATE OF erased_at ON cases
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        )
        .await
        .unwrap();
    } else {
        fx.raw_execute(
            "CREATE FUNCTION refuse_erasure() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        )
        .await
        .unwrap();
        fx.raw_execute(
            "CREATE TRIGGER refuse_erasure BEFORE UPDATE OF erased_at ON cases
             FOR EACH ROW EXECUTE FUNCTION refuse_erasure()",
        )
        .await
        .unwrap();
    }
    let err = fx.store.erase_case(&case_id, ErasureReason::ClientRequest, t(50)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Database { message, .. } if message.contains("refused by the test")),
        "{err}"
    );

    assert_eq!(fx.store.get_case(&case_id).await.unwrap().expect("still there").case, case());
    assert_eq!(fx.store.plans_of_case(&case_id).await.unwrap().len(), 1);
    assert_eq!(fx.store.referrals_of_case(&case_id).await.unwrap(), before, "referrals untouched");
    let again = fx.store.claim_outbox("w", 10, LEASE, t(100)).await.unwrap();
    assert_eq!(again.iter().map(|i| &i.referral_id).collect::<Vec<_>>(), [&ids[1]], "still queued");

    let drop_trigger = if fx.is_sqlite() {
        "DROP TRIGGER refuse_erasure"
    } else {
        "DROP TRIGGER refuse_erasure ON cases"
    };
    fx.raw_execute(drop_trigger).await.unwrap();
    let erasure =
        fx.store.erase_case(&case_id, ErasureReason::ClientRequest, t(200)).await.unwrap();
    assert_eq!(erasure, Erasure { referrals: 2, cancelled: 1, plans: 1 });
    assert!(fx.store.get_case(&case_id).await.unwrap().is_none());
}

pub async fn cases_due_for_erasure_are_idle_final_unheld_and_not_erased(fx: &Fixture) {
    let s = &fx.store;
    let hours = chrono::Duration::hours;
    let new_case = || async { s.insert_case(ORG, &case()).await.unwrap() };
    let idle = new_case().await;
    let finished = new_case().await;
    let live = new_case().await;
    let held = new_case().await;
    let erased = new_case().await;
    let late_plan = new_case().await;
    let late_report = new_case().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let young = new_case().await;

    let earlier = cutoff - hours(2);
    let refer = |case_id: &CaseId, key: &str| {
        let (store, case_id, key) = (Arc::clone(s), case_id.clone(), key.to_string());
        async move {
            let new = vec![referral("p", &[NeedCode::Food], &key)];
            store.create_referrals(&case_id, new, earlier).await.unwrap().remove(0)
        }
    };
    let reject = |at| StatusChange {
        state: TaskState::Rejected,
        reason: Some(StatusReason::NotEligible),
        note: None,
        source: StatusSource::PartnerWebhook,
        at,
    };
    let r = refer(&finished, "k-finished").await;
    assert!(s.record_referral_status(&r, &reject(cutoff - hours(1))).await.unwrap());
    refer(&live, "k-live").await;
    let r = refer(&late_report, "k-late").await;
    assert!(s.record_referral_status(&r, &reject(cutoff + hours(1))).await.unwrap());
    s.set_legal_hold(&held, Some(hold(0))).await.unwrap();
    s.erase_case(&erased, ErasureReason::EnteredInError, cutoff - hours(1)).await.unwrap();
    s.insert_plan(&late_plan, &plan("l", "h"), &serde_json::Value::Null).await.unwrap();

    assert_eq!(
        s.cases_due_for_erasure(cutoff, 100).await.unwrap(),
        [idle.clone(), finished],
        "oldest first"
    );
    assert_eq!(s.cases_due_for_erasure(cutoff, 1).await.unwrap(), [idle]);
    assert!(s.cases_due_for_erasure(cutoff - hours(1), 100).await.unwrap().is_empty());
    let everything = s.cases_due_for_erasure(Utc::now() + hours(3), 100).await.unwrap();
    for case_id in [&live, &held, &erased] {
        assert!(!everything.contains(case_id), "{case_id} is never due");
    }
    for case_id in [&late_plan, &late_report, &young] {
        assert!(everything.contains(case_id), "{case_id} is due once idle long enough");
    }
}

pub async fn pathway_stats_count_only_the_organisations_cases(fx: &Fixture) {
    let a = fx.store.insert_case("org-a", &case()).await.unwrap();
    let b = fx.store.insert_case("org-b", &case()).await.unwrap();
    for (case_id, key) in [(&a, "ka1"), (&a, "ka2"), (&b, "kb1")] {
        let new = vec![referral("housing-a", &[NeedCode::HousingHomelessness], key)];
        fx.store.create_referrals(case_id, new, t(0)).await.unwrap();
    }
    for item in fx.store.claim_outbox("w", 10, LEASE, t(1)).await.unwrap() {
        let outcome = DispatchOutcome::Delivered { partner_reference: format!("P-{}", item.id) };
        assert!(fx.store.finish_outbox(item.id, "w", outcome, t(1)).await.unwrap());
    }
    let sent = |organisation: Option<&'static str>| {
        let store = Arc::clone(&fx.store);
        async move {
            let rows = store.pathway_stats(t(0), t(100), organisation).await.unwrap();
            rows.iter().map(|r| r.sent).collect::<Vec<_>>()
        }
    };
    assert_eq!(sent(None).await, [3]);
    assert_eq!(sent(Some("org-a")).await, [2]);
    assert_eq!(sent(Some("org-b")).await, [1]);
    assert!(sent(Some("org-c")).await.is_empty());
}

pub async fn audit_entries_filter_by_time(fx: &Fixture) {
    for (org, at) in [("org-a", 0), ("org-b", 10), ("org-a", 20), ("org-a", 30)] {
        fx.store.append_audit(&audit(org, AuditAction::CaseRead, t(at))).await.unwrap();
    }
    let times = |from: Option<i64>, to: Option<i64>, organisation: Option<&str>| {
        let filter = AuditFilter {
            from: from.map(t),
            to: to.map(t),
            organisation: organisation.map(str::to_string),
            ..AuditFilter::default()
        };
        let store = Arc::clone(&fx.store);
        async move {
            let entries = store.audit_entries(&filter).await.unwrap();
            entries.iter().map(|e| (e.entry.at - t(0)).num_seconds()).collect::<Vec<_>>()
        }
    };
    assert_eq!(times(None, None, None).await, [0, 10, 20, 30]);
    assert_eq!(times(Some(10), None, None).await, [10, 20, 30], "from is inclusive");
    assert_eq!(times(None, Some(20), None).await, [0, 10], "to is exclusive");
    assert_eq!(times(Some(10), Some(30), None).await, [10, 20]);
    assert_eq!(times(Some(10), Some(30), Some("org-a")).await, [20]);
    assert!(times(Some(31), None, None).await.is_empty());
}

/// The mode bits of a file or folder.
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new-folder");
    let path = folder.join("pathways.db");
    let wal = folder.join("pathways.db-wal");
    let url = format!("sqlite://{}", path.display());
    let keys = DataKeys::ephemeral();
    let store = pathways_store::open(&url, keys.clone()).await.unwrap();
    store.insert_case(ORG, &case()).await.unwrap();
    assert!(wal.exists(), "a committed write leaves a WAL while the store is open");
    assert_eq!((mode(&path), mode(&wal), mode(&folder)), (0o600, 0o600, 0o700));
    drop(store);

    // A file left readable by others (restored from a backup, created by hand) is tightened.
    for file in [&path, &wal] {
        if file.exists() {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    assert_eq!(mode(&path), 0o644, "control");
    let store = pathways_store::open(&url, keys).await.unwrap();
    store.ping().await.unwrap();
    assert_eq!(mode(&path), 0o600);
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
}

pub async fn an_unreadable_queued_referral_is_set_aside_and_the_others_are_sent(fx: &Fixture) {
    let a = fx.store.insert_case(ORG, &case()).await.unwrap();
    let new = vec![
        referral("p1", &[NeedCode::Food], "u1"),
        referral("p2", &[NeedCode::Food], "u2"),
        referral("p3", &[NeedCode::Food], "u3"),
    ];
    let r = fx.store.create_referrals(&a, new, t(0)).await.unwrap();
    // The second one's payload altered behind the store's back (copied from the first).
    let sql = format!(
        "UPDATE referrals SET payload = (SELECT payload FROM referrals WHERE id = '{}') \
         WHERE id = '{}'",
        r[0].as_str(),
        r[1].as_str()
    );
    assert_eq!(fx.raw_execute(&sql).await, Ok(1));
    let lease = std::time::Duration::from_secs(60);
    let claimed = fx.store.claim_outbox("w1", 10, lease, t(10)).await.expect("the others go");
    let ids: Vec<_> = claimed.iter().map(|i| i.referral_id.clone()).collect();
    assert_eq!(ids, [r[0].clone(), r[2].clone()], "the unreadable one does not block them");
    // Set aside for an hour, not lost: still pending, with the reason for the operator.
    assert!(fx.store.claim_outbox("w2", 10, lease, t(20)).await.unwrap().is_empty());
    // An hour on, the others' leases have lapsed and they are claimed again; it is not.
    let later = fx.store.claim_outbox("w2", 10, lease, t(3700)).await.unwrap();
    assert!(later.iter().all(|i| i.referral_id != r[1]), "still unreadable: set aside again");
    assert_eq!(later.len(), 2);
    assert_eq!(fx.store.outbox_depth().await.unwrap(), 3, "nothing was dropped");
    let raw = fx
        .raw_text(&format!("SELECT last_error FROM outbox WHERE referral_id = '{}'", r[1].as_str()))
        .await;
    assert!(raw[0].as_deref().is_some_and(|e| e.starts_with("pws1:")), "the reason, sealed");
    // A value copied from another row is no repair: it stays bound to that row.
    let sql = format!(
        "UPDATE referrals SET payload = (SELECT payload FROM referrals WHERE id = '{}') \
         WHERE id = '{}'",
        r[2].as_str(),
        r[1].as_str()
    );
    assert_eq!(fx.raw_execute(&sql).await, Ok(1));
    let last = fx.store.claim_outbox("w3", 10, lease, t(7400)).await.unwrap();
    assert!(
        last.iter().all(|i| i.referral_id != r[1]),
        "copied from another row: still refused, never sent as the other"
    );
}

pub async fn a_backup_is_private_sealed_and_opens_with_the_keys(fx: &Fixture) {
    let written = write_everything(&*fx.store).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup.db");
    match fx.store.backup_to(&path).await {
        Err(StoreError::BackupUnsupported { backend }) => {
            assert_eq!(backend, "postgres", "only PostgreSQL leaves backups to its own tools");
            assert!(!path.exists());
            return;
        }
        other => other.expect("SQLite writes the backup"),
    }
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600, "the backup is its owner's alone");
    let bytes = std::fs::read(&path).unwrap();
    for secret in PERSONAL.iter().chain([&NOTE, &DISPATCH_ERROR, &HOLD_REASON]) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` readable"
        );
    }
    assert!(bytes.windows(5).any(|w| w == b"pws1:"), "control: the sealed values are there");
    let copy = pathways_store::open(&format!("sqlite://{}", path.display()), fx.keys.clone())
        .await
        .expect("the backup opens with the keys");
    assert_reads_everything(&*copy, &written).await;
    let err = pathways_store::open(&format!("sqlite://{}", path.display()), DataKeys::ephemeral())
        .await
        .expect_err("and not without them");
    assert!(err.to_string().contains(fx.keys.current_id()), "{err}");
    // An existing file is never overwritten.
    let err = fx.store.backup_to(&path).await.unwrap_err();
    assert!(matches!(err, StoreError::BackupFile { .. }), "{err}");
}
