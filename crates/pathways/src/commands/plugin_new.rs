//! `pathways plugins new NAME`: a standalone plugin crate, outside any workspace, that builds
//! into a library the daemon loads: the template plugin (`examples/hello-partner`, which the
//! test suite builds and checks) under the new name, depending on the SDK by path or by an
//! exact version, with a test that runs `pathways plugins check` on what it built.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{print_out, CliError, CommandResult};

/// The template plugin's source: the crate `plugins new` writes is this file renamed.
const TEMPLATE: &str = include_str!("../../../../examples/hello-partner/src/lib.rs");

/// Where the new crate gets the SDK from.
#[derive(Debug, Clone)]
pub enum Sdk {
    /// A `crates/pathways-sdk` folder of a pathways checkout.
    Path(PathBuf),
    /// An exact published version.
    Version(String),
}

/// Writes the crate `name` into `dir/name`; refuses a bad name or an existing folder.
pub fn run(name: &str, dir: &Path, sdk: Sdk) -> CommandResult {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(CliError::BadInput(format!(
            "NAME `{name}`: use lower-case letters, digits and `-`, starting with a letter (e.g. `acme-befriending`)"
        )));
    }
    let root = dir.join(name);
    if root.exists() {
        return Err(CliError::BadInput(format!(
            "{}: already exists; choose another NAME or --dir",
            root.display()
        )));
    }
    let sdk_line = match &sdk {
        Sdk::Path(path) => {
            let path = std::fs::canonicalize(path)
                .map_err(|e| CliError::BadInput(format!("--sdk-path {}: {e}", path.display())))?;
            if !path.join("Cargo.toml").is_file() {
                return Err(CliError::BadInput(format!(
                    "--sdk-path {}: not the pathways-sdk crate (no Cargo.toml)",
                    path.display()
                )));
            }
            format!("pathways-sdk = {{ path = {:?} }}", path.display().to_string())
        }
        Sdk::Version(version) => format!("pathways-sdk = \"={version}\""),
    };
    let snake = name.replace('-', "_");
    let camel: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let source = TEMPLATE
        .replace("HelloPartner", &camel)
        .replace("hello-partner", name)
        .replace("hello_partner", &snake)
        .replace(
            "The smallest pathways partner plugin: the template an integrator copies.",
            &format!("The `{name}` partner plugin for pathways (made by `pathways plugins new`)."),
        );
    let files: [(&str, String); 4] = [
        ("Cargo.toml", cargo_toml(name, &sdk_line)),
        ("src/lib.rs", source),
        ("tests/plugins_check.rs", check_test(&snake)),
        ("README.md", readme(name, &snake)),
    ];
    for (file, text) in &files {
        let path = root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CliError::BadInput(format!("{}: cannot create: {e}", parent.display()))
            })?;
        }
        std::fs::write(&path, text)
            .map_err(|e| CliError::BadInput(format!("{}: cannot write: {e}", path.display())))?;
    }
    print_out(&format!(
        "Wrote {}: a plugin `{name}` (library lib{snake}{}).\nBuild it with `cargo build --release` there, then check it with\n  pathways plugins check target/release/lib{snake}{} --settings '{{\"service_name\": \"Tea and Talk\"}}' --referral\n",
        root.display(),
        std::env::consts::DLL_SUFFIX,
        std::env::consts::DLL_SUFFIX,
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn cargo_toml(name: &str, sdk_line: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
# cdylib: the library the pathways daemon loads; rlib: your own tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
# The only dependency a plugin needs: it re-exports the core types and the crates its API
# exposes (serde, serde_json, schemars, chrono, tracing; reqwest with features = ["http"]).
{sdk_line}

# A crate of its own, not a member of any workspace around it.
[workspace]
"#
    )
}

fn check_test(snake: &str) -> String {
    format!(
        r##"//! Runs `pathways plugins check` on the library this crate builds. Set `PATHWAYS_BIN` to
//! the `pathways` binary (or have it on `PATH`); without one the test says SKIPPED.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_built_library_passes_plugins_check() {{
    let bin = std::env::var_os("PATHWAYS_BIN").map(PathBuf::from).unwrap_or_else(|| "pathways".into());
    if Command::new(&bin).arg("--version").output().is_err() {{
        println!("SKIPPED: no `pathways` binary (set PATHWAYS_BIN) to run `plugins check` with");
        return;
    }}
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let file = format!("{{}}{snake}{{}}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let library = ["debug", "release"].iter().map(|p| target.join(p).join(&file)).find(|p| p.is_file())
        .expect("the library is built (cargo test builds it)");
    let output = Command::new(&bin)
        .args(["plugins", "check"])
        .arg(&library)
        .args(["--settings", r#"{{"service_name": "Tea and Talk"}}"#, "--referral"])
        .output()
        .expect("pathways runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{{report}}{{}}", String::from_utf8_lossy(&output.stderr));
}}
"##
    )
}

fn readme(name: &str, snake: &str) -> String {
    let suffix = std::env::consts::DLL_SUFFIX;
    format!(
        r#"# {name}

A partner plugin for pathways, made by `pathways plugins new`.

- Build: `cargo build --release` (the library is `target/release/lib{snake}{suffix}`).
- Check: `pathways plugins check target/release/lib{snake}{suffix} --settings '{{"service_name": "Tea and Talk"}}' --referral`
  (`cargo test` does the same when `PATHWAYS_BIN` names the `pathways` binary).
- Enable it for a council, in `pathways.toml`:

  ```toml
  [[partners]]
  id = "{name}-1"
  name = "Tea and Talk"
  plugin = "{name}"                       # the manifest's `plugin`
  library = "/path/to/lib{snake}{suffix}"  # or put the file in a folder of `plugins.dir`
  [partners.settings]
  service_name = "Tea and Talk"
  ```

The guide to the contract is `docs/writing-a-plugin.md` in the pathways repository.
"#
    )
}
