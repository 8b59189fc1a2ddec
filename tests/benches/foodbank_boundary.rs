//! The plugin boundary beside a real partner round trip: the food bank connector's
//! `check_availability` through the loaded library against the same connector compiled in,
//! both talking to the sandbox on loopback (one directory search and one voucher-desk call per
//! nearby food bank). See `abi_overhead` for the boundary alone.
//!
//! Run: `cargo bench -p pathways-testkit --bench foodbank_boundary`. Results: docs/BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use pathways_core::{NeedCode, Partner};
use pathways_host::PluginLibrary;
use pathways_sandbox::{Sandbox, SandboxConfig};
use pathways_sdk::PartnerPlugin;
use pathways_testkit::{availability_query, plugin_library};
use serde_json::json;

fn boundary(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = rt.block_on(Sandbox::start(SandboxConfig::default())).expect("sandbox");
    let settings = json!({"base_url": sandbox.foodbank_url()});
    let compiled = {
        let _entered = rt.enter();
        pathways_plugin_foodbank::FoodbankPartner::from_settings(
            serde_json::from_value(settings.clone()).expect("settings"),
        )
        .expect("compiled-in foodbank")
    };
    let loaded = PluginLibrary::open(&plugin_library("pathways_plugin_foodbank"))
        .expect("foodbank library")
        .instantiate("foodbank", &settings)
        .expect("loaded foodbank");
    let q = availability_query(&[NeedCode::Food], "E09000020");
    let mut group = c.benchmark_group("check_availability/foodbank (sandbox on loopback)");
    group.bench_function("compiled-in", |b| {
        b.to_async(&rt).iter(|| compiled.check_availability(&q))
    });
    group.bench_function("dynamic library", |b| {
        b.to_async(&rt).iter(|| loaded.check_availability(&q))
    });
    group.finish();
    rt.block_on(sandbox.shutdown());
}

criterion_group!(benches, boundary);
criterion_main!(benches);
