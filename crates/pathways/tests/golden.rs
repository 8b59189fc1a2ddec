//! Golden files of the plan table (`pathways plan`) for the sample cases, with the demo
//! configuration's partners against the sandbox on a fixed day: what a pathfinder reads aloud,
//! reviewed line by line (no ids in sentences, no ISO dates in sentences, the act-now line
//! first where someone may be in danger). Latencies are the only part that varies between runs
//! and are written `N ms`.
//!
//! After a deliberate change, `PATHWAYS_UPDATE_GOLDEN=1 cargo test -p pathways --test golden`
//! rewrites the files; review the diff before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_testkit::{plugin_dir, workspace_root};

const TODAY: &str = "2026-12-07";

/// The sandbox, on free loopback ports with a fixed day, for the whole test process.
fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<(tokio::runtime::Runtime, Sandbox)> = OnceLock::new();
    &SANDBOX
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let config =
                SandboxConfig { today: Some(TODAY.parse().unwrap()), ..Default::default() };
            let sandbox = runtime.block_on(Sandbox::start(config)).expect("sandbox starts");
            (runtime, sandbox)
        })
        .1
}

/// `config/pathways.toml` with the sandbox's addresses, the built plugins, a throw-away data
/// key and deadlines generous enough that a loaded machine does not change the plan.
fn config(dir: &Path) -> PathBuf {
    let sandbox = sandbox();
    let key_file = dir.join("data.key");
    std::fs::write(&key_file, pathways_store::DataKeys::generate_entry()).expect("key written");
    let text = std::fs::read_to_string(workspace_root().join("config/pathways.toml"))
        .expect("the demo configuration")
        .replace("http://127.0.0.1:9101", &sandbox.foodbank_url())
        .replace("http://127.0.0.1:9102", &sandbox.nhs_url())
        .replace("http://127.0.0.1:9103", &sandbox.housing_url())
        .replace("http://127.0.0.1:9104", &sandbox.council_url())
        .replace("dir = \"target/release\"", &format!("dir = \"{}\"", plugin_dir().display()))
        .replace(
            "key_file = \"data/pathways.key\"",
            &format!("key_file = \"{}\"", key_file.display()),
        )
        .replace("plan_deadline_ms = 2000", "plan_deadline_ms = 20000")
        .replace("partner_timeout_ms = 1500", "partner_timeout_ms = 15000");
    let path = dir.join("pathways.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

/// Latencies vary from run to run, and with them where the partners' line wraps; everything
/// else is fixed by the day and the sandbox seed. The partners' line is kept as one line of
/// who answered how, without latencies.
fn normalise(table: &str) -> String {
    let Some((head, partners)) = table.split_once("Partners asked: ") else {
        return table.to_string();
    };
    let words: Vec<&str> = partners.split_whitespace().collect();
    let mut kept: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        // "in 41 ms" and "in 41 ms;" go; the separator stays.
        let is_latency = words[i] == "in"
            && words.get(i + 1).is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
            && words.get(i + 2).is_some_and(|w| w.starts_with("ms"));
        if is_latency {
            let tail = &words[i + 2][2..];
            if !tail.is_empty() {
                kept.push(tail);
            }
            i += 3;
        } else {
            kept.push(words[i]);
            i += 1;
        }
    }
    let line = kept.join(" ").replace(" ;", ";").replace(" :", ":");
    format!("{head}Partners asked: {line}\n")
}

fn check(sample: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let case = workspace_root().join("examples/cases").join(format!("{sample}.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_pathways"))
        .current_dir(workspace_root())
        .args(["plan", "--today", TODAY, "--config"])
        .arg(&config)
        .arg(&case)
        .env_remove("PATHWAYS_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("pathways runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{sample}: {stderr}");
    let table = normalise(&String::from_utf8(output.stdout).expect("UTF-8"));
    let golden =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{sample}.txt"));
    if std::env::var_os("PATHWAYS_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &table).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
        panic!("{}: {e} (PATHWAYS_UPDATE_GOLDEN=1 writes it)", golden.display())
    });
    if table != expected {
        let first = table.lines().zip(expected.lines()).position(|(a, b)| a != b);
        panic!(
            "{sample}: the plan differs from {} (first at line {}):\n{table}",
            golden.display(),
            first.map_or_else(|| "the end".to_string(), |n| (n + 1).to_string())
        );
    }
    // What a golden file must never hold, whatever is regenerated into it.
    for line in table.lines().filter(|l| !l.starts_with("Partners asked") && !l.starts_with("    "))
    {
        assert!(!line.contains("citizens-advice-kc will"), "{sample}: an id in a sentence: {line}");
    }
}

#[test]
fn debt_food_eviction() {
    check("debt-food-eviction");
}

#[test]
fn fleeing_abuse_with_no_domestic_abuse_partner_opens_with_what_to_do_now() {
    check("fleeing-abuse-housing");
}

#[test]
fn older_person_care() {
    check("older-person-care");
}

#[test]
fn single_need_food() {
    check("single-need-food");
}

#[test]
fn normalising_drops_latencies_and_the_wrap_they_cause() {
    assert_eq!(
        normalise("Plan\n\nPartners asked: a answered in 41 ms; b timed out in 2000\n                ms: no answer in 5 ms\n"),
        "Plan\n\nPartners asked: a answered; b timed out: no answer\n"
    );
}
