//! Group commit: one thread owns the writer connection and commits the writes that queued
//! up while the previous commit was waiting for its `fsync`, in one transaction.
//!
//! With `synchronous = FULL` every commit is an `fsync` of the WAL, and that — not the work
//! — is what a durable write costs. Requests arrive concurrently, so instead of one commit
//! per write the writer takes every job waiting in its queue (up to `max_batch`), runs each
//! inside a `SAVEPOINT` of one `BEGIN IMMEDIATE` transaction, commits once, and only then
//! answers each caller. A caller is answered after its write is durable, exactly as with a
//! commit of its own:
//! - a job that fails is rolled back to its savepoint and answered with its error; the
//!   others in the batch are unaffected (each job is atomic on its own, as before);
//! - a job that panics is rolled back the same way and answered with
//!   [`StoreError::TaskFailed`];
//! - if the commit fails, or SQLite rolls the whole transaction back on its own (`SQLITE_FULL`,
//!   an I/O error), every job of the batch that had succeeded is answered with that error:
//!   nothing any of them wrote is kept, so none may report success.
//!
//! There is no deliberate wait for company: a write arriving at an idle writer is committed
//! at once, so a lone request pays one `fsync` as before, and batches grow only under load,
//! from the writes that arrived during the previous `fsync` (the way PostgreSQL and InnoDB
//! group commits).
//!
//! The jobs run in arrival order on one connection, so a job sees what earlier jobs of its
//! batch wrote; readers on other connections see a batch only once it is committed, which is
//! also when its callers hear of it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::SqlResult;
use crate::error::StoreError;

/// What a job leaves for after the commit: answers its caller with its result, or with the
/// batch's failure when the batch was not kept.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// One queued write.
trait Job: Send {
    /// Runs on the writer connection; says whether it succeeded (so the writer keeps or rolls
    /// back its savepoint) and how to answer once the batch's fate is known.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply);
    /// Answers without running: the batch could not start.
    fn refuse(self: Box<Self>, err: &StoreError);
}

struct WriteJob<T, F> {
    f: F,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for WriteJob<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Reply) {
        let WriteJob { f, answer } = *self;
        let result = f(conn);
        let ok = result.is_ok();
        let reply: Reply = Box::new(move |failed| {
            let result = match failed {
                Some(err) if ok => Err(batch_failed(err)),
                _ => result,
            };
            // The caller may have gone (its request was cancelled); the write stands.
            let _ = answer.send(result);
        });
        (ok, reply)
    }

    fn refuse(self: Box<Self>, err: &StoreError) {
        let _ = self.answer.send(Err(batch_failed(err)));
    }
}

/// Counts of the writer's work, for the benchmark and the logs.
#[derive(Debug, Default)]
pub(super) struct CommitCounts {
    /// Transactions committed (or attempted).
    pub(super) batches: AtomicU64,
    /// Writes carried by them.
    pub(super) writes: AtomicU64,
}

/// The handle the store keeps: a queue into the writer thread.
pub(super) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<CommitCounts>,
}

impl Writer {
    /// Starts the writer thread on `conn`, committing at most `max_batch` writes together
    /// (1 commits each write on its own).
    pub(super) fn start(conn: Connection, max_batch: usize) -> Result<Self, StoreError> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        let counts = Arc::new(CommitCounts::default());
        let thread_counts = Arc::clone(&counts);
        let thread = std::thread::Builder::new()
            .name("pathways-sqlite-writer".into())
            .spawn(move || run(conn, &jobs, max_batch.max(1), &thread_counts))
            .map_err(|e| StoreError::TaskFailed(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { queue: Some(queue), thread: Some(thread), counts })
    }

    /// Runs `f` in the next batch and answers once that batch is committed.
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<Result<T, StoreError>>();
        let job: Box<dyn Job> = Box::new(WriteJob { f, answer });
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        queue.send(job).map_err(|_| stopped())?;
        // A job dropped unanswered is one that panicked: its savepoint was rolled back.
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::TaskFailed("a database write panicked and was rolled back".into()))
        })
    }

    pub(super) fn counts(&self) -> &CommitCounts {
        &self.counts
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the batch in hand; waiting for it closes
        // the connection before the store is gone (a reopen then finds the file at rest).
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

fn stopped() -> StoreError {
    StoreError::TaskFailed("the SQLite writer has stopped".into())
}

/// The error a job that succeeded gets when its batch was not kept.
fn batch_failed(err: &StoreError) -> StoreError {
    match err {
        StoreError::Database { backend, operation, code, message } => StoreError::Database {
            backend,
            operation,
            code: code.clone(),
            message: message.clone(),
        },
        other => StoreError::TaskFailed(other.to_string()),
    }
}

fn run(
    conn: Connection,
    jobs: &mpsc::Receiver<Box<dyn Job>>,
    max_batch: usize,
    counts: &CommitCounts,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.writes.fetch_add(batch.len() as u64, Ordering::Relaxed);
        commit_batch(&conn, batch.drain(..));
    }
}

/// Runs the jobs in one transaction, each in a savepoint, and answers them after the commit.
/// When SQLite abandons the transaction midway, the jobs run so far are answered with the
/// failure and the rest go on in a new transaction. When a transaction cannot even begin
/// (another process holds the lock past the busy timeout, the disk is gone), the jobs still
/// waiting are refused with that error rather than each waiting out the timeout again.
fn commit_batch(conn: &Connection, jobs: impl Iterator<Item = Box<dyn Job>>) {
    const OP: &str = "committing a batch of writes";
    let mut jobs = jobs;
    let mut replies: Vec<Reply> = Vec::new();
    let mut open = false;
    while let Some(job) = jobs.next() {
        if !open {
            if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE").during(OP) {
                job.refuse(&err);
                jobs.for_each(|job| job.refuse(&err));
                break;
            }
            open = true;
        }
        replies.push(run_job(conn, job));
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back on an error of its own.
            let err = StoreError::Database {
                backend: "SQLite",
                operation: OP,
                code: None,
                message: "SQLite abandoned the transaction; nothing in it was kept".into(),
            };
            answer(&mut replies, Some(&err));
            open = false;
        }
    }
    if open {
        if let Err(err) = conn.execute_batch("COMMIT").during(OP) {
            // Leave the connection usable for the next batch.
            let _ = conn.execute_batch("ROLLBACK");
            answer(&mut replies, Some(&err));
        }
    }
    answer(&mut replies, None);
}

/// Runs one job inside its own savepoint: kept if it succeeded, rolled back if it failed or
/// panicked.
fn run_job(conn: &Connection, job: Box<dyn Job>) -> Reply {
    if let Err(err) = conn.execute_batch("SAVEPOINT job").during("starting a write") {
        job.refuse(&err);
        return Box::new(|_| {});
    }
    let (ok, reply) = match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
        Ok(done) => done,
        // The job's answer channel was dropped in the unwind: its caller hears "panicked".
        Err(_) => (false, Box::new(|_: Option<&StoreError>| {}) as Reply),
    };
    if !conn.is_autocommit() {
        let end = if ok { "RELEASE job" } else { "ROLLBACK TO job; RELEASE job" };
        if conn.execute_batch(end).is_err() {
            // Cannot happen short of a broken connection: give the whole batch up (the
            // caller sees the connection in autocommit and fails the batch's jobs).
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    reply
}

fn answer(replies: &mut Vec<Reply>, failed: Option<&StoreError>) {
    for reply in replies.drain(..) {
        reply(failed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::OpenFlags;

    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        writer: Arc<Writer>,
    }

    fn fixture(max_batch: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE t (x INTEGER PRIMARY KEY,
                             p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let writer = Arc::new(Writer::start(conn, max_batch).unwrap());
        Fixture { _dir: dir, path, writer }
    }

    impl Fixture {
        /// What another connection sees: only committed rows.
        fn committed(&self) -> Vec<i64> {
            let c =
                Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            let mut s = c.prepare("SELECT x FROM t ORDER BY x").unwrap();
            let rows = s.query_map([], |r| r.get(0)).unwrap();
            rows.collect::<rusqlite::Result<_>>().unwrap()
        }

        fn batches(&self) -> (u64, u64) {
            let c = self.writer.counts();
            (c.batches.load(Ordering::Relaxed), c.writes.load(Ordering::Relaxed))
        }

        /// Queues a write that holds the writer for a while, so that what is queued next
        /// lands in one batch behind it.
        fn hold_writer(&self) -> tokio::task::JoinHandle<Result<(), StoreError>> {
            let writer = Arc::clone(&self.writer);
            let held = tokio::spawn(async move {
                writer
                    .write(|_| {
                        std::thread::sleep(Duration::from_millis(300));
                        Ok(())
                    })
                    .await
            });
            held
        }

        fn insert(&self, x: i64) -> tokio::task::JoinHandle<Result<i64, StoreError>> {
            let writer = Arc::clone(&self.writer);
            tokio::spawn(async move {
                writer
                    .write(move |c| {
                        c.execute("INSERT INTO t (x) VALUES (?1)", [x]).during("test")?;
                        Ok(x)
                    })
                    .await
            })
        }
    }

    async fn queued() {
        // Let the spawned writes reach the queue while the writer is held.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_queued_during_a_commit_share_the_next_one_and_are_answered_once_durable() {
        let f = fixture(128);
        let held = f.hold_writer();
        queued().await;
        let writes: Vec<_> = (1..=20).map(|x| f.insert(x)).collect();
        for (x, write) in (1..=20).zip(writes) {
            assert_eq!(write.await.unwrap().unwrap(), x);
            // Answered means committed: another connection sees it.
            assert!(f.committed().contains(&x), "{x} answered before it was committed");
        }
        held.await.unwrap().unwrap();
        let (batches, writes) = f.batches();
        assert_eq!(writes, 21);
        assert!(batches <= 3, "21 writes took {batches} commits; expected them grouped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_of_one_commits_every_write_alone() {
        let f = fixture(1);
        let held = f.hold_writer();
        queued().await;
        let writes: Vec<_> = (1..=5).map(|x| f.insert(x)).collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        held.await.unwrap().unwrap();
        assert_eq!(f.batches(), (6, 6));
        assert_eq!(f.committed(), vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_is_rolled_back_alone_and_its_batch_mates_are_kept() {
        let f = fixture(128);
        let held = f.hold_writer();
        queued().await;
        let before = f.insert(1);
        let writer = Arc::clone(&f.writer);
        let failing = tokio::spawn(async move {
            writer
                .write(|c| {
                    c.execute("INSERT INTO t (x) VALUES (2)", []).during("test")?;
                    // A duplicate key: the whole write must go, including its first row.
                    c.execute("INSERT INTO t (x) VALUES (2)", []).during("test")?;
                    Ok(())
                })
                .await
        });
        let after = f.insert(3);
        let writer = Arc::clone(&f.writer);
        let panicking = tokio::spawn(async move {
            writer
                .write(|c| -> Result<(), StoreError> {
                    c.execute("INSERT INTO t (x) VALUES (4)", []).during("test")?;
                    panic!("a bug in a write");
                })
                .await
        });
        let last = f.insert(5);
        held.await.unwrap().unwrap();
        assert!(before.await.unwrap().is_ok());
        let err = failing.await.unwrap().unwrap_err();
        assert!(matches!(err, StoreError::Database { .. }), "{err}");
        assert!(after.await.unwrap().is_ok());
        let err = panicking.await.unwrap().unwrap_err();
        assert!(matches!(err, StoreError::TaskFailed(ref m) if m.contains("panicked")), "{err}");
        assert!(last.await.unwrap().is_ok());
        assert_eq!(f.committed(), vec![1, 3, 5]);
        assert_eq!(f.batches(), (2, 6), "the five writes shared one commit");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn when_the_commit_fails_no_write_of_the_batch_reports_success() {
        let f = fixture(128);
        let held = f.hold_writer();
        queued().await;
        let fine = f.insert(1);
        let writer = Arc::clone(&f.writer);
        // A deferred foreign key is checked only at COMMIT: this write succeeds on its own
        // and sinks the batch's commit.
        let sinking = tokio::spawn(async move {
            writer
                .write(|c| {
                    c.execute("INSERT INTO t (x, p) VALUES (2, 99)", []).during("test")?;
                    Ok(())
                })
                .await
        });
        held.await.unwrap().unwrap();
        let err = fine.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("committing a batch"), "{err}");
        assert!(sinking.await.unwrap().is_err());
        assert!(f.committed().is_empty(), "nothing of a failed commit may be kept");
        // The writer goes on.
        assert_eq!(f.insert(3).await.unwrap().unwrap(), 3);
        assert_eq!(f.committed(), vec![3]);
    }
}
