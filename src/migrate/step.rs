//! One step of apply, rollback or repair, and how it runs: in a transaction
//! that sets `lock_timeout`, takes the migration lock, and reads under the
//! lock which versions the history records, so what a concurrent quota
//! process did meanwhile is seen. The lock ends with the transaction, so it
//! is taken and released here only.

use anyhow::Result;
use refinery::Migration;
use sqlx::{PgConnection, Postgres, Transaction};

use super::history;
use super::lock::{self, LockPolicy};
use crate::db::Session;
use crate::ui::Ui;

/// Why a step of apply, rollback or repair failed: a database error
/// (retried when it is a lock timeout), or a classified stop that says it
/// all (the migration lock not granted in time, a version this build
/// cannot revert).
#[derive(Debug)]
pub(crate) enum StepError {
    Sql(sqlx::Error),
    Stop(anyhow::Error),
}

impl StepError {
    /// The stop as it is, or the database error as `explain` words it.
    pub(crate) async fn explained(
        self,
        explain: impl AsyncFnOnce(sqlx::Error) -> anyhow::Error,
    ) -> anyhow::Error {
        match self {
            StepError::Stop(e) => e,
            StepError::Sql(e) => explain(e).await,
        }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Sql(e) => e.fmt(f),
            StepError::Stop(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StepError::Sql(e) => Some(e),
            StepError::Stop(_) => None,
        }
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Sql(e)
    }
}

/// Opens a transaction with the policy's `lock_timeout` and the migration lock.
async fn locked_transaction<'s>(
    db: &'s mut Session,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Transaction<'s, Postgres>, StepError> {
    let mut tx = db.begin().await.map_err(StepError::Stop)?;
    policy.set_lock_timeout(&mut tx).await?;
    lock::acquire_xact(&mut tx, policy.lock_wait, ui)
        .await
        .map_err(StepError::Stop)?;
    Ok(tx)
}

/// A transaction holding the migration lock, for reading what a change
/// will do (plans, prompts) consistently with concurrent quota processes.
pub(crate) async fn planning_transaction<'s>(
    db: &'s mut Session,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Transaction<'s, Postgres>> {
    locked_transaction(db, policy, ui)
        .await
        .map_err(|e| match e {
            StepError::Stop(e) => e,
            StepError::Sql(e) => anyhow::Error::new(e).context("taking the migration lock"),
        })
}

/// Runs `work` in a transaction holding the migration lock: committed when
/// `work` returns `Some`, rolled back when it returns `None` (nothing to
/// do) or fails.
pub(crate) async fn under_lock<T>(
    db: &mut Session,
    policy: LockPolicy,
    ui: &Ui,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<Option<T>, StepError>,
) -> Result<Option<T>, StepError> {
    let mut tx = locked_transaction(db, policy, ui).await?;
    let done = work(&mut tx).await?;
    match done {
        Some(_) => tx.commit().await?,
        None => tx.rollback().await?,
    }
    Ok(done)
}

/// [`under_lock`], with the history's rows as read under the lock: the truth for the rest of the transaction, whatever a concurrent
/// apply or rollback did before it.
pub(crate) async fn locked_step<T>(
    db: &mut Session,
    policy: LockPolicy,
    ui: &Ui,
    work: impl AsyncFnOnce(&mut PgConnection, &[Migration]) -> Result<Option<T>, StepError>,
) -> Result<Option<T>, StepError> {
    under_lock(db, policy, ui, async |tx: &mut PgConnection| {
        let recorded = history::recorded(tx).await?;
        work(tx, &recorded).await
    })
    .await
}
