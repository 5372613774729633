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
use refinery::Migration;
use sqlx::{Executor, PgConnection};

use super::busy;
use super::gate::{refuse_ahead, require_contract};
use super::lock::LockPolicy;
use super::outcome::{Outcome, Step};
use super::status::{self, read_status, State, StatusReport};
use super::step::{self, StepError};
use super::{embedded, history};
use crate::db::{self, Session};
use crate::error;
use crate::sql;
use crate::ui::Ui;

/// Options of `quota migrate apply --repair`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RepairOptions {
    pub dry_run: bool,
    pub policy: LockPolicy,
}

/// Re-runs every applied version, oldest first, in one transaction under
/// the migration lock.
pub async fn repair(db: &mut Session, opts: RepairOptions, ui: &Ui) -> Result<Outcome> {
    let mut tx = db.read_only().await?;
    require_contract(&mut tx).await?;
    let before = status::status(&mut tx).await?;
    tx.commit().await?;
    // Re-running this build's files would undo what the newer versions changed.
    refuse_ahead(&before)?;
    if opts.dry_run {
        let steps = plan(&before, ui);
        return Ok(Outcome::unchanged(true, steps, before.database_version));
    }
    history::prepare(db, opts.policy, ui, "repairing").await?;
    let before = read_status(db).await?;
    repair_planned(db, before, opts.policy, ui).await
}

/// The applied and drifted versions, with this build's SQL. Unknown versions
/// (applied by a newer quota) are skipped with a warning: this build has no
/// file for them.
fn plan(status: &StatusReport, ui: &Ui) -> Vec<Step> {
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
    before: StatusReport,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    // All versions in ONE transaction: re-running V3 alone would briefly
    // reinstate what V4 replaced (an unsafe search_path, the BEFORE trigger)
    // between two commits. The plan is read again under the lock, so a
    // concurrent rollback or apply is seen.
    let mut failed_at: Option<Step> = None;
    let mut done: Vec<Step> = Vec::new();
    let rerun_steps = async |db: &mut Session| {
        done = rerun_all(db, policy, ui, &mut failed_at)
            .await?
            .unwrap_or_default();
        Ok::<(), StepError>(())
    };
    let attempts = match busy::retry_while_busy(db, policy, ui, "repair", rerun_steps).await {
        Ok(n) => n,
        Err(e) => {
            let step = failed_at.unwrap_or_else(|| Step {
                version: before.database_version,
                name: "?".into(),
                sql: None,
            });
            let explain = async |e| error::migrate::repair_failed(e, step.version, &step.name);
            return Err(e.explained(explain).await);
        }
    };
    Ok(Outcome {
        dry_run: false,
        attempts,
        steps: done.into_iter().map(|s| Step { sql: None, ..s }).collect(),
        database_version: before.database_version,
    })
}

/// Every applied version's SQL, oldest first, in one locked step, each
/// history row re-recorded with this build's name and checksum (a no-op
/// unless it had drifted). `failed_at` names the step that failed.
async fn rerun_all(
    db: &mut Session,
    policy: LockPolicy,
    ui: &Ui,
    failed_at: &mut Option<Step>,
) -> Result<Option<Vec<Step>>, StepError> {
    let work = async |tx: &mut PgConnection, recorded: &[Migration]| {
        let embedded = embedded::migrations();
        let steps = plan(&status::compare(recorded), ui);
        // A server-side-only setup (EXECUTE on the RPC revoked from
        // authenticated on purpose) is intended: V2 and V4 grant it, so the
        // grant is taken back after them.
        let server_side_only: bool = db::query_scalar(sql::RPC_SERVER_SIDE_ONLY)
            .fetch_one(&mut *tx)
            .await?;
        for step in &steps {
            *failed_at = Some(step.clone());
            let sql = step.sql.as_deref().unwrap_or_default();
            (&mut *tx).execute(sqlx::raw_sql(sql)).await?;
            if let Some(file) = embedded.iter().find(|m| m.version() == step.version) {
                history::rerecord(tx, file).await?;
            }
        }
        if server_side_only {
            db::query(sql::RPC_REVOKE_AUTHENTICATED)
                .execute(&mut *tx)
                .await?;
        }
        Ok(Some(steps))
    };
    step::locked_step(db, policy, ui, work).await
}
