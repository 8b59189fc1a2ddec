//! Project tasks, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! - `demo [ARGS...]`: builds the `pathways` binary and every plugin library the demo loads,
//!   in release mode, then runs `target/release/pathways demo ARGS...` from the repository
//!   root. `cargo demo` is the short form.
//! - `bench [ARGS...]`: the fan-out load script (`tests/benches/fanout.rs`) in release mode:
//!   real food bank plugins against sandbox food banks on loopback, printing the ratios that
//!   docs/BENCHMARKS.md reports. `FANOUT_QUICK=1` makes it a short smoke run.
//!
//! Deliberately dependency-free, so it builds in seconds on a fresh clone.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The packages `pathways demo` needs: the binary and the plugins `config/pathways.toml`
/// enables. Add a plugin here when the demo configuration starts using it.
const DEMO_PACKAGES: &[&str] = &[
    "pathways",
    "pathways-plugin-foodbank",
    "pathways-plugin-nhs",
    "pathways-plugin-housing",
    "pathways-plugin-council",
];

fn main() -> ExitCode {
    let mut args = env::args().skip(1);
    match args.next().as_deref() {
        Some("demo") => demo(args.collect()),
        Some("bench") => bench(args.collect()),
        Some(other) => {
            eprintln!("xtask: unknown task `{other}`\n\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>\n\ntasks:\n  demo [ARGS...]   build in release mode and run `pathways demo ARGS...`\n  bench [ARGS...]  run the fan-out load script in release mode (FANOUT_QUICK=1: short run)";

fn bench(bench_args: Vec<String>) -> ExitCode {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut run = Command::new(cargo);
    run.current_dir(workspace_root())
        .args(["bench", "-p", "pathways-testkit", "--bench", "fanout", "--"])
        .args(&bench_args);
    exec(run)
}

fn demo(demo_args: Vec<String>) -> ExitCode {
    let root = workspace_root();
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(&root).args(["build", "--release"]);
    for package in DEMO_PACKAGES {
        build.args(["-p", package]);
    }
    eprintln!("xtask: building {} (release)...", DEMO_PACKAGES.join(", "));
    match build.status() {
        Ok(status) if status.success() => {}
        Ok(status) => {
            eprintln!("xtask: the release build failed ({status})");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("xtask: cannot run cargo: {e}");
            return ExitCode::from(1);
        }
    }

    let release_dir = target_dir(&root).join("release");
    let mut run = Command::new(release_dir.join(format!("pathways{}", env::consts::EXE_SUFFIX)));
    run.current_dir(&root).arg("demo").args(&demo_args);
    // The demo configuration looks for plugins in target/release; follow a relocated target.
    if env::var_os("CARGO_TARGET_DIR").is_some() && env::var_os("PATHWAYS__PLUGINS__DIR").is_none()
    {
        run.env("PATHWAYS__PLUGINS__DIR", &release_dir);
    }
    exec(run)
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts build output: `$CARGO_TARGET_DIR`, else `<root>/target`.
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Replaces this process with `command` where the platform allows, so Ctrl-C and the exit
/// status go straight to the demo.
#[cfg(unix)]
fn exec(mut command: Command) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    eprintln!("xtask: cannot run {:?}: {error}", command.get_program());
    ExitCode::from(1)
}

#[cfg(not(unix))]
fn exec(mut command: Command) -> ExitCode {
    match command.status() {
        Ok(status) => ExitCode::from(u8::try_from(status.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("xtask: cannot run {:?}: {e}", command.get_program());
            ExitCode::from(1)
        }
    }
}
