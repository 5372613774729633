//! `quota migrate apply --repair`: re-runs the embedded SQL of every applied
//! version, to undo hand edits of what the migrations installed (a function
//! body changed in a dashboard, a grant added, a trigger replaced).
//!
//! The migrations are idempotent (CREATE OR REPLACE, IF NOT EXISTS, ON
//! CONFLICT DO NOTHING), so re-running them restores the definitions and
//! leaves data alone: counters, and limits edited in `public.clip_limits`,
//! stay as they are. Like Flyway's `repair`, a version whose recorded
//! checksum drifted (history edited, or applied from another file) is re-run
//! from this build's file and re-recorded with its checksum; a version this
//! build does not know is left alone.

use crate::db;
use anyhow::Result;
use sqlx::Executor;

use super::{
    driver, embedded, locked_transaction, status, LockPolicy, Outcome, Retried, State, Step,
    StepError,
};
use crate::db::Session;
use crate::exit;
use crate::ui::Ui;

/// Options of `quota migrate apply --repair`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepairOptions {
    pub dry_run: bool,
    pub policy: LockPolicy,
}

/// Re-runs every applied version, oldest first, each in its own transaction
/// under the migration lock.
pub async fn repair(db: &mut Session, opts: RepairOptions, ui: &Ui) -> Result<Outcome> {
    let mut tx = db.read_only().await?;
    super::require_contract(&mut tx).await?;
    let before = status(&mut tx).await?;
    tx.commit().await?;
    if opts.dry_run {
        return Ok(Outcome {
            dry_run: true,
            steps: plan(&before, ui),
            database_version: before.database_version,
            attempts: 0,
        });
    }
    super::history::prepare(db, opts.policy, ui).await?;
    let mut tx = db.read_only().await?;
    let before = status(&mut tx).await?;
    tx.commit().await?;
    repair_planned(db, before, opts.policy, ui).await
}

/// The applied and drifted versions, with this build's SQL. Unknown versions
/// (applied by a newer quota) are skipped with a warning: this build has no
/// file for them.
fn plan(status: &super::Status, ui: &Ui) -> Vec<Step> {
    let embedded = embedded::migrations();
    let mut steps = Vec::new();
    for m in &status.migrations {
        match m.state {
            State::Applied | State::Drifted => steps.push(Step {
                version: m.version,
                name: m.name.clone(),
                sql: embedded
                    .iter()
                    .find(|e| e.version() == m.version)
                    .and_then(|e| e.sql().map(str::to_string)),
            }),
            State::Unknown => ui.warn(&format!(
                "V{}__{} was applied by a newer quota and is not repaired; use that version",
                m.version, m.name
            )),
            State::Pending => {}
        }
    }
    if status.pending().next().is_some() {
        ui.info("some versions are pending; `quota migrate apply` installs them");
    }
    steps
}

async fn repair_planned(
    db: &mut Session,
    before: super::Status,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    let steps = plan(&before, ui);
    let mut attempts = 0;
    for step in &steps {
        let sql = step.sql.as_deref().unwrap_or_default();
        let rerun_step = async |db: &mut Session| rerun(db, step.version, sql, policy, ui).await;
        match super::retry_while_busy(db, policy, ui, "repair", rerun_step).await {
            Ok(n) => attempts += n,
            Err(Retried::GaveUp(e)) => return Err(e),
            Err(Retried::Failed(e)) => return Err(rerun_error(step, e)),
        }
    }
    Ok(Outcome {
        dry_run: false,
        steps: steps.into_iter().map(|s| Step { sql: None, ..s }).collect(),
        database_version: before.database_version,
        attempts,
    })
}

/// One version's SQL in a transaction with the lock_timeout prelude and the
/// migration lock, and its history row re-recorded with this build's name
/// and checksum (a no-op unless it had drifted). A version a concurrent
/// rollback removed meanwhile is left alone.
async fn rerun(
    db: &mut Session,
    version: u32,
    sql: &str,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<(), StepError> {
    let embedded = embedded::migrations();
    let file = embedded.iter().find(|m| m.version() == version);
    let mut tx = locked_transaction(db, policy, ui).await?;
    if !driver::is_recorded(&mut tx, version).await? {
        tx.rollback().await?;
        return Ok(());
    }
    (&mut *tx).execute(sqlx::raw_sql(sql)).await?;
    if let Some(file) = file {
        db::query(include_str!("../../sql/queries/rerecord_version.sql"))
            .bind(version as i32)
            .bind(file.name())
            .bind(file.checksum().to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn rerun_error(step: &Step, e: StepError) -> anyhow::Error {
    let e = match e {
        StepError::Stop(e) => return e,
        StepError::Sql(e) => e,
    };
    match e.as_database_error() {
        Some(db) if db.code().as_deref() == Some("42501") => exit::precondition(format!(
            "permission denied while repairing V{}: {}; run quota as the owner of the application's \
             tables (on Supabase: postgres)",
            step.version,
            db.message()
        )),
        Some(db) => exit::error(
            exit::ExitKind::Internal,
            format!(
                "repairing V{}__{} failed, nothing of it was changed: {}",
                step.version,
                step.name,
                db.message()
            ),
        ),
        None => exit::error(
            exit::ExitKind::Internal,
            format!("repairing V{}__{} failed: {e}", step.version, step.name),
        ),
    }
}
