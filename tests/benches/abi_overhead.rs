//! What crossing the plugin boundary costs: one `check_availability` through the loaded
//! library (`DylibPartner`: JSON encode, hop to the plugin's runtime, JSON decode, completion
//! callback) against the same connector compiled in.
//!
//! - `hello-partner` answers from memory, so its two figures differ by the boundary alone (the
//!   "canned transport": no network at all).
//! - `foodbank_boundary` (its own bench binary) does the same with the food bank connector
//!   against the sandbox on loopback. Two binaries, because each plugin crate exports the same
//!   entry symbol and a binary can link only one of them as a library.
//!
//! - `process-isolated` makes the same call to the library loaded in a plugin host child
//!   (`ProcessPartner`, `isolation = "process"`): its difference from `dynamic library` is what
//!   process isolation adds per call (two pipe hops and their thread wake-ups). This binary is
//!   its own plugin host: run with `plugin-host`, it serves the plugin as `pathways
//!   plugin-host` does.
//!
//! Run: `cargo bench -p pathways-testkit --bench abi_overhead`. Results: docs/BENCHMARKS.md.

use criterion::{criterion_group, Criterion};
use pathways_core::{NeedCode, Partner};
use pathways_host::{HostOptions, PluginLibrary, ProcessPartner};
use pathways_sdk::PartnerPlugin;
use pathways_testkit::{availability_query, plugin_library};
use serde_json::json;

fn boundary(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let hello_settings = json!({"service_name": "Tea and Talk"});
    let compiled = hello_partner::HelloPartner::from_settings(
        serde_json::from_value(hello_settings.clone()).expect("settings"),
    )
    .expect("compiled-in hello-partner");
    let loaded = PluginLibrary::open(&plugin_library("hello_partner"))
        .expect("hello-partner library")
        .instantiate("hello", &hello_settings)
        .expect("loaded hello-partner");
    let program =
        HostOptions::new(std::env::current_exe().expect("the bench binary knows its path"));
    let isolated =
        ProcessPartner::start(&program, &plugin_library("hello_partner"), "hello", &hello_settings)
            .expect("process-isolated hello-partner");
    let q = availability_query(&[NeedCode::SocialIsolation], "E09000020");
    let mut group = c.benchmark_group("check_availability/hello-partner (no network)");
    group.bench_function("compiled-in", |b| {
        b.to_async(&rt).iter(|| compiled.check_availability(&q))
    });
    group.bench_function("dynamic library", |b| {
        b.to_async(&rt).iter(|| loaded.check_availability(&q))
    });
    group.bench_function("process-isolated", |b| {
        b.to_async(&rt).iter(|| isolated.check_availability(&q))
    });
    group.finish();
}

criterion_group!(benches, boundary);

fn main() {
    // The process-isolated partner's child: this binary again, as its plugin host.
    if std::env::args().nth(1).as_deref() == Some(pathways_host::process::PLUGIN_HOST_SUBCOMMAND) {
        std::process::exit(match pathways_host::run_plugin_host() {
            code if code == std::process::ExitCode::SUCCESS => 0,
            _ => 1,
        });
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
