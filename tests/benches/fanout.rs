//! The fan-out under load: real food bank plugins (the cdylib, through `pathways-host`) against
//! sandbox food banks on loopback, each a separate simulator with its own fault knobs, run in a
//! child process (this binary again) unless `FANOUT_SIMULATORS=in-process`. A load
//! script rather than a criterion bench: each figure is a ratio of two measurements made in the
//! same run, which is what a shared, noisy 2-core machine can report honestly.
//!
//! 1. Plan latency ÷ the slowest partner's latency, with 4 and 16 partners at a fixed delay
//!    (jitter 0). Every partner is equally slow, so one partner at a time is timed alone, in
//!    turn, interleaved with the plans so both see the same machine load. (A food bank call is
//!    two HTTP round trips: the directory search, then the voucher desks at once.)
//! 2. Fan-out against asking the same partners one after another.
//! 3. One partner hung: every plan returns, and plan p99 ÷ the plan deadline.
//! 4. Plans per second with 1, 4 and 16 instant partners (closed loop), and the CPU time per
//!    partner call (from proc(5) `stat`) of this process and, apart, of the simulator child.
//! 5. Healthy partners' throughput with one slow partner ÷ the same without it (open loop at
//!    80% of the measured capacity).
//! 6. Process isolation (`isolation-16x50`): 16 partners at 50 ms, each loaded twice over the
//!    same simulators, in process and in a plugin host child (`ProcessPartner`; this binary is
//!    its own plugin host), plans interleaved: plan latency in a child ÷ in process.
//!
//! Run: `cargo xtask bench` (or `cargo bench -p pathways-testkit --bench fanout`); set
//! `FANOUT_QUICK=1` for a short smoke run. Arguments pick scenarios by name prefix
//! (`latency-4x50`, `latency-16x50`, `latency-16x150`, `hung`, `throughput-1`, `throughput-4`,
//! `throughput-16`, `slow`); `FANOUT_RUNS=n` sets the number of plans per latency scenario and
//! `FANOUT_PLUGIN=<path>` loads another build of the food bank plugin (to compare two SDKs in
//! one session). Results: docs/BENCHMARKS.md.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pathways_core::{AvailabilityQuery, Case, Partner, PartnerOutcome};
use pathways_host::{DylibPartner, HostOptions, PluginLibrary, ProcessPartner};
use pathways_orchestrator::{
    BreakerPolicy, ConfiguredPartner, Orchestrator, OrchestratorSettings, PlanRules,
};
use pathways_sandbox::{Faults, Sandbox, SandboxConfig};
use pathways_testkit::{load_case, plugin_library, workspace_root};
use serde_json::json;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a valid date")
}

/// Where the sandbox food banks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SimulatorsIn {
    /// A child process (this benchmark binary again): the simulators' server-side CPU is not
    /// charged to this process, and their request handling does not queue on the host runtime
    /// behind the orchestrator's work (and the other way round). The default.
    ChildProcess,
    /// This process, on the host runtime, as the figures before 2026-11-23 were measured
    /// (`FANOUT_SIMULATORS=in-process`).
    InProcess,
}

/// The environment variable that turns this binary into the simulator child: it holds the
/// faults of each food bank to start, as JSON.
const CHILD_ENV: &str = "FANOUT_SIMULATOR_CHILD";

/// The simulator child: starts one sandbox per entry of `faults_json`, prints each food bank's
/// URL on a line, then serves until its standard input closes.
fn simulator_child(faults_json: &str) {
    use std::io::{BufRead, Write};
    let faults: Vec<Faults> = serde_json::from_str(faults_json).expect("faults JSON");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sandboxes = runtime.block_on(async {
        let mut sandboxes = Vec::new();
        for f in faults {
            let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
            sandbox.set_foodbank_faults(f);
            sandboxes.push(sandbox);
        }
        sandboxes
    });
    let mut out = std::io::stdout().lock();
    for sandbox in &sandboxes {
        writeln!(out, "{}", sandbox.foodbank_url()).expect("stdout");
    }
    out.flush().expect("stdout");
    drop(out);
    // Serve until the parent closes our standard input (or dies).
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
    }
    runtime.block_on(async {
        for sandbox in sandboxes {
            sandbox.shutdown().await;
        }
    });
}

/// The running simulators of one scenario.
enum Simulators {
    InProcess(Vec<Sandbox>),
    Child(std::process::Child),
}

impl Simulators {
    /// Starts one food bank per entry of `faults`; returns them with their base URLs.
    async fn start(place: SimulatorsIn, faults: &[Faults]) -> (Simulators, Vec<String>) {
        match place {
            SimulatorsIn::InProcess => {
                let mut sandboxes = Vec::new();
                for f in faults {
                    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
                    sandbox.set_foodbank_faults(f.clone());
                    sandboxes.push(sandbox);
                }
                let urls = sandboxes.iter().map(Sandbox::foodbank_url).collect();
                (Simulators::InProcess(sandboxes), urls)
            }
            SimulatorsIn::ChildProcess => {
                use std::io::BufRead;
                use std::process::{Command, Stdio};
                let mut child = Command::new(std::env::current_exe().expect("own path"))
                    .env(CHILD_ENV, serde_json::to_string(faults).expect("faults encode"))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("the simulator child starts");
                let stdout = child.stdout.take().expect("piped stdout");
                let n = faults.len();
                let urls = tokio::task::spawn_blocking(move || {
                    let lines = std::io::BufReader::new(stdout).lines();
                    lines.take(n).collect::<Result<Vec<String>, _>>().expect("child's URLs")
                })
                .await
                .expect("reader");
                assert_eq!(urls.len(), n, "the simulator child started every food bank");
                (Simulators::Child(child), urls)
            }
        }
    }

    /// CPU time (user + system) used by simulators running in a child process so far.
    fn child_cpu_time(&self) -> Option<Duration> {
        match self {
            Simulators::Child(child) => Some(cpu_time_of(&format!("/proc/{}/stat", child.id()))),
            Simulators::InProcess(_) => None,
        }
    }

    async fn stop(self) {
        match self {
            Simulators::InProcess(sandboxes) => {
                for sandbox in sandboxes {
                    sandbox.shutdown().await;
                }
            }
            Simulators::Child(mut child) => {
                drop(child.stdin.take()); // the child serves until its stdin closes
                tokio::task::spawn_blocking(move || child.wait())
                    .await
                    .expect("waiter")
                    .expect("the simulator child exits");
            }
        }
    }
}

/// Sandbox food banks, each behind its own loaded plugin instance.
struct Area {
    simulators: Simulators,
    /// Each food bank's URL, in the order of `partners`.
    urls: Vec<String>,
    partners: Vec<Arc<DylibPartner>>,
}

impl Area {
    async fn start(library: &PluginLibrary, faults: &[Faults]) -> Area {
        let (simulators, urls) = Simulators::start(simulators_in(), faults).await;
        let mut partners = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            let settings = json!({"base_url": url, "timeout_ms": 30_000});
            let partner =
                library.instantiate(&format!("foodbank-{i:02}"), &settings).expect("plugin loads");
            partners.push(Arc::new(partner));
        }
        Area { simulators, urls, partners }
    }

    fn orchestrator(&self, settings: OrchestratorSettings) -> Orchestrator {
        let configured = self
            .partners
            .iter()
            .map(|p| ConfiguredPartner {
                id: p.partner_id().to_string(),
                name: p.partner_id().to_string(),
                areas: Vec::new(),
                partner: p.clone() as Arc<dyn Partner>,
                domestic_abuse_service: false,
            })
            .collect();
        Orchestrator::new(configured, settings, PlanRules::default())
    }

    async fn stop(self) {
        drop(self.partners);
        self.simulators.stop().await;
    }
}

fn simulators_in() -> SimulatorsIn {
    match std::env::var("FANOUT_SIMULATORS").as_deref() {
        Ok("in-process") => SimulatorsIn::InProcess,
        _ => SimulatorsIn::ChildProcess,
    }
}

fn settings(deadline: Duration, concurrency: usize, breaker_failures: u32) -> OrchestratorSettings {
    OrchestratorSettings {
        plan_deadline: deadline,
        partner_timeout: Duration::from_secs(20),
        partner_concurrency: concurrency,
        breaker: BreakerPolicy { failures: breaker_failures, cooldown: Duration::from_secs(30) },
    }
}

fn delayed(ms: u64) -> Faults {
    Faults { latency_ms: ms, jitter_ms: 0, ..Faults::none() }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    cpu_time_of("/proc/self/stat")
}

/// User plus system CPU time of the process whose proc(5) `stat` file is `stat_path`.
fn cpu_time_of(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let (utime, stime) = (ticks(11), ticks(12)); // fields 14 and 15 of proc(5)
    Duration::from_secs_f64((utime + stime) as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

struct Report {
    rows: Vec<String>,
}

impl Report {
    fn row(&mut self, row: String) {
        println!("{row}");
        self.rows.push(row);
    }
}

async fn latency_ratio(
    library: &PluginLibrary,
    case: &Case,
    n: usize,
    delay: u64,
    runs: usize,
    report: &mut Report,
) {
    let area = Area::start(library, &vec![delayed(delay); n]).await;
    let query = AvailabilityQuery::for_case(case, &[pathways_core::NeedCode::Food], today());
    // Every partner has the same fixed delay, so the slowest partner's latency is any
    // partner's: one partner is timed alone (round robin), interleaved with the plans so both
    // see the same machine load.
    for partner in &area.partners {
        let _ = partner.check_availability(&query).await; // connection warm-up
    }
    let orchestrator = area.orchestrator(settings(Duration::from_secs(10), 64, 5));
    let _ = orchestrator.plan(case, today()).await;
    let (mut alone, mut plans) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let partner = &area.partners[i % n];
        let started = Instant::now();
        partner.check_availability(&query).await.expect("healthy partner answers");
        alone.push(started.elapsed());
        let started = Instant::now();
        let plan = orchestrator.plan(case, today()).await;
        plans.push(started.elapsed());
        assert!(plan.partners.iter().all(|p| p.outcome == PartnerOutcome::Answered), "{plan:?}");
    }
    let (slowest_p50, slowest_p99) = (percentile(&mut alone, 50.0), percentile(&mut alone, 99.0));
    // The same partners asked one after another.
    let mut one_by_one = Vec::new();
    for _ in 0..(runs / 20).max(3) {
        let started = Instant::now();
        for partner in &area.partners {
            partner.check_availability(&query).await.expect("answers");
        }
        one_by_one.push(started.elapsed());
    }
    let (p50, p99) = (percentile(&mut plans, 50.0), percentile(&mut plans, 99.0));
    let sequential = percentile(&mut one_by_one, 50.0);
    report.row(format!(
        "| {n} partners, {delay} ms delay each | one partner alone p50 {:.1} ms, p99 {:.1} ms | plan p50 {:.1} ms, p99 {:.1} ms | **p50 ratio {:.3}**, **p99 ratio {:.3}** | one after another p50 {:.0} ms: fan-out is **{:.1}× faster** |",
        ms(slowest_p50), ms(slowest_p99), ms(p50), ms(p99),
        p50.as_secs_f64() / slowest_p50.as_secs_f64(),
        p99.as_secs_f64() / slowest_p99.as_secs_f64(),
        ms(sequential), sequential.as_secs_f64() / p50.as_secs_f64(),
    ));
    drop(orchestrator);
    area.stop().await;
}

/// Plan latency with every partner's plugin in a child of its own ÷ the same partners in
/// process, over the same simulators, plans interleaved.
async fn isolation_ratio(library: &PluginLibrary, case: &Case, runs: usize, report: &mut Report) {
    let (n, delay) = (16, 50);
    let area = Area::start(library, &vec![delayed(delay); n]).await;
    let program =
        HostOptions::new(std::env::current_exe().expect("the bench binary knows its path"));
    let mut isolated: Vec<Arc<dyn Partner>> = Vec::new();
    for (i, url) in area.urls.iter().enumerate() {
        let settings = json!({"base_url": url, "timeout_ms": 30_000});
        let partner =
            ProcessPartner::start(&program, library.path(), &format!("foodbank-{i:02}"), &settings)
                .expect("plugin host starts");
        isolated.push(Arc::new(partner));
    }
    let in_process = area.orchestrator(settings(Duration::from_secs(10), 64, 5));
    let configured = isolated
        .iter()
        .enumerate()
        .map(|(i, p)| ConfiguredPartner {
            id: format!("foodbank-{i:02}"),
            name: format!("foodbank-{i:02}"),
            areas: Vec::new(),
            partner: p.clone(),
            domestic_abuse_service: false,
        })
        .collect();
    let in_children = Orchestrator::new(
        configured,
        settings(Duration::from_secs(10), 64, 5),
        PlanRules::default(),
    );
    // Warm-up: connections in both sets of plugin instances.
    let _ = in_process.plan(case, today()).await;
    let _ = in_children.plan(case, today()).await;
    let (mut near, mut far) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        for (orchestrator, samples) in [(&in_process, &mut near), (&in_children, &mut far)] {
            let started = Instant::now();
            let plan = orchestrator.plan(case, today()).await;
            samples.push(started.elapsed());
            assert!(
                plan.partners.iter().all(|p| p.outcome == PartnerOutcome::Answered),
                "{plan:?}"
            );
        }
    }
    let (near50, near99) = (percentile(&mut near, 50.0), percentile(&mut near, 99.0));
    let (far50, far99) = (percentile(&mut far, 50.0), percentile(&mut far, 99.0));
    report.row(format!(
        "| {n} partners, {delay} ms delay each, plugins in process vs each in a plugin host child | in process p50 {:.1} ms, p99 {:.1} ms | in children p50 {:.1} ms, p99 {:.1} ms | **p50 ratio {:.3}**, **p99 ratio {:.3}** | {runs} plans each, interleaved |",
        ms(near50), ms(near99), ms(far50), ms(far99),
        far50.as_secs_f64() / near50.as_secs_f64(),
        far99.as_secs_f64() / near99.as_secs_f64(),
    ));
    drop((in_process, in_children, isolated));
    area.stop().await;
}

async fn hung_partner(library: &PluginLibrary, case: &Case, runs: usize, report: &mut Report) {
    let mut faults = vec![delayed(20); 3];
    faults.push(Faults { hang_rate: 1.0, ..Faults::none() });
    let area = Area::start(library, &faults).await;
    let deadline = Duration::from_millis(300);
    for (label, breaker_failures) in [("breaker off", 0), ("breaker on (5 failures)", 5)] {
        let orchestrator = area.orchestrator(settings(deadline, 64, breaker_failures));
        let mut plans = Vec::new();
        let mut returned = 0;
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        for _ in 0..runs {
            let started = Instant::now();
            let plan = orchestrator.plan(case, today()).await;
            plans.push(started.elapsed());
            returned += 1;
            let hung = plan.partners.iter().find(|p| p.partner_id == "foodbank-03").expect("asked");
            *outcomes.entry(format!("{:?}", hung.outcome)).or_default() += 1;
            let healthy = plan.partners.iter().filter(|p| p.partner_id != "foodbank-03");
            assert!(
                healthy.clone().all(|p| p.outcome == PartnerOutcome::Answered),
                "the healthy food banks still answer: {:?}",
                healthy.collect::<Vec<_>>()
            );
        }
        let (p50, p99) = (percentile(&mut plans, 50.0), percentile(&mut plans, 99.0));
        report.row(format!(
            "| 4 partners, 1 hung, deadline {} ms, {label} | {returned} of {runs} plans returned; hung partner: {outcomes:?} | plan p50 {:.1} ms, p99 {:.1} ms | **p99 ÷ deadline {:.3}** | |",
            deadline.as_millis(), ms(p50), ms(p99), p99.as_secs_f64() / deadline.as_secs_f64(),
        ));
        // Let the cancelled calls' completions arrive before the next orchestrator starts.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    area.stop().await;
}

/// Plans per second with `n` instant partners, `workers` plans in flight at once.
async fn throughput(
    library: &PluginLibrary,
    case: &Case,
    n: usize,
    window: Duration,
    report: &mut Report,
) -> f64 {
    let area = Area::start(library, &vec![Faults::none(); n]).await;
    let orchestrator = Arc::new(area.orchestrator(settings(Duration::from_secs(10), 256, 5)));
    let _ = orchestrator.plan(case, today()).await;
    let workers = 8;
    let plans = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_time();
    let sim_cpu_before = area.simulators.child_cpu_time();
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (orchestrator, case, plans, answered) =
                (orchestrator.clone(), case.clone(), plans.clone(), answered.clone());
            tokio::spawn(async move {
                while started.elapsed() < window {
                    let plan = orchestrator.plan(&case, today()).await;
                    let ok = plan.partners.iter().filter(|p| p.outcome == PartnerOutcome::Answered);
                    answered.fetch_add(ok.count() as u64, Ordering::Relaxed);
                    plans.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("worker");
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    let sim_cpu =
        area.simulators.child_cpu_time().zip(sim_cpu_before).map(|(a, b)| a.saturating_sub(b));
    let plans = plans.load(Ordering::Relaxed);
    let calls = answered.load(Ordering::Relaxed);
    let rate = plans as f64 / elapsed.as_secs_f64();
    let per_call = |cpu: Duration| cpu.as_secs_f64() * 1e6 / calls.max(1) as f64;
    let (whose, simulators) = match sim_cpu {
        Some(sim) => (
            "host and plugins",
            format!(
                "; simulators (child process) {:.2} s, {:.0} µs per call",
                sim.as_secs_f64(),
                per_call(sim)
            ),
        ),
        None => ("host, plugins and simulators", String::new()),
    };
    report.row(format!(
        "| {n} instant partner(s), {workers} plans in flight | {plans} plans in {:.1} s; {calls} partner calls answered of {} | **{rate:.0} plans/s** | CPU of {whose} {:.2} s: **{:.0} µs per partner call**{simulators} | |",
        elapsed.as_secs_f64(), plans * n as u64, cpu.as_secs_f64(), per_call(cpu),
    ));
    drop(orchestrator);
    area.stop().await;
    rate
}

/// Healthy partners' answered calls per second at `rate` plans per second (open loop), with the
/// fourth partner as given.
async fn healthy_throughput(
    library: &PluginLibrary,
    case: &Case,
    fourth: Faults,
    rate: f64,
    window: Duration,
) -> (f64, f64, Duration, String) {
    let mut faults = vec![Faults::none(); 3];
    faults.push(fourth);
    let area = Area::start(library, &faults).await;
    let orchestrator = Arc::new(area.orchestrator(settings(Duration::from_secs(2), 8, 5)));
    let _ = orchestrator.plan(case, today()).await;
    let healthy = &area.partners[..3];
    let before: u64 = healthy.iter().map(|p| p.call_stats().completions).sum();
    let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    while started.elapsed() < window {
        interval.tick().await;
        let (orchestrator, case, latencies) =
            (orchestrator.clone(), case.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let plan = orchestrator.plan(&case, today()).await;
            let fourth = plan.partners.iter().find(|p| p.partner_id == "foodbank-03");
            let outcome = fourth.map(|p| format!("{:?}", p.outcome)).unwrap_or_default();
            latencies.lock().unwrap().push((t.elapsed(), outcome));
        }));
    }
    let elapsed = started.elapsed();
    let after: u64 = healthy.iter().map(|p| p.call_stats().completions).sum();
    for task in tasks {
        task.await.expect("plan");
    }
    let done = std::mem::take(&mut *latencies.lock().unwrap());
    let issued = done.len() as f64 / elapsed.as_secs_f64();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for (_, outcome) in &done {
        *outcomes.entry(outcome.clone()).or_default() += 1;
    }
    let mut times: Vec<Duration> = done.into_iter().map(|(t, _)| t).collect();
    let p50 = percentile(&mut times, 50.0);
    drop(orchestrator);
    area.stop().await;
    let healthy_rate = (after - before) as f64 / elapsed.as_secs_f64();
    (healthy_rate, issued, p50, format!("{outcomes:?}"))
}

fn main() {
    // The process-isolated partners' children: this binary again, as their plugin host.
    if std::env::args().nth(1).as_deref() == Some(pathways_host::process::PLUGIN_HOST_SUBCOMMAND) {
        let code = pathways_host::run_plugin_host();
        std::process::exit(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 });
    }
    if let Ok(faults) = std::env::var(CHILD_ENV) {
        simulator_child(&faults);
        return;
    }
    let quick = std::env::var_os("FANOUT_QUICK").is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // FANOUT_PLUGIN=<path> loads another build of the food bank plugin (to compare SDKs).
    let plugin = std::env::var_os("FANOUT_PLUGIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| plugin_library("pathways_plugin_foodbank"));
    let library = PluginLibrary::open(&plugin).expect("library");
    let case = load_case(&workspace_root().join("examples/cases/single-need-food.json"));
    let (mut runs, window) =
        if quick { (20, Duration::from_secs(2)) } else { (100, Duration::from_secs(8)) };
    if let Some(n) = std::env::var("FANOUT_RUNS").ok().and_then(|n| n.parse().ok()) {
        runs = n;
    }
    // Scenario filters (e.g. `cargo xtask bench latency-16x50 throughput`): none runs all.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.starts_with(f.as_str()));
    let mut report = Report { rows: Vec::new() };
    runtime.block_on(async {
        println!("| scenario | baseline | plans | ratio | note |\n|---|---|---|---|---|");
        for (n, delay) in [(4, 50), (16, 50), (16, 150)] {
            if wanted(&format!("latency-{n}x{delay}")) {
                latency_ratio(&library, &case, n, delay, runs, &mut report).await;
            }
        }
        if wanted("isolation-16x50") {
            isolation_ratio(&library, &case, runs, &mut report).await;
        }
        if wanted("hung") {
            hung_partner(&library, &case, runs / 2, &mut report).await;
        }
        let mut capacity_4 = 0.0;
        for n in [1, 4, 16] {
            // The slow-partner scenario runs at 80% of the 4-partner capacity measured here.
            if !(wanted(&format!("throughput-{n}")) || (n == 4 && wanted("slow"))) {
                continue;
            }
            let rate = throughput(&library, &case, n, window, &mut report).await;
            if n == 4 {
                capacity_4 = rate;
            }
        }
        if !wanted("slow") {
            println!("\n{} rows", report.rows.len());
            return;
        }
        let rate = 0.8 * capacity_4;
        let (without, issued_a, p50_a, _) = healthy_throughput(&library, &case, Faults::none(), rate, window).await;
        let (with, issued_b, p50_b, fourth) = healthy_throughput(&library, &case, delayed(1000), rate, window).await;
        report.row(format!(
            "| 4 partners at {rate:.0} plans/s (80% of capacity), the 4th slow (1 s per HTTP answer, about 2 s per call: the plan deadline) | healthy calls {without:.0}/s without it ({issued_a:.0} plans/s issued, plan p50 {:.1} ms) | {with:.0}/s with it ({issued_b:.0} plans/s issued, plan p50 {:.0} ms) | **{:.3}** | slow partner: {fourth} |",
            ms(p50_a), ms(p50_b), with / without,
        ));
        println!("\n{} rows", report.rows.len());
    });
}
