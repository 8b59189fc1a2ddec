//! Helpers shared by the end-to-end tests: building the real plugin libraries with the same
//! cargo that runs the tests, and finding them; loading and driving one against the sandbox is
//! in [`e2e`].
//!
//! `cargo test --workspace` on a fresh clone needs no manual build step: the first test that
//! asks for a plugin builds every plugin package once (cargo makes later calls no-ops).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub mod e2e;
pub mod smtp;

/// Every package that builds a plugin library the tests load.
pub const PLUGIN_PACKAGES: &[&str] = &[
    "pathways-plugin-foodbank",
    "pathways-plugin-nhs",
    "pathways-plugin-housing",
    "pathways-plugin-council",
    "hello-partner",
    "pathways-test-misbehaving-partner",
    "pathways-test-wrong-abi",
    "pathways-test-no-entry",
    "pathways-test-old-sdk-partner",
    "pathways-test-cancelling-partner",
    "pathways-test-newer-sdk-partner",
];

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The profile folder the running test binary was built into (e.g. `target/debug`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds every plugin library once per test process and returns the folder holding them.
///
/// Panics with cargo's own output if the build fails: a test cannot go on without them.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile_dir = profile_dir();
        let target_dir = profile_dir.parent().expect("profile dir has a parent").to_path_buf();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(workspace_root())
            .arg("build")
            .arg("--quiet")
            .arg("--target-dir")
            .arg(&target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        for package in PLUGIN_PACKAGES {
            cmd.arg("-p").arg(package);
        }
        let output = cmd.output().expect("cargo can be run from a test");
        assert!(
            output.status.success(),
            "building the plugin libraries failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        profile_dir
    })
}

/// The path of a plugin library built by [`plugin_dir`], from its package's library name
/// (e.g. `pathways_plugin_foodbank`).
pub fn plugin_library(lib_name: &str) -> PathBuf {
    plugin_dir().join(format!(
        "{}{lib_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// The day the end-to-end tests ask about: Monday 2026-11-23.
pub fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a valid date")
}

/// The sample cases shipped in `examples/cases`.
pub fn sample_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("examples/cases"))
        .expect("examples/cases exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    cases
}

/// Reads and parses a sample case.
pub fn load_case(path: &Path) -> pathways_core::Case {
    let bytes = std::fs::read(path).expect("sample case is readable");
    pathways_core::parse_case(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An availability query for `needs` as the orchestrator would send it for a client in
/// `local_authority` (postcode district W10, age 35-49, one adult), dated [`today`].
pub fn availability_query(
    needs: &[pathways_core::NeedCode],
    local_authority: &str,
) -> pathways_core::AvailabilityQuery {
    use pathways_core::{AgeBand, AvailabilityQuery, Household, NeedRequest, Urgency};
    AvailabilityQuery {
        needs: needs.iter().map(|&code| NeedRequest { code, urgency: Urgency::Urgent }).collect(),
        local_authority: local_authority.to_string(),
        postcode_district: "W10".into(),
        age_band: AgeBand::From35To49,
        household: Household { adults: 1, children_ages: vec![] },
        circumstances: vec![],
        preferred_language: "en".into(),
        today: today(),
    }
}
