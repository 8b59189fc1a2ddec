//! Personal data stays where it belongs, end to end: the real binary, the real food bank and
//! NHS plugins and their simulators, real HTTP. A partner organisation holding a pathfinder key
//! reads exactly what was sent to it; a step is referred once however many keys ask; reports
//! are scoped; erasure and export work through the API; nothing readable is left in the
//! database file.

mod referrals_util;

use std::time::Duration;

use pathways_sandbox::{NhsTaskStatus, Sandbox, SandboxConfig, VoucherStatus};
use referrals_util::{
    psql_output, Daemon, Storage, ADMIN, COORDINATOR, NHS_STAFF, ORG, OTHER_COORDINATOR, OTHER_ORG,
    TOKEN,
};
use serde_json::{json, Value};

/// A fleeing-abuse client with food and mental-health needs, each with a note.
fn safe_contact_case(reference: &str) -> String {
    json!({
        "reference": reference,
        "channel": "walk_in",
        "referrer": {"organisation": ORG, "worker": "pf-17"},
        "client": {
            "name": "Amara Okonkwo", "date_of_birth": "1990-03-04", "postcode": "W10 5AB",
            "address": "12 Hidden Mews, London", "local_authority": "E09000020",
            "phone": "07700 900456", "email": "amara@example.org",
            "preferred_language": "en", "safe_contact": true,
            "household": {"adults": 1, "children_ages": [4]}
        },
        "needs": [
            {"code": "food", "urgency": "urgent", "notes": "FOOD-NOTE no food since Tuesday"},
            {"code": "mental_health", "urgency": "soon", "notes": "MH-NOTE panic attacks since the assault"}
        ],
        "circumstances": ["fleeing_violence"],
        "consent": {"lawful_basis": "consent", "share_with": "planned_partners",
                    "recorded_by": "pf-17", "recorded_at": "2026-11-20T10:00:00Z"}
    })
    .to_string()
}

async fn create_and_plan(daemon: &Daemon, reference: &str) -> (String, Value) {
    daemon.plan_case(safe_contact_case(reference)).await
}

fn step<'a>(plan: &'a Value, need: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["need"] == need)
        .unwrap_or_else(|| panic!("no {need} step: {plan}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_organisation_reads_only_what_was_sent_to_it_and_reports_are_scoped() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let daemon = Daemon::start(dir.path(), &storage, &sandbox, 5000).await;
    let (case_id, plan) = create_and_plan(&daemon, "DS-1").await;
    let nhs_step = step(&plan, "mental_health");
    assert_eq!(
        (nhs_step["action"].as_str(), nhs_step["partner"]["id"].as_str()),
        (Some("refer"), Some("nhs-test")),
        "{plan}"
    );
    let food_step = step(&plan, "food");
    assert_eq!(food_step["partner"]["id"], "foodbank-test", "{plan}");

    // Nothing sent yet: the NHS organisation, though named in the plan, sees nothing.
    let (status, _) = daemon.get(&format!("/v1/cases/{case_id}"), NHS_STAFF).await;
    assert_eq!(status, 404);
    let (status, body) = daemon.refer(&case_id, "ds-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let ids = referral_ids(&body);
    assert_eq!(ids.len(), 2, "{body}");
    let settled = daemon.settled(&ids, Duration::from_secs(30)).await;
    assert!(settled.iter().all(|r| r["dispatch"]["state"] == "delivered"), "{settled:#?}");

    let (status, view) = daemon.get(&format!("/v1/cases/{case_id}"), NHS_STAFF).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["view"], "partner");
    let referrals = view["referrals"].as_array().unwrap();
    assert_eq!(referrals.len(), 1, "only the NHS referral, not the food bank's: {view}");
    let sent = &referrals[0]["sent"];
    assert_eq!(sent["partner_id"], "nhs-test");
    assert_eq!(sent["client"]["name"], "Amara Okonkwo");
    assert_eq!(sent["needs"][0]["notes"], "MH-NOTE panic attacks since the assault");
    // Exactly the fields the plan said this step would share, less nothing else.
    let shared: Vec<&str> =
        nhs_step["shares"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for (field, value) in sent["client"].as_object().unwrap() {
        if field == "contact_via_referrer" {
            continue;
        }
        assert!(
            shared.contains(&field.as_str()),
            "`{field}` = {value} was not in the plan's shares {shared:?}"
        );
    }
    let text = view.to_string();
    for absent in ["12 Hidden Mews", "07700 900456", "amara@example.org", "FOOD-NOTE", "W10 5AB"] {
        assert!(!text.contains(absent), "`{absent}` reached the NHS organisation: {text}");
    }
    // The NHS organisation never plans or refers, and sees no other case.
    let post = reqwest::Method::POST;
    let (status, _) = daemon
        .request(post.clone(), &format!("/v1/cases/{case_id}/plan"), NHS_STAFF, &[], None)
        .await;
    assert_eq!(status, 404, "no re-planning");
    let (status, _) = daemon.get(&format!("/v1/cases/{case_id}/plan"), NHS_STAFF).await;
    assert_eq!(status, 404);
    let (status, _) = daemon
        .request(
            post,
            &format!("/v1/cases/{case_id}/referrals"),
            NHS_STAFF,
            &[("idempotency-key", "nhs-1")],
            Some("{}".into()),
        )
        .await;
    assert_eq!(status, 404, "no referring");
    let (other_case, _) = create_and_plan(&daemon, "DS-2").await;
    let (status, _) = daemon.get(&format!("/v1/cases/{other_case}"), NHS_STAFF).await;
    assert_eq!(status, 404, "planned but never sent to it");

    // Reports: the owner's coordinator sees its referrals; another organisation's does not.
    let (status, mine) = daemon.get("/v1/reports/pathways", COORDINATOR).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(sent_total(&mine), 2, "{mine}");
    let (status, theirs) = daemon.get("/v1/reports/pathways", OTHER_COORDINATOR).await;
    assert_eq!((status, sent_total(&theirs)), (200, 0), "{theirs}");
    let (status, _) = daemon.get(&format!("/v1/cases/{case_id}"), OTHER_ORG).await;
    assert_eq!(status, 404);
    drop(daemon);
    sandbox.shutdown().await;
}

/// 20 requests for the same step with 20 keys, at once: one referral, one voucher.
async fn twenty_keys_one_referral(daemons: &[&Daemon], case_id: &str, sandbox: &Sandbox) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let daemon = daemons[i % daemons.len()];
        let (base, case_id) = (daemon.base.clone(), case_id.to_string());
        tasks.push(tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/v1/cases/{case_id}/referrals"))
                .bearer_auth(TOKEN)
                .header("idempotency-key", format!("race-{i}"))
                .header("content-type", "application/json")
                .body(r#"{"needs": ["food"]}"#)
                .send()
                .await
                .expect("sent");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            202 => accepted.push(body),
            409 => refused.push(body),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(accepted.len(), 1, "exactly one referral: {accepted:#?}");
    assert_eq!(refused.len(), 19);
    let id = accepted[0]["referrals"][0]["id"].as_str().unwrap().to_string();
    assert!(
        refused.iter().all(|b| b["error"]["code"] == "step_already_referred"
            && b["error"]["message"].as_str().unwrap().contains(&id)),
        "{refused:#?}"
    );
    let settled = daemons[0].settled(std::slice::from_ref(&id), Duration::from_secs(30)).await;
    assert_eq!(settled[0]["dispatch"]["state"], "delivered");
    let stats = sandbox.foodbank_stats();
    assert_eq!(
        (stats.distinct_keys, stats.vouchers_created),
        (1, 1),
        "one voucher at the food bank: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_for_one_step_make_one_referral_on_sqlite() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &Storage::Sqlite(dir.path().join("data/pathways.db")),
        &sandbox,
        5000,
    )
    .await;
    let (case_id, _) = daemon.planned_case("RACE-1", "planned_partners".into()).await;
    twenty_keys_one_referral(&[&daemon], &case_id, &sandbox).await;
    drop(daemon);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_for_one_step_on_two_daemons_make_one_referral_on_postgres() {
    let Some(pg) = referrals_util::postgres_schema(
        "twenty_concurrent_requests_for_one_step_on_two_daemons_make_one_referral_on_postgres",
    ) else {
        return;
    };
    let (admin, schema, storage) = (&pg.admin, &pg.schema, &pg.storage);
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let a = Daemon::start(dir.path(), storage, &sandbox, 5000).await;
    let b = Daemon::start(dir.path(), storage, &sandbox, 5000).await;
    let (case_id, _) = a.planned_case("RACE-PG", "planned_partners".into()).await;
    twenty_keys_one_referral(&[&a, &b], &case_id, &sandbox).await;
    // At rest: no client's name, phone or note in any table.
    let dump = psql_output(admin, &format!(
        "SELECT string_agg(t::text, ' ') FROM {schema}.cases t UNION ALL SELECT string_agg(t::text, ' ') FROM {schema}.plans t \
         UNION ALL SELECT string_agg(t::text, ' ') FROM {schema}.referrals t UNION ALL SELECT string_agg(t::text, ' ') FROM {schema}.referral_history t"
    ));
    assert!(dump.contains("pws1:"), "sealed values are there: {dump}");
    for secret in ["Test Person", "07700 900123", "W10 5AB"] {
        assert!(!dump.contains(secret), "`{secret}` readable in PostgreSQL");
    }
    drop((a, b));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_and_export_end_to_end_keep_the_report_and_leave_nothing_readable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/pathways.db");
    erasure_and_export(dir.path(), &Storage::Sqlite(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_and_export_end_to_end_on_postgres() {
    let Some(pg) = referrals_util::postgres_schema("erasure_and_export_end_to_end_on_postgres")
    else {
        return;
    };
    let (admin, schema) = (&pg.admin, &pg.schema);
    let dir = tempfile::tempdir().unwrap();
    erasure_and_export(dir.path(), &pg.storage).await;
    let dump = psql_output(
        admin,
        &format!(
            "SELECT concat_ws(' ', (SELECT string_agg(t::text, ' ') FROM {schema}.cases t), \
         (SELECT string_agg(t::text, ' ') FROM {schema}.referrals t), \
         (SELECT string_agg(t::text, ' ') FROM {schema}.referral_history t))"
        ),
    );
    assert!(dump.contains("erased"), "the erased rows are there, emptied: {dump}");
    for secret in ["Amara Okonkwo", "07700 900456", "12 Hidden Mews", "MH-NOTE", "pws1:"] {
        assert!(!dump.contains(secret), "`{secret}` left in PostgreSQL after erasure");
    }
}

/// Refers a two-need case, checks it at rest, exports it, completes its referrals, erases it:
/// the report keeps its figures and the case is gone for everyone.
async fn erasure_and_export(dir: &std::path::Path, storage: &Storage) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let daemon = Daemon::start(dir, storage, &sandbox, 5000).await;
    let (case_id, _) = create_and_plan(&daemon, "ER-1").await;
    let (status, body) = daemon.refer(&case_id, "er-1", "{}").await;
    assert_eq!(status, 202, "{body}");
    let ids = referral_ids(&body);
    daemon.settled(&ids, Duration::from_secs(30)).await;

    // At rest: the raw file and its WAL hold no name, phone, address or note.
    if let Storage::Sqlite(db) = storage {
        sqlite_holds_nothing_readable(db);
    }

    let (status, export) = daemon.get(&format!("/v1/cases/{case_id}/export"), TOKEN).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["case"]["case"]["client"]["name"], "Amara Okonkwo");
    assert_eq!(export["referrals"].as_array().unwrap().len(), 2);
    assert!(export["referrals"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["sent"]["client"]["name"] == "Amara Okonkwo"));
    assert!(export["referrals"][0]["history"].as_array().unwrap().len() >= 2);

    // Both referrals completed at the partners, and followed to completion here: a final
    // state, so nothing moves the figures but the erasure itself.
    let settled = daemon.settled(&ids, Duration::from_secs(30)).await;
    for referral in &settled {
        let reference = referral["partner_reference"].as_str().unwrap();
        if referral["partner_id"] == "foodbank-test" {
            sandbox.set_voucher_status(reference, VoucherStatus::Redeemed, None).unwrap();
        } else {
            sandbox.set_nhs_task_status(reference, NhsTaskStatus::Accepted, None).unwrap();
            sandbox.set_nhs_task_status(reference, NhsTaskStatus::Completed, None).unwrap();
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for id in &ids {
        loop {
            let (_, referral) = daemon.get(&format!("/v1/referrals/{id}"), TOKEN).await;
            if referral["state"] == "completed" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "not completed: {referral}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (_, before) = daemon.get("/v1/reports/pathways", COORDINATOR).await;
    assert_eq!(sent_total(&before), 2, "{before}");
    let delete = reqwest::Method::DELETE;
    let (status, erased) = daemon
        .request(
            delete,
            &format!("/v1/cases/{case_id}"),
            TOKEN,
            &[],
            Some(r#"{"reason": "client_request"}"#.into()),
        )
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["referrals_erased"], 2);
    let (_, after) = daemon.get("/v1/reports/pathways", COORDINATOR).await;
    assert_eq!(before["pathways"], after["pathways"], "the same figures after erasure");
    let (status, _) = daemon.get(&format!("/v1/cases/{case_id}"), TOKEN).await;
    assert_eq!(status, 404);
    let (status, _) = daemon.get(&format!("/v1/cases/{case_id}"), NHS_STAFF).await;
    assert_eq!(status, 404, "the partner's view is gone too");
    let (status, audit) = daemon.get(&format!("/v1/audit?case={case_id}"), ADMIN).await;
    assert_eq!(status, 200, "{audit}");
    let actions: Vec<String> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["action"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    for expected in ["case.create:ok", "case.export:ok", "case.erase:client_request"] {
        assert!(actions.contains(&expected.to_string()), "{expected} in {actions:?}");
    }
    drop(daemon);
    sandbox.shutdown().await;
}

/// The ids of the referrals a `202` accepted.
fn referral_ids(accepted: &Value) -> Vec<String> {
    let referrals = accepted["referrals"].as_array().expect("a list of referrals");
    referrals.iter().map(|r| r["id"].as_str().expect("an id").to_string()).collect()
}

fn sent_total(report: &Value) -> u64 {
    report["pathways"].as_array().unwrap().iter().map(|p| p["sent"].as_u64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_rotate_while_the_daemon_serves_and_the_old_key_can_then_go() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/pathways.db");
    let daemon = Daemon::start(dir.path(), &Storage::Sqlite(db.clone()), &sandbox, 5000).await;
    let key_file = referrals_util::key_file(dir.path());
    let old = std::fs::read_to_string(&key_file).unwrap();
    let (before, _) = daemon.planned_case("ROT-1", "planned_partners".into()).await;

    // 1-2: the new key first, the old kept; reload: new values sealed with the new key.
    let new = pathways_store::DataKeys::generate_entry();
    std::fs::write(&key_file, format!("{new}\n{old}\n")).unwrap();
    daemon.reload().await;
    let (during, _) = daemon.planned_case("ROT-2", "planned_partners".into()).await;

    // 3: re-seal everything while the daemon serves.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pathways"))
        .args(["keys", "rotate-data", "--batch", "3", "--config"])
        .arg(&daemon.config)
        .env_remove("PATHWAYS_CONFIG")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        printed.contains("re-sealed") && printed.contains(new.split(':').next().unwrap()),
        "{printed}"
    );

    // 4: the old key removed; everything still reads, through the daemon and directly.
    std::fs::write(&key_file, format!("{new}\n")).unwrap();
    daemon.reload().await;
    for id in [&before, &during] {
        let (status, case) = daemon.get(&format!("/v1/cases/{id}"), TOKEN).await;
        assert_eq!(
            (status, case["case"]["client"]["name"].as_str()),
            (200, Some("Test Person")),
            "{case}"
        );
        let (status, _) = daemon.get(&format!("/v1/cases/{id}/plan"), TOKEN).await;
        assert_eq!(status, 200);
    }
    // The old key alone opens nothing now: the store refuses it at opening, naming the key.
    let only_old = pathways_store::DataKeys::parse(&old).unwrap();
    let err = pathways_store::SqliteStore::open(&db, only_old).await.unwrap_err();
    let new_id = new.split(':').next().unwrap();
    assert!(
        matches!(err, pathways_store::StoreError::Sealed { .. })
            && err.to_string().contains(new_id),
        "{err}"
    );
    drop(daemon);
    sandbox.shutdown().await;
}

/// The SQLite file and its WAL hold no name, phone, address or note, and are private.
fn sqlite_holds_nothing_readable(db: &std::path::Path) {
    let raw = [
        std::fs::read(db).unwrap(),
        std::fs::read(db.with_extension("db-wal")).unwrap_or_default(),
    ]
    .concat();
    for secret in ["Amara Okonkwo", "07700 900456", "12 Hidden Mews", "MH-NOTE", "FOOD-NOTE"] {
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` readable in the SQLite file"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the database file is the daemon's alone");
    }
}
