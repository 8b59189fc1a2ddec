//! Plugin process isolation (`isolation = "process"`): the real `pathways plugin-host` child,
//! the real misbehaving plugin crashing it (abort, segfault), Landlock refusing its writes, and
//! the real daemon answering throughout, over loopback.

mod referrals_util;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_core::{Partner, PartnerErrorKind};
use pathways_host::{HostOptions, PluginLibrary, ProcessPartner};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::{availability_query, plugin_library};
use referrals_util::{Daemon, Storage};
use serde_json::{json, Value};

const SHROPSHIRE: &str = "E06000051";

fn host_program() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_pathways"))
}

fn options() -> HostOptions {
    HostOptions::new(host_program())
}

fn misbehaving_library() -> std::path::PathBuf {
    plugin_library("pathways_test_misbehaving_partner")
}

fn isolated(settings: Value) -> ProcessPartner {
    ProcessPartner::start(&options(), &misbehaving_library(), "misbehaving-1", &settings)
        .expect("the plugin host starts and loads the plugin")
}

/// An availability query whose local authority is the misbehaving plugin's command.
fn command(command: &str) -> pathways_core::AvailabilityQuery {
    availability_query(&[pathways_core::NeedCode::Food], command)
}

async fn health_detail(partner: &ProcessPartner) -> Value {
    let health = partner.health().await.expect("health answers");
    serde_json::from_str(&health.detail.expect("detail")).expect("detail is JSON")
}

/// Waits until the partner's plugin host has been restarted `times` times.
async fn restarted(partner: &ProcessPartner, times: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while partner.restarts() < times {
        assert!(Instant::now() < deadline, "the plugin host was not restarted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `partner` has `n` calls in flight.
async fn in_flight(partner: &ProcessPartner, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while partner.call_stats().in_flight != n {
        assert!(Instant::now() < deadline, "{:?}", partner.call_stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A call that hangs in the plugin until it is cancelled or its host dies.
fn hang(
    partner: &Arc<ProcessPartner>,
) -> tokio::task::JoinHandle<Result<pathways_core::Availability, pathways_core::PartnerError>> {
    let partner = partner.clone();
    tokio::spawn(async move { partner.check_availability(&command("HANG")).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_plugin_answers_as_in_process_with_concurrent_and_cancellable_calls() {
    let partner = Arc::new(isolated(json!({"label": "iso"})));
    let in_process = PluginLibrary::open(&misbehaving_library())
        .unwrap()
        .instantiate("misbehaving-1", &json!({"label": "iso"}))
        .unwrap();
    assert_eq!(partner.manifest(), in_process.manifest(), "the same manifest either way");

    // A call that never answers does not hold up another: they run concurrently.
    let hung = hang(&partner);
    in_flight(&partner, 1).await;
    let answer = partner.check_availability(&command("W10")).await.expect("answers");
    assert_eq!(answer.offers.len(), 1);
    assert_eq!(partner.call_stats().in_flight, 1, "the hung call is still in flight");

    // Dropping a call cancels it in the plugin, as in process.
    hung.abort();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let detail = health_detail(&partner).await;
        if detail["cancelled"] == 1 {
            assert_eq!(detail["label"], "iso", "the settings reached the plugin");
            break;
        }
        assert!(Instant::now() < deadline, "the cancel did not reach the plugin: {detail}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = partner.call_stats();
    assert_eq!((stats.duplicates, stats.in_flight), (0, 0), "{stats:?}");
    assert!(stats.started >= 3 && stats.completions >= 3, "{stats:?}");
    assert_eq!(partner.restarts(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_aborts_fails_every_call_in_flight_at_once_and_its_host_is_restarted() {
    let partner = Arc::new(isolated(json!({"abort_on": "health"})));
    let hung = hang(&partner);
    in_flight(&partner, 1).await;

    let error = partner.health().await.expect_err("the plugin aborted");
    assert_eq!(error.kind, PartnerErrorKind::PluginFault);
    assert!(error.is_plugin_host_crash(), "{error}");
    assert!(
        error.message.contains("misbehaving-1") && error.message.contains("SIGABRT"),
        "{error}"
    );
    let hung = hung.await.unwrap().expect_err("the call in flight fails with its host");
    assert!(hung.is_plugin_host_crash() && hung.message.contains("SIGABRT"), "{hung}");

    restarted(&partner, 1).await;
    let answer = partner.check_availability(&command("W10")).await;
    assert_eq!(answer.expect("the restarted plugin host answers").offers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_segfaults_fails_its_call_and_its_host_is_restarted() {
    let partner = isolated(json!({"segfault_on": "check_availability"}));
    let error = partner.check_availability(&command("W10")).await.expect_err("it segfaulted");
    assert!(error.is_plugin_host_crash(), "{error}");
    assert!(error.message.contains("SIGSEGV"), "{error}");
    restarted(&partner, 1).await;
    let detail = health_detail(&partner).await;
    assert_eq!(detail["started"], 0, "a new process, a new instance: {detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_overflows_its_stack_fails_its_call_and_its_host_is_restarted() {
    let partner = isolated(json!({"overflow_on": "health"}));
    let error = partner.health().await.expect_err("it overflowed its stack");
    assert!(error.is_plugin_host_crash(), "{error}");
    // Rust's overflow handler aborts; without its alternate stack the kernel's SIGSEGV stands.
    assert!(error.message.contains("SIGABRT") || error.message.contains("SIGSEGV"), "{error}");
    restarted(&partner, 1).await;
    let answer = partner.check_availability(&command("W10")).await;
    assert_eq!(answer.expect("the restarted plugin host answers").offers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_host_stuck_in_a_call_it_cannot_cancel_is_killed_as_hung_and_restarted() {
    let options = HostOptions { hung_after: Duration::from_millis(400), ..options() };
    let settings = json!({"block_on": "health"});
    let partner = Arc::new(
        ProcessPartner::start(&options, &misbehaving_library(), "stuck-1", &settings).unwrap(),
    );
    // A call that is cancelled in time is let go at once: no kill.
    let cancelled = hang(&partner);
    in_flight(&partner, 1).await;
    cancelled.abort();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(partner.restarts(), 0, "a call the plugin let go of is no sign of a hang");
    assert_eq!(partner.call_stats().awaiting_late_completion, 0);

    // One that blocks its thread cannot be cancelled: the host is killed once it has kept it
    // `hung_after` past its cancel, and the call still in flight beside it fails at once.
    let beside = hang(&partner);
    in_flight(&partner, 1).await;
    let started = Instant::now();
    let stuck = tokio::time::timeout(Duration::from_millis(200), partner.health()).await;
    assert!(stuck.is_err(), "the blocked call times out for its caller");
    assert_eq!(partner.call_stats().awaiting_late_completion, 1, "{:?}", partner.call_stats());
    let beside = beside.await.unwrap().expect_err("the call beside it fails with its host");
    let waited = started.elapsed();
    assert!(beside.is_plugin_host_crash() && beside.message.contains("hung"), "{beside}");
    assert!(beside.message.contains("SIGKILL"), "{beside}");
    assert!(waited >= Duration::from_millis(600) && waited < Duration::from_secs(10), "{waited:?}");
    restarted(&partner, 1).await;
    let answer = partner.check_availability(&command("W10")).await;
    assert_eq!(answer.expect("the restarted plugin host answers").offers.len(), 1);
}

/// A plugin whose `call` export never returns stops its host reading requests. Before, the
/// requests then filled the pipe and each caller blocked its runtime thread writing the next
/// (with two threads, the whole daemon); now no caller waits: every call gets its answer (an
/// error) in time, and the host is killed and restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_host_that_stops_reading_never_blocks_its_callers() {
    let options = HostOptions { hung_after: Duration::from_millis(500), ..options() };
    let library = plugin_library("pathways_test_old_sdk_partner");
    let partner =
        Arc::new(ProcessPartner::start(&options, &library, "blocking-1", &json!({})).unwrap());
    // A ticker on the callers' runtime: a blocked worker shows as a late tick.
    let ticker = tokio::spawn(async {
        let (mut worst, mut last) = (Duration::ZERO, Instant::now());
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            worst = worst.max(last.elapsed());
            last = Instant::now();
        }
        worst
    });
    let blocking = partner.clone();
    let blocked = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_millis(200),
            blocking.check_availability(&command("BLOCK")),
        )
        .await
    });
    in_flight(&partner, 1).await;
    // 40 requests of 256 KiB: far more than the socket holds, and more than the backlog may.
    let big = "x".repeat(256 * 1024);
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let (partner, mut query) = (partner.clone(), command("W10"));
            query.postcode_district = big.clone();
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(8), partner.check_availability(&query))
                    .await
            })
        })
        .collect();
    let mut refused = 0;
    for call in calls {
        let answer = call.await.unwrap().expect("every caller is answered in time");
        let error = answer.expect_err("the stuck host answers nothing");
        assert_eq!(error.kind, PartnerErrorKind::PluginFault, "{error}");
        refused += usize::from(error.message.contains("stopped reading its requests"));
    }
    assert!(refused > 0, "past the backlog's limit calls are refused at once");
    // The blocked call ended too: timed out for its caller, or failed with its host.
    assert!(!matches!(blocked.await.unwrap(), Ok(Ok(_))), "the blocked call cannot answer");
    let worst = ticker.await.unwrap();
    assert!(worst < Duration::from_millis(500), "a runtime thread was blocked for {worst:?}");
    restarted(&partner, 1).await;
    let answer = partner.check_availability(&command("W10")).await;
    assert_eq!(answer.expect("the restarted host answers").offers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_host_past_its_memory_cap_aborts_alone_and_is_first_for_the_oom_killer() {
    let options = HostOptions { memory_limit: Some(256 * 1024 * 1024), ..options() };
    let settings = json!({"allocate_on": "health"});
    let partner = ProcessPartner::start(&options, &misbehaving_library(), "greedy-1", &settings)
        .expect("the plugin loads within the cap");
    // The plugin host asked the out-of-memory killer to take it first (before it was ready).
    let pid = partner.host_pid().expect("the plugin host runs");
    let adj = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(adj.trim(), "1000", "plugin host {pid}");
    let daemon = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    assert_ne!(daemon.trim(), "1000", "the daemon's own is left alone");
    let started = Instant::now();
    let error = partner.health().await.expect_err("the plugin ran out of its memory");
    assert!(error.is_plugin_host_crash() && error.message.contains("SIGABRT"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "it stopped at the cap, not at 64 GiB");
    restarted(&partner, 1).await;
    let answer = partner.check_availability(&command("W10")).await;
    assert_eq!(answer.expect("the restarted plugin host answers").offers.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_plugin_cannot_write_files_though_it_can_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("written-by-the-plugin");
    let settings = json!({"write_file": file});

    let in_process = PluginLibrary::open(&misbehaving_library())
        .unwrap()
        .instantiate("misbehaving-1", &settings)
        .unwrap();
    let health = in_process.health().await.unwrap();
    assert!(health.detail.unwrap().contains("\"write_file\":\"written\""));
    assert!(file.exists(), "in process, the plugin writes");
    std::fs::remove_file(&file).unwrap();

    let partner = isolated(settings);
    let detail = health_detail(&partner).await;
    let outcome = detail["write_file"].as_str().unwrap();
    assert!(outcome.starts_with("refused:") && outcome.contains("denied"), "{detail}");
    assert!(!file.exists(), "under isolation, Landlock refuses the write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_plugin_refusing_its_settings_is_the_same_load_error_as_in_process() {
    let settings = json!({"lable": "typo"});
    let error = ProcessPartner::start(&options(), &misbehaving_library(), "m-1", &settings)
        .expect_err("the plugin refuses the key");
    assert!(matches!(error, pathways_host::LoadError::Settings { .. }), "{error:?}");
    assert!(error.to_string().contains("lable") && error.is_bad_input(), "{error}");
}

#[test]
fn a_missing_plugin_host_program_exits_2_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pathways.toml");
    std::fs::write(
        &config,
        format!(
            "[plugins]\nhost_program = \"/nonexistent/pathways\"\n\n[[partners]]\nid = \"m\"\n\
             plugin = \"misbehaving\"\nlibrary = \"{}\"\nisolation = \"process\"\n",
            misbehaving_library().display()
        ),
    )
    .unwrap();
    let output = std::process::Command::new(host_program())
        .args(["config", "check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("plugins.host_program") && stderr.contains("/nonexistent/pathways"),
        "{stderr}"
    );
}

/// A `[[partners]]` entry of the misbehaving plugin in its own process, serving Shropshire.
fn misbehaving_partner(id: &str, crash: &str) -> String {
    format!(
        "[[partners]]\nid = \"{id}\"\nplugin = \"misbehaving\"\nlibrary = \"{}\"\n\
         isolation = \"process\"\nareas = [\"{SHROPSHIRE}\"]\n[partners.settings]\n{crash}\n",
        misbehaving_library().display()
    )
}

/// A food case in Shropshire, where only the test's own partners serve.
fn shropshire_case(reference: &str) -> String {
    let mut case: Value =
        serde_json::from_str(&referrals_util::case_json(reference, "planned_partners".into()))
            .unwrap();
    case["client"]["postcode"] = "SY8 1AA".into();
    case["client"]["local_authority"] = SHROPSHIRE.into();
    case.to_string()
}

fn outcome<'a>(plan: &'a Value, partner: &str) -> &'a Value {
    plan["partners"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["partner_id"] == partner))
        .unwrap_or_else(|| panic!("no outcome for {partner}: {plan:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_plans_on_while_isolated_plugins_abort_and_segfault() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let extra = [
        misbehaving_partner("aborts", "abort_on = \"check_availability\""),
        misbehaving_partner("segfaults", "segfault_on = \"check_availability\""),
        misbehaving_partner("steady", "label = \"steady\""),
    ]
    .concat();
    let daemon = Daemon::start_with_config(dir.path(), &storage, &sandbox, &extra).await;
    for round in 0..3 {
        let (_, plan) = daemon.plan_case(shropshire_case(&format!("ISO-{round}"))).await;
        assert_eq!(outcome(&plan, "steady")["outcome"], "answered", "round {round}: {plan:#}");
        let step = &plan["steps"][0];
        assert_eq!(
            (step["partner"]["id"].as_str(), step["service"]["id"].as_str()),
            (Some("steady"), Some("svc-food")),
            "round {round}: the steady partner's offer is planned: {plan:#}"
        );
        for crashed in ["aborts", "segfaults"] {
            assert_ne!(outcome(&plan, crashed)["outcome"], "answered", "{plan:#}");
        }
        let (status, _) = daemon.get("/readyz", "").await;
        assert_eq!(status, 200, "the daemon answers throughout");
    }
    let log = daemon.stderr();
    assert!(log.contains("SIGABRT") && log.contains("SIGSEGV"), "the deaths are logged: {log}");
    // Each crashed host is started again in the background (after 100 ms, then doubling).
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.stderr().matches("plugin host restarted").count() < 2 {
        assert!(Instant::now() < deadline, "not restarted: {}", daemon.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_whose_send_crashes_the_plugin_host_three_times_is_failed_naming_the_crash() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let extra = misbehaving_partner("crashes-on-send", "segfault_on = \"send_referral\"");
    let daemon = Daemon::start_with_config(dir.path(), &storage, &sandbox, &extra).await;
    let (case_id, plan) = daemon.plan_case(shropshire_case("ISO-SEND")).await;
    assert_eq!(plan["steps"][0]["partner"]["id"], "crashes-on-send", "{plan:#}");
    let (status, body) = daemon.refer(&case_id, "iso-send", "{}").await;
    assert_eq!(status, 202, "{body}");
    let id = body["referrals"][0]["id"].as_str().unwrap().to_string();
    let settled = daemon.settled(std::slice::from_ref(&id), Duration::from_secs(60)).await;
    let referral = &settled[0];
    assert_eq!(referral["dispatch"]["state"], "failed", "{referral:#}");
    assert_eq!(referral["state"], "failed", "{referral:#}");
    let text = referral.to_string();
    assert!(text.contains("crashed the partner's plugin host 3 times"), "{referral:#}");
    assert!(text.contains("SIGSEGV"), "{referral:#}");
    let (status, _) = daemon.get("/readyz", "").await;
    assert_eq!(status, 200, "the daemon answers throughout");
    sandbox.shutdown().await;
}

#[test]
fn plugins_list_and_config_check_show_each_partners_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pathways.toml");
    let key = referrals_util::key_file(dir.path());
    let partner = |id: &str, isolation: &str| {
        format!(
            "[[partners]]\nid = \"{id}\"\nplugin = \"misbehaving\"\nlibrary = \"{}\"\n\
             isolation = \"{isolation}\"\n",
            misbehaving_library().display()
        )
    };
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"sqlite://{}\"\nkey_file = \"{}\"\n[plugins]\nhost_program = \"{}\"\n{}{}",
            dir.path().join("pathways.db").display(),
            key.display(),
            host_program().display(),
            partner("near", "in_process"),
            partner("apart", "process"),
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let output =
            std::process::Command::new(host_program()).args(args).arg(&config).output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
        stdout
    };
    let listing = run(&["plugins", "list", "--config"]);
    let row =
        |id: &str| listing.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_string();
    assert!(row("near").contains("in_process") && row("near").contains("ok"), "{listing}");
    // Its health was asked through its plugin host.
    assert!(row("apart").contains("process") && row("apart").contains("ok"), "{listing}");
    let report = run(&["config", "check", "--config"]);
    assert!(report.contains("isolation = \"process\"): apart"), "{report}");
}

/// The children of process `pid` (of all its threads).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.extend(list.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
    }
    children
}

/// Whether process `pid` still runs (a zombie waiting for its reaper does not).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|status| !status.lines().any(|l| l.starts_with("State:") && l.contains('Z')))
        .unwrap_or(false)
}

/// The daemon's plugin host children that are running.
fn plugin_hosts(daemon: &Daemon) -> Vec<u32> {
    children_of(daemon.child.id())
        .into_iter()
        .filter(|&pid| running(pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("plugin-host"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_replaces_the_plugin_hosts_and_leaves_none_behind() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let extra = misbehaving_partner("one", "label = \"1\"");
    let daemon = Daemon::start_with_config(dir.path(), &storage, &sandbox, &extra).await;
    let before = plugin_hosts(&daemon);
    assert_eq!(before.len(), 1, "one plugin host per isolated partner");
    daemon.reload().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let after = plugin_hosts(&daemon);
        if after.len() == 1 && after != before {
            break;
        }
        assert!(Instant::now() < deadline, "before {before:?}, after {after:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, plan) = daemon.plan_case(shropshire_case("ISO-RELOAD")).await;
    assert_eq!(outcome(&plan, "one")["outcome"], "answered", "{plan:#}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_hosts_end_with_the_daemon_even_when_it_is_killed() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::Sqlite(dir.path().join("data/pathways.db"));
    let extra =
        [misbehaving_partner("one", "label = \"1\""), misbehaving_partner("two", "")].concat();
    let mut daemon = Daemon::start_with_config(dir.path(), &storage, &sandbox, &extra).await;
    let hosts = plugin_hosts(&daemon);
    assert_eq!(hosts.len(), 2, "one plugin host per isolated partner");
    daemon.kill(); // SIGKILL: no shutdown, nothing dropped
    let deadline = Instant::now() + Duration::from_secs(10);
    while hosts.iter().any(|&pid| running(pid)) {
        assert!(Instant::now() < deadline, "a plugin host outlived the daemon: {hosts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sandbox.shutdown().await;
}

/// `plugins check --isolation process`: a plugin that segfaults in one operation fails that
/// check, naming the crash, and the checks after it still run against a restarted host; in
/// process the same plugin takes the whole check down with it.
#[test]
fn plugins_check_in_a_plugin_host_reports_a_crash_where_in_process_it_ends_the_check() {
    let library = misbehaving_library();
    let settings = r#"{"segfault_on": "check_availability"}"#;
    let run = |isolation: &str| {
        std::process::Command::new(host_program())
            .args(["plugins", "check"])
            .arg(&library)
            .args(["--settings", settings, "--isolation", isolation])
            .output()
            .unwrap()
    };
    let isolated = run("process");
    let report = String::from_utf8_lossy(&isolated.stdout);
    assert_eq!(
        isolated.status.code(),
        Some(1),
        "{report}{}",
        String::from_utf8_lossy(&isolated.stderr)
    );
    let line = |name: &str| {
        report
            .lines()
            .find(|l| l[l.char_indices().nth(2).map_or(0, |(i, _)| i)..].starts_with(name))
    };
    let availability = line("availability").unwrap_or_else(|| panic!("{report}"));
    assert!(
        availability.starts_with('✗')
            && availability.contains("the plugin host died")
            && availability.contains("SIGSEGV"),
        "{report}"
    );
    assert!(line("settings accepted").is_some_and(|l| l.contains("in a plugin host")), "{report}");
    assert!(line("health").is_some_and(|l| l.starts_with('✓')), "{report}");
    // The next check waits for the restarted host, so it tests the plugin, not the restart.
    let contained = line("errors are contained");
    assert!(contained.is_some_and(|l| l.starts_with('✓')), "the checks went on: {report}");
    // An abandoned call that crashes the host is no completion.
    let cancellation = line("cancellation").unwrap_or_else(|| panic!("{report}"));
    assert!(cancellation.starts_with('✗') && cancellation.contains("died"), "{report}");
    // Without the crash, every check passes in a plugin host as in process.
    let healthy = std::process::Command::new(host_program())
        .args(["plugins", "check"])
        .arg(&library)
        .args(["--isolation", "process", "--referral"])
        .output()
        .unwrap();
    let healthy_report = String::from_utf8_lossy(&healthy.stdout);
    assert_eq!(healthy.status.code(), Some(0), "{healthy_report}");
    assert!(!healthy_report.contains('✗') && healthy_report.contains("referral is idempotent"));

    let in_process = run("in_process");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(in_process.status.signal(), Some(11), "in process the check itself segfaults");
    assert!(!String::from_utf8_lossy(&in_process.stdout).contains("checks passed"));

    // A value --isolation does not know is refused by name.
    let typo = run("separate");
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("--isolation"));
}
