//! One fresh, private database per test: a SQLite file in a temporary folder, or a
//! PostgreSQL schema of its own (so tests run in parallel and runs never collide).
//!
//! PostgreSQL tests need `PATHWAYS_TEST_POSTGRES_URL` (`.ci/run` sets it when a server
//! answers on loopback). Without it each one says so on stderr, written directly so the test
//! harness cannot swallow it, and passes without running.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use pathways_store::{CaseId, DataKeys, Store};
use tokio_postgres::NoTls;

/// The variable that enables the PostgreSQL half of the suite.
const PG_ENV: &str = "PATHWAYS_TEST_POSTGRES_URL";

/// A store under test and the means to reach its database behind its back.
pub struct Fixture {
    /// The store, as the daemon would hold it.
    pub store: Arc<dyn Store>,
    /// The URL it was opened with (to open a second instance, like a second daemon).
    pub url: String,
    /// The data keys it was opened with.
    pub keys: DataKeys,
    backend: Backend,
}

enum Backend {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres { admin_url: String, schema: String },
}

/// A store on a new SQLite file, in a folder that does not exist yet.
pub async fn sqlite(_test: &str) -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("data").join("pathways.db");
    let url = format!("sqlite://{}", path.display());
    let keys = DataKeys::ephemeral();
    let store = pathways_store::open(&url, keys.clone()).await.expect("open the SQLite store");
    Some(Fixture { store, url, keys, backend: Backend::Sqlite { _dir: dir, path } })
}

/// A store in a new PostgreSQL schema, or `None` (said loudly) without a server configured.
pub async fn postgres(test: &str) -> Option<Fixture> {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        let line = format!("SKIPPED: PostgreSQL store test `{test}` (set {PG_ENV})\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    };
    let client = connect(&admin_url).await;
    drop_stale_schemas(&client).await;
    let now = chrono::Utc::now().timestamp();
    let schema = format!("pathways_test_{now}_{}", &CaseId::random().as_str()[..12]);
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("create a test schema");
    let url = with_search_path(&admin_url, &schema);
    let keys = DataKeys::ephemeral();
    let store = pathways_store::open(&url, keys.clone()).await.expect("open the PostgreSQL store");
    Some(Fixture { store, url, keys, backend: Backend::Postgres { admin_url, schema } })
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL cannot be reached: {e}"));
    tokio::spawn(connection);
    client
}

/// The same URL with the schema first on the search path, so the store's unqualified
/// tables land in it.
fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// Removes schemas left behind by test runs that panicked more than an hour ago.
async fn drop_stale_schemas(client: &tokio_postgres::Client) {
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    let Ok(rows) = client
        .query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pathways\\_test\\_%'", &[])
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let stamp = name.split('_').nth(2).and_then(|s| s.parse::<i64>().ok());
        if stamp.is_some_and(|t| t < cutoff) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        }
    }
}

impl Fixture {
    /// Opens a second store on the same database, as a second daemon (or a restart) would.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        pathways_store::open(&self.url, self.keys.clone()).await.expect("open the store again")
    }

    /// Opens a second store on the same database with other data keys.
    pub async fn reopen_with(&self, keys: DataKeys) -> Result<Arc<dyn Store>, String> {
        pathways_store::open(&self.url, keys).await.map_err(|e| e.to_string())
    }

    /// Runs one SQL statement directly, bypassing the store; the error text on failure.
    pub async fn raw_execute(&self, sql: &str) -> Result<u64, String> {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                conn.execute(sql, []).map(|n| n as u64).map_err(|e| e.to_string())
            }
            Backend::Postgres { .. } => {
                let client = connect(&self.url).await;
                client.execute(sql, &[]).await.map_err(|e| {
                    e.as_db_error().map_or_else(|| e.to_string(), |db| db.message().to_string())
                })
            }
        }
    }

    /// Counts the rows of a table directly.
    pub async fn raw_count(&self, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open the file");
                conn.query_row(&sql, [], |r| r.get(0)).expect("count rows")
            }
            Backend::Postgres { .. } => {
                connect(&self.url).await.query_one(&sql, &[]).await.expect("count rows").get(0)
            }
        }
    }

    /// Drops the test's schema (PostgreSQL); the SQLite folder goes with the fixture.
    pub async fn teardown(self) {
        if let Backend::Postgres { admin_url, schema } = &self.backend {
            drop(self.store);
            let client = connect(admin_url).await;
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
        }
    }
}
