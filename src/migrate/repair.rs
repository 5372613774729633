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

use anyhow::Result;
use sqlx::{Connection, PgConnection};

use super::{embedded, lock, status, LockPolicy, Outcome, Retried, State, Step};
use crate::exit;
use crate::ui::Ui;

/// Options of `quota migrate apply --repair`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepairOptions {
    pub dry_run: bool,
    pub policy: LockPolicy,
}

/// Re-runs every applied version, oldest first, in one transaction, under
/// the migration lock.
pub async fn repair(conn: &mut PgConnection, opts: RepairOptions, ui: &Ui) -> Result<Outcome> {
    super::require_contract(conn).await?;
    if opts.dry_run {
        let status = status(conn).await?;
        return Ok(Outcome {
            dry_run: true,
            steps: plan(&status, ui),
            database_version: status.database_version,
            attempts: 0,
        });
    }
    lock::acquire(conn, opts.policy.lock_wait, ui).await?;
    let result = repair_locked(conn, opts.policy, ui).await;
    let released = lock::release(conn).await;
    let outcome = result?;
    released?;
    Ok(outcome)
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

async fn repair_locked(conn: &mut PgConnection, policy: LockPolicy, ui: &Ui) -> Result<Outcome> {
    super::history::prepare(conn, policy).await?;
    let before = status(conn).await?;
    let steps = plan(&before, ui);
    // All versions in ONE transaction: re-running V3 alone would briefly
    // reinstate what V4 replaced (an unsafe search_path, the BEFORE trigger)
    // between two commits.
    let mut failed_at = 0;
    let rerun_steps =
        async |c: &mut PgConnection| rerun_all(c, &steps, policy, &mut failed_at).await;
    let attempts = match super::retry_while_busy(conn, policy, ui, "repair", rerun_steps).await {
        Ok(n) => n,
        Err(Retried::GaveUp(e)) => return Err(e),
        Err(Retried::Failed(e)) => return Err(rerun_error(&steps[failed_at], e)),
    };
    Ok(Outcome {
        dry_run: false,
        steps: steps.into_iter().map(|s| Step { sql: None, ..s }).collect(),
        database_version: before.database_version,
        attempts,
    })
}

/// Every version's SQL, oldest first, in one transaction with the
/// lock_timeout prelude, each history row re-recorded with this build's name
/// and checksum (a no-op unless it had drifted). `failed_at` is the index of
/// the step that failed.
async fn rerun_all(
    conn: &mut PgConnection,
    steps: &[Step],
    policy: LockPolicy,
    failed_at: &mut usize,
) -> Result<(), sqlx::Error> {
    let embedded = embedded::migrations();
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(&policy.prelude()).execute(&mut *tx).await?;
    for (i, step) in steps.iter().enumerate() {
        *failed_at = i;
        let sql = step.sql.as_deref().unwrap_or_default();
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        if let Some(file) = embedded.iter().find(|m| m.version() == step.version) {
            sqlx::query(include_str!("../../sql/queries/rerecord_version.sql"))
                .bind(step.version as i32)
                .bind(file.name())
                .bind(file.checksum().to_string())
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

fn rerun_error(step: &Step, e: sqlx::Error) -> anyhow::Error {
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
