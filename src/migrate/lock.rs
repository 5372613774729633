//! The migration lock: a transaction-level advisory lock that every
//! migration, revert and repair transaction takes first, so concurrent
//! `quota migrate` processes serialise version by version.
//!
//! A session-level lock would strand on a pooled server connection (a
//! transaction-mode pooler hands the session to other clients between
//! transactions, and the lock with it); a transaction-level one ends with
//! the transaction that took it, whatever connection that ran on. Because
//! the lock is released between versions, each transaction re-checks under
//! the lock whether its version still needs to run (see `migrate::step`).
//!
//! [`LockPolicy`] says how long to wait: for this lock (`--lock-wait`), and
//! for a table lock inside a migration (`--lock-timeout`, `--retries`).

use crate::sql;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::PgConnection;

use crate::db;
use crate::error;
use crate::ui::Ui;

/// How long DDL may wait for a table lock, and how often to try again. Its
/// defaults are the one set (`cli.rs` takes them from here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockPolicy {
    /// `lock_timeout` for each migration transaction.
    pub lock_timeout: Duration,
    /// Further attempts after a lock timeout.
    pub retries: u32,
    /// How long to wait for another quota process holding the migration lock.
    pub lock_wait: Duration,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            lock_timeout: Duration::from_millis(Self::DEFAULT_LOCK_TIMEOUT_MS),
            retries: Self::DEFAULT_RETRIES,
            lock_wait: Duration::from_secs(Self::DEFAULT_LOCK_WAIT_SECS),
        }
    }
}

impl LockPolicy {
    /// `--lock-timeout`, in milliseconds as the flag takes it.
    pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 2000;
    /// `--retries`.
    pub const DEFAULT_RETRIES: u32 = 5;
    /// `--lock-wait`, in seconds as the flag takes it.
    pub const DEFAULT_LOCK_WAIT_SECS: u64 = 300;

    /// Sets `lock_timeout` for the rest of the open transaction on `tx`.
    pub(crate) async fn set_lock_timeout(&self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let millis = format!("{}ms", self.lock_timeout.as_millis().max(1));
        db::query(sql::MIGRATION_LOCK_TIMEOUT)
            .bind(millis)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Exponential backoff between attempts, capped, so retries stay bounded.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let ms = 250u64.saturating_mul(1 << attempt.min(5));
        Duration::from_millis(ms.min(4000))
    }
}

/// The advisory lock key: "quota" in ASCII.
pub const KEY: i64 = 0x71_75_6f_74_61;

/// How often a waiting process tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// Takes the migration lock for the rest of the open transaction on `tx`,
/// waiting up to `wait`; polls so the wait can be bounded and the holder
/// named (a blocking pg_advisory_xact_lock could do neither).
pub async fn acquire_xact(tx: &mut PgConnection, wait: Duration, ui: &Ui) -> Result<()> {
    let started = Instant::now();
    let mut announced = false;
    loop {
        let got: bool = db::query_scalar(sql::MIGRATION_LOCK_TRY)
            .bind(KEY)
            .fetch_one(&mut *tx)
            .await
            .context("taking the migration lock (pg_try_advisory_xact_lock)")?;
        if got {
            return Ok(());
        }
        let holder = holder(tx).await?;
        if !announced {
            ui.info(&format!(
                "waiting for the migration lock held by {}",
                describe_holder(&holder)
            ));
            announced = true;
        }
        if started.elapsed() >= wait {
            return Err(error::precondition(format!(
                "another migration is running: the lock is held by {} and was not released within {}s; \
                 wait for it to finish or raise --lock-wait",
                describe_holder(&holder),
                wait.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

type Holder = Option<(i32, f64, String)>;

async fn holder(conn: &mut PgConnection) -> Result<Holder> {
    db::query_as(sql::ADVISORY_LOCK_HOLDER)
        .bind(KEY)
        .fetch_optional(&mut *conn)
        .await
        .context("looking up the holder of the migration lock")
}

fn describe_holder(holder: &Holder) -> String {
    match holder {
        Some((pid, secs, app)) if !app.is_empty() => {
            format!("server process {pid} ({app}, connected {secs:.0}s ago)")
        }
        Some((pid, secs, _)) => format!("server process {pid} (connected {secs:.0}s ago)"),
        None => "another session".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let p = LockPolicy::default();
        assert!(p.backoff(1) < p.backoff(2));
        assert_eq!(p.backoff(30), Duration::from_millis(4000));
    }
}
