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
/// The schema version this build migrates to: how many migrations `schema_migrations` holds.
pub const SCHEMA_VERSION: i64 = 8;

pub struct Fixture {
    /// The store, as the daemon would hold it.
    pub store: Arc<dyn Store>,
    /// The URL it was opened with (to open a second instance, like a second daemon).
    pub url: String,
    /// The data keys it was opened with.
    pub keys: DataKeys,
    /// The same key as text (`ID:BASE64`), to combine with others for a key rotation.
    pub key_entry: String,
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
    let (keys, key_entry) = new_keys();
    let store = pathways_store::open(&url, keys.clone()).await.expect("open the SQLite store");
    Some(Fixture { store, url, keys, key_entry, backend: Backend::Sqlite { _dir: dir, path } })
}

/// A fresh data key, and its text.
fn new_keys() -> (DataKeys, String) {
    let entry = DataKeys::generate_entry();
    (DataKeys::parse(&entry).expect("a generated key parses"), entry)
}

/// A store in a new PostgreSQL schema, or `None` (said loudly) without a server configured.
pub async fn postgres(test: &str) -> Option<Fixture> {
    let Ok(admin_url) = std::env::var(PG_ENV) else {
        let line = format!("SKIPPED: PostgreSQL store test `{test}` (set {PG_ENV})\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    };
    let (schema, url) = new_schema(&admin_url).await;
    let (keys, key_entry) = new_keys();
    let store = pathways_store::open(&url, keys.clone()).await.expect("open the PostgreSQL store");
    Some(Fixture { store, url, keys, key_entry, backend: Backend::Postgres { admin_url, schema } })
}

/// A new, empty schema of its own: its name, and the URL that puts it first on the path.
async fn new_schema(admin_url: &str) -> (String, String) {
    let client = connect(admin_url).await;
    drop_stale_schemas(&client).await;
    let now = chrono::Utc::now().timestamp();
    let schema = format!("pathways_test_{now}_{}", &CaseId::random().as_str()[..12]);
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("create a test schema");
    let url = with_search_path(admin_url, &schema);
    (schema, url)
}

/// The schemas as released, oldest first (name, SQLite, PostgreSQL), to build the databases
/// an older pathways left.
const RELEASED: [(&str, &str, &str); 7] = [
    (
        "initial",
        include_str!("../../src/sqlite/0001_initial.sql"),
        include_str!("../../src/postgres/0001_initial.sql"),
    ),
    (
        "data_safety",
        include_str!("../../src/sqlite/0002_data_safety.sql"),
        include_str!("../../src/postgres/0002_data_safety.sql"),
    ),
    (
        "console",
        include_str!("../../src/sqlite/0003_console.sql"),
        include_str!("../../src/postgres/0003_console.sql"),
    ),
    (
        "unmet",
        include_str!("../../src/sqlite/0004_unmet.sql"),
        include_str!("../../src/postgres/0004_unmet.sql"),
    ),
    (
        "cancel",
        include_str!("../../src/sqlite/0005_cancel.sql"),
        include_str!("../../src/postgres/0005_cancel.sql"),
    ),
    (
        "outcomes",
        include_str!("../../src/sqlite/0006_outcomes.sql"),
        include_str!("../../src/postgres/0006_outcomes.sql"),
    ),
    (
        "inbox",
        include_str!("../../src/sqlite/0007_inbox.sql"),
        include_str!("../../src/postgres/0007_inbox.sql"),
    ),
];

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

    /// Whether this is the SQLite backend (for the few checks that read its files).
    pub fn is_sqlite(&self) -> bool {
        matches!(self.backend, Backend::Sqlite { .. })
    }

    /// The first column of every row `sql` returns, as text (PostgreSQL: cast it to TEXT in
    /// the query).
    pub async fn raw_text(&self, sql: &str) -> Vec<Option<String>> {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open the file");
                let mut statement = conn.prepare(sql).expect("a valid query");
                let rows = statement.query_map([], |r| r.get(0)).expect("run the query");
                rows.collect::<Result<_, _>>().expect("text values")
            }
            Backend::Postgres { .. } => {
                let rows = connect(&self.url).await.query(sql, &[]).await.expect("run the query");
                rows.iter().map(|r| r.get(0)).collect()
            }
        }
    }

    /// Every row of every table, read directly, each as one line of text: what someone
    /// holding the database (a backup, a replica, a stolen disk) could read.
    pub async fn raw_rows(&self) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                use rusqlite::types::ValueRef;
                let conn = rusqlite::Connection::open(path).expect("open the file");
                let tables: Vec<String> = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
                    .expect("list the tables");
                assert!(tables.len() >= 8, "tables: {tables:?}");
                for table in tables {
                    let mut statement =
                        conn.prepare(&format!("SELECT * FROM {table}")).expect("select");
                    let width = statement.column_count();
                    let mut query = statement.query([]).expect("read the table");
                    while let Some(row) = query.next().expect("a row") {
                        let cells: Vec<String> = (0..width)
                            .map(|i| match row.get_ref(i).expect("a cell") {
                                ValueRef::Null => "NULL".to_string(),
                                ValueRef::Integer(n) => n.to_string(),
                                ValueRef::Real(x) => x.to_string(),
                                ValueRef::Text(t) | ValueRef::Blob(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                            })
                            .collect();
                        rows.push((table.clone(), cells.join("|")));
                    }
                }
            }
            Backend::Postgres { .. } => {
                let client = connect(&self.url).await;
                let tables: Vec<String> = client
                    .query(
                        "SELECT table_name::TEXT FROM information_schema.tables
                         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                        &[],
                    )
                    .await
                    .expect("list the tables")
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                assert!(tables.len() >= 8, "tables: {tables:?}");
                for table in tables {
                    let sql = format!("SELECT t::TEXT FROM {table} t");
                    for row in client.query(&sql, &[]).await.expect("read the table") {
                        rows.push((table.clone(), row.get(0)));
                    }
                }
            }
        }
        rows
    }

    /// The SQLite database file and its write-ahead log, byte for byte (`None` on
    /// PostgreSQL, whose files are the server's).
    pub fn raw_files(&self) -> Option<Vec<(PathBuf, Vec<u8>)>> {
        let Backend::Sqlite { path, .. } = &self.backend else { return None };
        let files = ["", "-wal"]
            .iter()
            .map(|suffix| PathBuf::from(format!("{}{suffix}", path.display())))
            .filter(|file| file.exists())
            .map(|file| {
                let bytes = std::fs::read(&file).expect("read a database file");
                (file, bytes)
            })
            .collect();
        Some(files)
    }

    /// A new database of the same backend at schema version 1, as a pathways from before
    /// sealing left it (plain JSON, no steps), holding what the backend's script inserts;
    /// then opened by this build (so migrated, and sealed) with this fixture's keys.
    pub async fn version_1(&self, sqlite_script: &str, postgres_script: &str) -> Fixture {
        self.at_version(1, sqlite_script, postgres_script).await
    }

    /// A new database of the same backend at schema version 2, as a pathways from before the
    /// console left it (values sealed, no case-list columns), holding what the backend's
    /// script inserts; then opened by this build (so migrated) with this fixture's keys.
    pub async fn version_2(&self, sqlite_script: &str, postgres_script: &str) -> Fixture {
        self.at_version(2, sqlite_script, postgres_script).await
    }

    /// A new database of the same backend at schema version 3, as a pathways from before the
    /// statistics of unmet needs left it (no area, no `plan_unmet`), holding what the
    /// backend's script inserts; then opened by this build (so migrated) with this fixture's
    /// keys.
    pub async fn version_3(&self, sqlite_script: &str, postgres_script: &str) -> Fixture {
        self.at_version(3, sqlite_script, postgres_script).await
    }

    /// As [`Fixture::version_1`], at schema version 7 (before blocked needs and reasons were
    /// kept for the unmet needs report).
    pub async fn version_7(&self, sqlite_script: &str, postgres_script: &str) -> Fixture {
        self.at_version(7, sqlite_script, postgres_script).await
    }

    async fn at_version(
        &self,
        version: usize,
        sqlite_script: &str,
        postgres_script: &str,
    ) -> Fixture {
        let released = &RELEASED[..version];
        let (keys, key_entry) = (self.keys.clone(), self.key_entry.clone());
        match &self.backend {
            Backend::Sqlite { .. } => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let path = dir.path().join("pathways.db");
                let conn = rusqlite::Connection::open(&path).expect("create the file");
                conn.execute_batch(
                    "CREATE TABLE schema_migrations (
                         version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                         applied_at INTEGER NOT NULL);",
                )
                .expect("the migrations table");
                for (number, (name, sql, _)) in (1..).zip(released) {
                    conn.execute_batch(sql).expect("a released schema");
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (?1, ?2, 0)",
                        rusqlite::params![number, name],
                    )
                    .expect("record its version");
                }
                conn.execute_batch(sqlite_script).expect("the old version's rows");
                drop(conn);
                let url = format!("sqlite://{}", path.display());
                let store = pathways_store::open(&url, self.keys.clone())
                    .await
                    .expect("open an older SQLite database");
                let backend = Backend::Sqlite { _dir: dir, path };
                Fixture { store, url, keys, key_entry, backend }
            }
            Backend::Postgres { admin_url, .. } => {
                let (schema, url) = new_schema(admin_url).await;
                let client = connect(&url).await;
                client
                    .batch_execute(
                        "CREATE TABLE schema_migrations (
                             version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                             applied_at TIMESTAMPTZ NOT NULL);",
                    )
                    .await
                    .expect("the migrations table");
                for (number, (name, _, sql)) in (1_i64..).zip(released) {
                    client.batch_execute(sql).await.expect("a released schema");
                    client
                        .execute(
                            "INSERT INTO schema_migrations VALUES ($1, $2, now())",
                            &[&number, name],
                        )
                        .await
                        .expect("record its version");
                }
                client.batch_execute(postgres_script).await.expect("the old version's rows");
                let store = pathways_store::open(&url, self.keys.clone())
                    .await
                    .expect("open an older PostgreSQL database");
                let backend = Backend::Postgres { admin_url: admin_url.clone(), schema };
                Fixture { store, url, keys, key_entry, backend }
            }
        }
    }

    /// How the database would run `sql` (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's
    /// `EXPLAIN`, after `ANALYZE` so that it plans with the real row counts), one line per
    /// step.
    pub async fn explain(&self, sql: &str) -> String {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).expect("open the file");
                conn.execute_batch("ANALYZE").expect("analyze");
                let mut statement =
                    conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("a valid query");
                let lines = statement.query_map([], |r| r.get::<_, String>(3)).expect("explain");
                lines.collect::<Result<Vec<_>, _>>().expect("plan lines").join("\n")
            }
            Backend::Postgres { .. } => {
                let client = connect(&self.url).await;
                client.batch_execute("ANALYZE").await.expect("analyze");
                let rows = client.query(&format!("EXPLAIN {sql}"), &[]).await.expect("explain");
                rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n")
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
