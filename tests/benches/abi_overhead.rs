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
//! Run: `cargo bench -p pathways-testkit --bench abi_overhead`. Results: docs/BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use pathways_core::{NeedCode, Partner};
use pathways_host::PluginLibrary;
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
    let q = availability_query(&[NeedCode::SocialIsolation], "E09000020");
    let mut group = c.benchmark_group("check_availability/hello-partner (no network)");
    group.bench_function("compiled-in", |b| {
        b.to_async(&rt).iter(|| compiled.check_availability(&q))
    });
    group.bench_function("dynamic library", |b| {
        b.to_async(&rt).iter(|| loaded.check_availability(&q))
    });
    group.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
