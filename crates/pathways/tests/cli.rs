//! The `pathways` binary end to end: the real binary, the real plugin libraries (built by the
//! testkit with the same cargo) and the food bank simulator served in-process.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use pathways_core::{parse_case, ActionPlan, NeedCode, PartnerOutcome};
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_dir, plugin_library, sample_cases, workspace_root};

const PARTNER_ID: &str = "foodbank-test";

/// The food bank simulator, on a free loopback port, for the whole test process.
fn sandbox_url() -> &'static str {
    static SANDBOX: OnceLock<(tokio::runtime::Runtime, Sandbox, String)> = OnceLock::new();
    &SANDBOX
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the sandbox");
            let sandbox =
                runtime.block_on(Sandbox::start(SandboxConfig::default())).expect("sandbox starts");
            let url = sandbox.foodbank_url();
            (runtime, sandbox, url)
        })
        .2
}

/// A configuration with one food bank partner in Kensington and Chelsea and Shropshire,
/// `settings` as its settings table, and `extra` appended to `[orchestrator]`.
fn write_config(dir: &Path, settings: &str, extra: &str) -> PathBuf {
    let key_file = dir.join("data.key");
    std::fs::write(&key_file, pathways_store::DataKeys::generate_entry()).expect("key written");
    let text = format!(
        r#"[storage]
url = "sqlite://{db}"
key_file = "{key_file}"

[orchestrator]
plan_deadline_ms = 8000
partner_timeout_ms = 6000
{extra}
[plugins]
dir = "{plugins}"

[[partners]]
id = "{PARTNER_ID}"
plugin = "foodbank"
areas = ["E09000020", "E06000051"]
[partners.settings]
{settings}
"#,
        plugins = plugin_dir().display(),
        db = dir.join("pathways.db").display(),
        key_file = key_file.display(),
    );
    let path = dir.join("pathways.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

fn good_config(dir: &Path) -> PathBuf {
    write_config(dir, &format!("base_url = \"{}\"", sandbox_url()), "")
}

/// The binary, run from the workspace root with no configuration from the environment.
fn pathways(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pathways"));
    command
        .current_dir(workspace_root())
        .args(args)
        .env_remove("PATHWAYS_CONFIG")
        .env("RUST_LOG", "warn");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("PATHWAYS__")) {
        command.env_remove(key);
    }
    command.output().expect("the pathways binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn plan_json_of_every_sample_covers_each_need_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let mut food_referred = 0;
    for case_file in sample_cases() {
        let output = pathways(&["plan", text(&case_file), "--config", text(&config), "--json"]);
        assert_exit(&output, 0);
        // The whole of stdout is the plan: no log line or banner mixed in.
        let plan: ActionPlan = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("{}: stdout is not a plan: {e}\n{}", case_file.display(), stdout(&output))
        });
        let case = load_case(&case_file);
        assert_eq!(plan.case_id, case.reference);
        let mut covered: Vec<NeedCode> = plan.steps.iter().map(|s| s.need).collect();
        covered.sort();
        let mut expected: Vec<NeedCode> = case.needs.iter().map(|n| n.code).collect();
        expected.sort();
        assert_eq!(covered, expected, "{}: every need once", case_file.display());

        if expected.contains(&NeedCode::Food) {
            let report =
                plan.partners.iter().find(|p| p.partner_id == PARTNER_ID).expect("food bank asked");
            assert_eq!(report.outcome, PartnerOutcome::Answered, "{report:?}");
            let food = plan.steps.iter().find(|s| s.need == NeedCode::Food && !s.is_unmet());
            if let Some(step) = food {
                assert!(step.is_refer(), "{step:?}");
                assert_eq!(step.partner_id(), Some(PARTNER_ID));
                food_referred += 1;
            }
        }
    }
    assert!(food_referred > 0, "the sandbox's food banks took at least one food referral");
}

#[test]
fn plan_table_reads_need_by_need() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let case = workspace_root().join("examples/cases/debt-food-eviction.json");
    let output = pathways(&["plan", text(&case), "--config", text(&config)]);
    assert_exit(&output, 0);
    let table = stdout(&output);
    for expected in [
        "Plan for case CAKC-000101",
        "NEED",
        "WHAT TO SAY",
        "housing_homelessness",
        "food",
        "debt_money",
    ] {
        assert!(table.contains(expected), "missing `{expected}` in\n{table}");
    }
    assert!(
        !table.contains("Daniel Okafor") && !table.contains("W10 6QA"),
        "personal data in the table"
    );
}

#[test]
fn unknown_need_code_exits_2_naming_the_field_and_the_allowed_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let sample =
        std::fs::read_to_string(workspace_root().join("examples/cases/single-need-food.json"))
            .unwrap();
    let bad = sample.replace(r#""code": "food""#, r#""code": "fod""#);
    assert_ne!(bad, sample, "the sample has a food need to misspell");
    let case = dir.path().join("bad-need.json");
    std::fs::write(&case, bad).unwrap();
    let output = pathways(&["plan", text(&case), "--config", text(&config)]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains(text(&case)), "names the file: {err}");
    assert!(err.contains("needs[0].code"), "names the field: {err}");
    assert!(
        err.contains("fod") && err.contains("food") && err.contains("housing_homelessness"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one message, no trace: {err}");
}

#[test]
fn missing_case_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let missing = dir.path().join("no-such-case.json");
    let output = pathways(&["plan", text(&missing), "--config", text(&config)]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("no-such-case.json"), "{}", stderr(&output));
}

#[test]
fn bad_config_key_exits_2_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("base_url = \"{}\"", sandbox_url()),
        "plan_deadlin_ms = 10",
    );
    let output = pathways(&["config", "check", "--config", text(&config)]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains(text(&config)) && err.contains("plan_deadlin_ms"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one message: {err}");
}

#[test]
fn misspelt_partner_setting_exits_2_naming_the_partner_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        write_config(dir.path(), &format!("base_url = \"{}\"\nmax_resuls = 3", sandbox_url()), "");
    let output = pathways(&["config", "check", "--config", text(&config)]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains(PARTNER_ID) && err.contains("max_resuls"), "{err}");
}

#[test]
fn config_check_accepts_a_good_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let output = pathways(&["config", "check", "--config", text(&config)]);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(&format!("1 partner(s) enabled: {PARTNER_ID}")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn config_defaults_to_pathways_config_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_pathways"))
        .current_dir(dir.path()) // no config/pathways.toml here
        .args(["config", "check"])
        .env("PATHWAYS_CONFIG", &config)
        .output()
        .unwrap();
    assert_exit(&output, 0);
}

#[test]
fn plugins_list_shows_the_partner_its_file_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let output = pathways(&["plugins", "list", "--config", text(&config)]);
    assert_exit(&output, 0);
    let listing = stdout(&output);
    let library =
        pathways_host::PluginLibrary::open(&plugin_library("pathways_plugin_foodbank")).unwrap();
    assert!(listing.contains(PARTNER_ID), "{listing}");
    assert!(listing.contains(&library.manifest().version), "{listing}");
    assert!(listing.contains("E09000020"), "{listing}");
    assert!(listing.contains("food"), "{listing}");
}

#[test]
fn plugins_check_passes_for_the_food_bank_library() {
    let library = plugin_library("pathways_plugin_foodbank");
    let settings = format!(r#"{{"base_url": "{}"}}"#, sandbox_url());
    let output = pathways(&["plugins", "check", text(&library), "--settings", &settings]);
    assert_exit(&output, 0);
    let report = stdout(&output);
    assert!(report.contains('✓') && !report.contains('✗'), "{report}");
    assert!(!report.contains("referral"), "no referral is sent unless asked: {report}");

    // With --referral it sends a synthetic referral twice and writes JUnit XML for CI.
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("plugin-check.xml");
    let output = pathways(&[
        "plugins",
        "check",
        text(&library),
        "--settings",
        &settings,
        "--referral",
        "--junit",
        text(&junit),
    ]);
    assert_exit(&output, 0);
    let report = stdout(&output);
    assert!(
        report.contains("✓ referral is idempotent: the same key again gave the same reference"),
        "{report}"
    );
    let xml = std::fs::read_to_string(&junit).expect("JUnit file written");
    assert!(xml.starts_with("<?xml") && xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("name=\"referral is idempotent\""), "{xml}");
}

#[test]
fn plugins_check_fails_for_a_file_that_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libnot_a_plugin.so");
    std::fs::write(&fake, "this is text, not a shared library").unwrap();
    let output = pathways(&["plugins", "check", text(&fake)]);
    assert!(matches!(output.status.code(), Some(1 | 2)), "{output:?}");
    let said = format!("{}{}", stdout(&output), stderr(&output));
    assert!(said.contains('✗') || said.contains("not a loadable library"), "{said}");
    assert!(said.contains("libnot_a_plugin.so"), "{said}");
}

#[test]
fn demo_plans_every_sample_and_stops_with_no_wait() {
    let dir = tempfile::tempdir().unwrap();
    // The demo starts its own sandbox: give it a port nobody else holds.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sandbox_config = dir.path().join("sandbox.toml");
    // A fast clock that turns nobody down, so the followed referral completes within the test.
    let sandbox_text = format!(
        "[clock]\nstep_ms = 300\nreject_rate = 0.0\n[foodbank]\nlisten = \"127.0.0.1:{port}\"\n"
    );
    std::fs::write(&sandbox_config, sandbox_text).unwrap();
    let config = write_config(dir.path(), &format!("base_url = \"http://127.0.0.1:{port}\""), "");
    let output = pathways(&[
        "demo",
        "--no-wait",
        "--config",
        text(&config),
        "--sandbox-config",
        text(&sandbox_config),
    ]);
    assert_exit(&output, 0);
    let printed = stdout(&output);
    let references: BTreeSet<String> = sample_cases()
        .iter()
        .map(|p| parse_case(&std::fs::read(p).unwrap()).unwrap().reference)
        .collect();
    for reference in &references {
        assert!(
            printed.contains(&format!("Plan for case {reference}")),
            "no plan for {reference}:\n{printed}"
        );
    }
    // One referral followed through the daemon, from the dispatcher's delivery to the food
    // bank's signed callbacks, in order.
    let followed = printed.split("== Following one referral").nth(1).expect(&printed);
    assert!(followed.contains(&format!("food → {PARTNER_ID}")), "{followed}");
    let states: Vec<&str> = followed.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    let at = |state: &str| states.iter().position(|s| *s == state);
    assert!(at("draft").is_some() && at("draft") < at("requested"), "{followed}");
    assert!(at("requested").is_some() && at("requested") < at("completed"), "{followed}");
    assert!(
        followed.contains("reported by partner_webhook"),
        "the simulator called back: {followed}"
    );
    assert!(printed.contains(&format!("{PARTNER_ID} answered")), "{printed}");
}

#[test]
fn plan_with_an_unreachable_partner_still_prints_a_plan_naming_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: every call to the partner is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = write_config(
        dir.path(),
        &format!("base_url = \"http://127.0.0.1:{port}\""),
        "partner_concurrency = 2\nbreaker_failures = 3",
    );
    let case = workspace_root().join("examples/cases/debt-food-eviction.json");
    let output = pathways(&["plan", text(&case), "--config", text(&config), "--json"]);
    assert_exit(&output, 0);
    let plan: ActionPlan = serde_json::from_slice(&output.stdout).expect("stdout is the plan");
    let report = &plan.partners[0];
    assert_eq!((report.partner_id.as_str(), report.outcome), (PARTNER_ID, PartnerOutcome::Failed));
    let food = plan.unmet().find(|u| u.need == NeedCode::Food).expect("food is unmet");
    assert!(
        food.why.contains("we do not know yet whether they can help")
            && !food.signposts().is_empty(),
        "{food:?}"
    );

    let table = pathways(&["plan", text(&case), "--config", text(&config)]);
    assert_exit(&table, 0);
    let printed = stdout(&table);
    assert!(printed.contains(&format!("{PARTNER_ID} failed in")), "{printed}");
    // The warning comes before the plan's entries, not only in the partners' line at the end.
    let warning = printed.find("INCOMPLETE: not every partner answered.").expect(&printed);
    assert!(warning < printed.find("WHAT TO SAY").unwrap(), "{printed}");
    assert!(
        printed.contains("could not be reached") || printed.contains("had a problem"),
        "{printed}"
    );
}

#[test]
fn keys_new_data_prints_a_key_the_configuration_accepts() {
    let output = pathways(&["keys", "new-data"]);
    assert_exit(&output, 0);
    let printed = stdout(&output);
    let entry = printed.lines().find(|l| !l.starts_with('#') && !l.is_empty()).unwrap();
    let keys = pathways_store::DataKeys::parse(&printed).expect("the printed text parses whole");
    assert!(entry.starts_with(keys.current_id()), "{printed}");
    assert_ne!(stdout(&pathways(&["keys", "new-data"])), printed, "a new key every time");
}

#[test]
fn a_configuration_without_a_usable_data_key_exits_2_saying_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let original = std::fs::read_to_string(&config).unwrap();
    let key_line = original.lines().find(|l| l.starts_with("key_file")).unwrap().to_string();
    let cases = [
        (original.replace(&key_line, ""), "no data key", "storage"),
        (
            original.replace(&key_line, "key_file = \"/nonexistent/data.key\""),
            "/nonexistent/data.key",
            "storage.key_file",
        ),
        (
            original.replace(&key_line, "key_env = \"PATHWAYS_TEST_UNSET_KEY_VAR\""),
            "PATHWAYS_TEST_UNSET_KEY_VAR",
            "storage.key_env",
        ),
    ];
    for (text, names, field) in cases {
        std::fs::write(&config, &text).unwrap();
        for command in [&["config", "check", "--config"][..], &["serve", "--config"][..]] {
            let mut args = command.to_vec();
            args.push(text_of(&config));
            let output = pathways(&args);
            assert_exit(&output, 2);
            let err = stderr(&output);
            assert!(err.contains(names) && err.contains(&format!("`{field}`")), "{args:?}: {err}");
            assert!(err.contains("pathways keys new-data"), "{err}");
        }
    }
    let short = dir.path().join("short.key");
    std::fs::write(&short, "k1:c2hvcnQ=\n").unwrap();
    std::fs::write(
        &config,
        original.replace(&key_line, &format!("key_file = \"{}\"", short.display())),
    )
    .unwrap();
    let output = pathways(&["serve", "--config", text_of(&config)]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("`k1`") && err.contains("32 bytes") && !err.contains("c2hvcnQ"), "{err}");
}

#[test]
fn a_wrong_data_key_for_a_sealed_database_exits_2_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    // Seal something under the configured key, as a daemon would.
    let db = dir.path().join("pathways.db");
    let key_text = std::fs::read_to_string(dir.path().join("data.key")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let case = parse_case(
        std::fs::read_to_string(workspace_root().join("examples/cases/debt-food-eviction.json"))
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let keys = pathways_store::DataKeys::parse(&key_text).unwrap();
    let id = runtime.block_on(async {
        let store = pathways_store::SqliteStore::open(&db, keys.clone()).await.unwrap();
        pathways_store::Store::insert_case(&store, "citizens-advice-kc", &case).await.unwrap()
    });
    std::fs::write(dir.path().join("data.key"), pathways_store::DataKeys::generate_entry())
        .unwrap();
    let output = pathways(&["serve", "--config", text_of(&config)]);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("`storage.key_file`") && err.contains("not configured"), "{err}");
    assert!(err.contains(keys.current_id()), "names the key the data needs: {err}");
    let kept = runtime.block_on(async {
        let store = pathways_store::SqliteStore::open(&db, keys).await.unwrap();
        pathways_store::Store::get_case(&store, &id).await.unwrap()
    });
    assert!(kept.is_some_and(|stored| stored.case == case), "nothing was lost");
}

#[test]
fn config_check_warns_when_a_domestic_abuse_confirmation_has_no_effect() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "plugin = \"foodbank\"\n",
        "plugin = \"foodbank\"\ndomestic_abuse_service = true\n",
    );
    std::fs::write(&config, text).unwrap();
    let output = pathways(&["config", "check", "--config", text_of(&config)]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(
        out.contains("warning: partners[0]") && out.contains("domestic_abuse_service = true"),
        "{out}"
    );
}

fn text_of(path: &Path) -> &str {
    text(path)
}

#[test]
fn backup_writes_a_private_sealed_copy_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let key_text = std::fs::read_to_string(dir.path().join("data.key")).unwrap();
    let keys = pathways_store::DataKeys::parse(&key_text).unwrap();
    let case = load_case(&workspace_root().join("examples/cases/debt-food-eviction.json"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let id = runtime.block_on(async {
        let store =
            pathways_store::SqliteStore::open(&dir.path().join("pathways.db"), keys.clone())
                .await
                .unwrap();
        pathways_store::Store::insert_case(&store, "citizens-advice-kc", &case).await.unwrap()
    });
    let copy = dir.path().join("backup.db");
    let output = pathways(&["backup", "--config", text(&config), "--to", text(&copy)]);
    assert_exit(&output, 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let name = case.client.name.expose().clone();
    let bytes = std::fs::read(&copy).unwrap();
    assert!(!bytes.windows(name.len()).any(|w| w == name.as_bytes()), "the name is sealed");
    let restored = runtime.block_on(async {
        let store = pathways_store::SqliteStore::open(&copy, keys).await.unwrap();
        pathways_store::Store::get_case(&store, &id).await.unwrap()
    });
    assert!(restored.is_some_and(|stored| stored.case == case), "the copy holds the case");
    let again = pathways(&["backup", "--config", text(&config), "--to", text(&copy)]);
    assert_exit(&again, 2);
    assert!(stderr(&again).contains("must not exist"), "{}", stderr(&again));
}

#[test]
fn plugins_are_found_in_a_list_of_folders_or_by_their_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = good_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    let plugins = plugin_dir().display().to_string();
    let case = workspace_root().join("examples/cases/single-need-food.json");
    let plans = |text: String| {
        std::fs::write(&config, text).unwrap();
        pathways(&["plan", text_of(&case), "--config", text_of(&config), "--json"])
    };

    // A list of folders, searched in order.
    let listed = text.replace(
        &format!("dir = \"{plugins}\""),
        &format!("dir = [\"{}\", \"{plugins}\"]", dir.path().join("nothing-here").display()),
    );
    assert_exit(&plans(listed), 0);

    // A partner's own library file, wherever it was built; the folders need not hold it.
    let library = plugin_library("pathways_plugin_foodbank");
    let own = text.replace(&format!("dir = \"{plugins}\""), "dir = \"/nowhere\"").replace(
        "plugin = \"foodbank\"",
        &format!("plugin = \"foodbank\"\nlibrary = \"{}\"", library.display()),
    );
    assert_exit(&plans(own.clone()), 0);

    // A library that is another plugin than the entry says is refused, naming the field.
    let wrong = own.replace("plugin = \"foodbank\"", "plugin = \"nhs\"");
    let output = plans(wrong);
    assert_exit(&output, 2);
    let err = stderr(&output);
    assert!(
        err.contains("partners[0].library") && err.contains("is the plugin `foodbank`"),
        "{err}"
    );
}

/// `plugins new` outside the workspace: the crate builds against the SDK by path (offline, with
/// this workspace's lock file so it uses the same versions), passes `plugins check` with a
/// referral, and a council enables it by its library file and plans with it.
#[test]
fn a_plugin_made_by_plugins_new_outside_the_workspace_builds_passes_the_check_and_plans() {
    let dir = tempfile::tempdir().unwrap();
    let sdk = workspace_root().join("crates/pathways-sdk");
    let output = pathways(&[
        "plugins",
        "new",
        "acme-befriending",
        "--dir",
        text_of(dir.path()),
        "--sdk-path",
        text_of(&sdk),
    ]);
    assert_exit(&output, 0);
    let krate = dir.path().join("acme-befriending");
    for file in ["Cargo.toml", "src/lib.rs", "tests/plugins_check.rs", "README.md"] {
        assert!(krate.join(file).is_file(), "{file} written");
    }
    // Writing over it is refused.
    let again = pathways(&["plugins", "new", "acme-befriending", "--dir", text_of(dir.path())]);
    assert_exit(&again, 2);
    assert_exit(
        &pathways(&["plugins", "new", "Acme Befriending", "--dir", text_of(dir.path())]),
        2,
    );

    // Build it as an integrator would, outside this workspace. Its own target folder is kept
    // under ours, so the SDK's dependencies are compiled once per checkout, not per run.
    std::fs::copy(workspace_root().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let target = workspace_root().join("target/outside-plugin");
    let build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&krate)
        .args(["build", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let library = target.join("debug").join(format!(
        "{}acme_befriending{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    assert!(library.is_file(), "{}", library.display());

    // Its own test runs `plugins check` on what it built.
    let own_test = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&krate)
        .args(["test", "--offline", "--quiet", "--", "--nocapture"])
        .env("CARGO_TARGET_DIR", &target)
        .env("PATHWAYS_BIN", env!("CARGO_BIN_EXE_pathways"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let said = String::from_utf8_lossy(&own_test.stdout);
    assert!(own_test.status.success(), "{said}{}", String::from_utf8_lossy(&own_test.stderr));
    assert!(!said.contains("SKIPPED"), "{said}");

    let settings = r#"{"service_name": "Acme Tea and Talk"}"#;
    let check =
        pathways(&["plugins", "check", text_of(&library), "--settings", settings, "--referral"]);
    assert_exit(&check, 0);
    assert!(stdout(&check).contains("✓ referral is idempotent"), "{}", stdout(&check));

    // Enabled by its file, it is planned with like any partner.
    let config = good_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[[partners]]",
        &format!(
            "[[partners]]\nid = \"acme-1\"\nname = \"Acme\"\nplugin = \"acme-befriending\"\nlibrary = \"{}\"\nareas = [\"E09000020\"]\n[partners.settings]\nservice_name = \"Acme Tea and Talk\"\n\n[[partners]]",
            library.display()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let case = dir.path().join("lonely.json");
    let json =
        std::fs::read_to_string(workspace_root().join("examples/cases/single-need-food.json"))
            .unwrap()
            .replace("\"food\"", "\"social_isolation\"")
            .replace("E06000051", "E09000020");
    std::fs::write(&case, json).unwrap();
    let output = pathways(&["plan", text_of(&case), "--config", text_of(&config), "--json"]);
    assert_exit(&output, 0);
    let plan: ActionPlan = serde_json::from_slice(&output.stdout).expect("a plan");
    let step = &plan.steps[0];
    assert_eq!(step.partner_id(), Some("acme-1"), "{plan:?}");
    assert_eq!(step.service().map(|s| s.name.as_str()), Some("Acme Tea and Talk"));
}
