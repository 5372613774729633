//! A busy table: DDL that times out on a table lock is rolled back and
//! tried again with backoff, a bounded number of times, so the
//! application's inserts never queue behind a migration for long; after
//! the last attempt the sessions in the way are named.

use anyhow::Result;
use sqlx::PgConnection;

use super::embedded::HISTORY_TABLE;
use super::lock::LockPolicy;
use super::step::StepError;
use crate::db::{self, Session};
use crate::error;
use crate::sql;
use crate::ui::Ui;

/// The tables migrations and reverts take locks on; a session holding
/// one of them is what a lock timeout is waiting for.
const TOUCHED_TABLES: &[&str] = &[
    "public.users",
    "public.user_usage",
    "public.clips",
    "public.clip_limits",
    HISTORY_TABLE,
];

/// Why a step retried by [`retry_while_busy`] did not succeed.
pub(crate) enum Retried<E> {
    /// Every attempt timed out on a table lock; the error names the blockers.
    GaveUp(anyhow::Error),
    /// The step failed for another reason, which the caller explains.
    Failed(E),
}

impl Retried<StepError> {
    /// The error to report: the blockers, or the failure as `explain` words it.
    pub(crate) async fn explained(
        self,
        explain: impl AsyncFnOnce(sqlx::Error) -> anyhow::Error,
    ) -> anyhow::Error {
        match self {
            Retried::GaveUp(e) => e,
            Retried::Failed(e) => e.explained(explain).await,
        }
    }
}

/// Runs one transactional step, retrying with backoff while it times out on
/// a table lock (each attempt rolled back whole), up to `policy.retries`
/// more times. Returns the number of attempts it took.
pub(crate) async fn retry_while_busy<E>(
    db: &mut Session,
    policy: LockPolicy,
    ui: &Ui,
    what: &str,
    mut step: impl AsyncFnMut(&mut Session) -> Result<(), E>,
) -> Result<u32, Retried<E>>
where
    E: std::error::Error + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step(db).await {
            Ok(()) => return Ok(attempt),
            Err(e) if error::migrate::is_lock_timeout(&e) && attempt <= policy.retries => {
                let pause = policy.backoff(attempt);
                ui.info(&format!(
                    "a table is busy (lock_timeout {}ms) during {what}; retrying in {}ms ({attempt}/{})",
                    policy.lock_timeout.as_millis(),
                    pause.as_millis(),
                    policy.retries
                ));
                tokio::time::sleep(pause).await;
            }
            Err(e) if error::migrate::is_lock_timeout(&e) => {
                let blockers = blockers_in_transaction(db).await;
                return Err(Retried::GaveUp(error::migrate::gave_up_on_busy_table(
                    what,
                    attempt,
                    policy.lock_timeout.as_millis(),
                    blockers,
                )));
            }
            Err(e) => return Err(Retried::Failed(e)),
        }
    }
}

/// Runs `next` (one version per call, under the lock) until it reports
/// nothing left to do, each call retried while a table is busy. Returns
/// what the calls did, in order, and the transactions tried for them: one
/// per version plus one per retry (the final, empty call is not counted).
pub(crate) async fn until_done<T>(
    db: &mut Session,
    policy: LockPolicy,
    ui: &Ui,
    what: &str,
    mut next: impl AsyncFnMut(&mut Session) -> Result<Option<T>, StepError>,
) -> Result<(Vec<T>, u32), Retried<StepError>> {
    let mut done = Vec::new();
    let mut attempts = 0;
    loop {
        let mut last = None;
        let step = async |db: &mut Session| {
            last = next(db).await?;
            Ok::<(), StepError>(())
        };
        let n = retry_while_busy(db, policy, ui, what, step).await?;
        match last {
            Some(item) => {
                done.push(item);
                attempts += n;
            }
            None => return Ok((done, attempts)),
        }
    }
}

async fn blockers_in_transaction(db: &mut Session) -> Result<Vec<(i32, String)>> {
    let mut tx = db.read_only().await?;
    blocking_sessions(&mut tx).await
}

/// Each blocker's pid and "pid 123 (alice, idle in transaction for 12s: INSERT INTO clips ...)".
pub async fn blocking_sessions(conn: &mut PgConnection) -> Result<Vec<(i32, String)>> {
    let tables: Vec<String> = TOUCHED_TABLES.iter().map(|t| t.to_string()).collect();
    let rows: Vec<(i32, String, String, f64, String, String)> =
        db::query_as(sql::BLOCKING_SESSIONS)
            .bind(&tables)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(pid, user, state, secs, query, locks)| {
            let text =
                format!("pid {pid} ({user}, {state} for {secs:.0}s, holds {locks}: {query})");
            (pid, text)
        })
        .collect())
}
