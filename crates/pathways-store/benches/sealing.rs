//! What sealing personal data at rest costs per case write and read, in one run: the seal
//! (encode a case as JSON, encrypt it with XChaCha20-Poly1305, base64) and the open, beside
//! the whole durable `insert_case` and `get_case` they are part of, on SQLite (and on
//! PostgreSQL when `PATHWAYS_TEST_POSTGRES_URL` is set). A measurement script, not a test:
//! `cargo bench -p pathways-store --bench sealing`. Results: docs/BENCHMARKS.md.

use std::time::{Duration, Instant};

use pathways_core::Case;
use pathways_store::{CaseId, DataKeys};

const ROUNDS: usize = 2000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sample =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cases/debt-food-eviction.json");
    let case = pathways_core::parse_case(&std::fs::read(sample).expect("sample case"))
        .expect("sample case parses");
    let keys = DataKeys::ephemeral();
    let json = serde_json::to_vec(&case).expect("encodes");
    println!("case JSON {} bytes; sealed {} bytes", json.len(), keys.seal(&json, "case:x").len());

    let seal = time(ROUNDS, |_| {
        let json = serde_json::to_vec(&case).expect("encodes");
        std::hint::black_box(keys.seal(&json, "case:x"));
    });
    let sealed = keys.seal(&json, "case:x");
    let open = time(ROUNDS, |_| {
        let plain = keys.open(&sealed, "case:x").expect("opens");
        std::hint::black_box(serde_json::from_slice::<Case>(&plain).expect("decodes"));
    });
    // What an unsealed store did anyway: the JSON alone, so the difference is the crypto.
    let encode = time(ROUNDS, |_| {
        std::hint::black_box(serde_json::to_vec(&case).expect("encodes"));
    });
    let decode = time(ROUNDS, |_| {
        std::hint::black_box(serde_json::from_slice::<Case>(&json).expect("decodes"));
    });
    report("JSON encode alone", &encode);
    report("seal (JSON + encrypt + base64)", &seal);
    report("JSON decode alone", &decode);
    report("open (base64 + decrypt + JSON)", &open);

    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    runtime.block_on(store_round("SQLite", &url, &keys, &case, &seal, &open));
    if let Ok(pg) = std::env::var("PATHWAYS_TEST_POSTGRES_URL") {
        let schema = format!("pathways_bench_{}", std::process::id());
        let admin = runtime.block_on(async {
            let (client, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
            client
        });
        let sep = if pg.contains('?') { '&' } else { '?' };
        let url = format!("{pg}{sep}options=-c%20search_path%3D{schema}");
        runtime.block_on(store_round("PostgreSQL", &url, &keys, &case, &seal, &open));
        runtime.block_on(async {
            admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
        });
    }
}

async fn store_round(
    backend: &str,
    url: &str,
    keys: &DataKeys,
    case: &Case,
    seal: &[Duration],
    open: &[Duration],
) {
    let store = pathways_store::open(url, keys.clone()).await.expect("store opens");
    let mut ids: Vec<CaseId> = Vec::with_capacity(ROUNDS);
    let mut writes = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        ids.push(store.insert_case("bench-org", case).await.expect("insert"));
        writes.push(started.elapsed());
    }
    let mut reads = Vec::with_capacity(ROUNDS);
    for id in &ids {
        let started = Instant::now();
        std::hint::black_box(store.get_case(id).await.expect("read").expect("there"));
        reads.push(started.elapsed());
    }
    writes.sort();
    reads.sort();
    report(&format!("{backend} insert_case (durable)"), &writes);
    report(&format!("{backend} get_case"), &reads);
    println!(
        "BENCH {backend}: sealing is {:.1}% of a case write and {:.1}% of a case read (medians)",
        100.0 * median(seal).as_secs_f64() / median(&writes).as_secs_f64(),
        100.0 * median(open).as_secs_f64() / median(&reads).as_secs_f64(),
    );
}

/// Runs `f` `rounds` times after a warm-up; the sorted durations.
fn time(rounds: usize, mut f: impl FnMut(usize)) -> Vec<Duration> {
    for i in 0..rounds / 10 {
        f(i);
    }
    let mut all: Vec<Duration> = (0..rounds)
        .map(|i| {
            let started = Instant::now();
            f(i);
            started.elapsed()
        })
        .collect();
    all.sort();
    all
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

fn report(what: &str, sorted: &[Duration]) {
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    println!("{what:<34} median {:>9.1} µs   p99 {:>9.1} µs", micros(median(sorted)), micros(p99));
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
