//! `quota migrate rollback`: the plan (read under the migration lock, with
//! the edited limits it drops), then each revert with the removal of its
//! history row in one transaction under the lock, newest first.

use anyhow::Result;
use refinery::Migration;
use sqlx::{Executor, PgConnection};

use super::busy;
use super::gate::refuse_ahead;
use super::limits::{self, EditedLimit};
use super::lock::LockPolicy;
use super::outcome::{Outcome, Step};
use super::status::{read_status, status, State, StatusReport, VersionStatus};
use super::step::{self, StepError};
use super::{advice, embedded, history};
use crate::db::Session;
use crate::error;
use crate::ui::Ui;

/// Options of `quota migrate rollback`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RollbackOptions {
    /// Version to end at; `None` means one step back.
    pub target: Option<u32>,
    pub dry_run: bool,
    pub policy: LockPolicy,
}

/// What a rollback would do: the versions to revert, newest first, and the
/// edited limits their reverts drop.
#[derive(Clone, Debug)]
pub struct RollbackPlan {
    /// The database version the plan starts from.
    pub database_version: u32,
    pub steps: Vec<Step>,
    pub discarded: Vec<EditedLimit>,
}

impl RollbackPlan {
    /// The plan as an outcome of nothing run: a dry run, or nothing to revert.
    pub fn unchanged(&self, dry_run: bool) -> Outcome {
        Outcome::unchanged(dry_run, self.steps.clone(), self.database_version)
    }
}

/// Reads the plan. For a real rollback the history first moves to its own
/// schema, and the plan and the limits it drops are read under the
/// migration lock, so a concurrent rollback cannot change them half-way
/// through; a dry run only looks.
pub async fn plan(db: &mut Session, opts: RollbackOptions, ui: &Ui) -> Result<RollbackPlan> {
    if !opts.dry_run {
        history::prepare(db, opts.policy, ui, "rolling back").await?;
    }
    let mut tx = if opts.dry_run {
        db.read_only().await?
    } else {
        step::planning_transaction(db, opts.policy, ui).await?
    };
    if !opts.dry_run {
        super::gate::require_tables(&mut tx).await?;
    }
    let status = status(&mut tx).await?;
    let steps = versions_to_revert(&status, opts.target)?;
    let discarded = limits::discarded_by(&mut tx, &steps).await?;
    tx.commit().await?;
    Ok(RollbackPlan {
        database_version: status.database_version,
        steps,
        discarded,
    })
}

/// The versions a rollback to `target` would revert, newest first.
pub fn versions_to_revert(status: &StatusReport, target: Option<u32>) -> Result<Vec<Step>> {
    advice::check_rollback(target)?;
    refuse_ahead(status)?;
    let applied: Vec<&VersionStatus> = status
        .migrations
        .iter()
        .filter(|m| m.state != State::Pending)
        .collect();
    let target = target.unwrap_or_else(|| {
        let mut versions: Vec<u32> = applied.iter().map(|m| m.version).collect();
        versions.pop();
        versions.last().copied().unwrap_or(0)
    });
    let mut plan: Vec<Step> = Vec::new();
    for m in applied.iter().rev().filter(|m| m.version > target) {
        let sql = embedded::revert_sql(m.version).ok_or_else(|| ahead(m.version))?;
        plan.push(Step {
            version: m.version,
            name: m.name.clone(),
            sql: Some(sql.to_string()),
        });
    }
    Ok(plan)
}

/// Reverts down to the version below the oldest of `plan` (from
/// [`versions_to_revert`]), newest first, each revert in one locked step
/// that reads the history under the lock: what a concurrent apply or
/// rollback did meanwhile is seen, so no version is reverted twice or out
/// of order. The outcome lists only what this process reverted.
pub async fn rollback(
    db: &mut Session,
    plan: &[Step],
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    let floor = plan
        .iter()
        .map(|s| s.version)
        .min()
        .map_or(u32::MAX, |v| v - 1);
    // The confirmed versions not reverted yet: each at most once.
    let mut remaining: Vec<u32> = plan.iter().map(|s| s.version).collect();
    let mut trying: Option<Step> = None;
    let mut saved: Vec<limits::SavedLimit> = Vec::new();
    let next = async |db: &mut Session| {
        let reverted =
            revert_next(db, floor, &remaining, policy, ui, &mut trying, &mut saved).await;
        if let Ok(Some(step)) = &reverted {
            remaining.retain(|v| *v != step.version);
        }
        reverted
    };
    let (reverted, attempts) = match busy::until_done(db, policy, ui, "rollback", next).await {
        Ok(done) => done,
        Err(e) => {
            let step = trying.unwrap_or_else(|| Step {
                version: floor + 1,
                name: "?".into(),
                sql: None,
            });
            let explain = async |e| {
                let facts = super::roles::grant_facts(db, &e).await;
                error::migrate::revert_failed(e, step.version, &step.name, &facts)
            };
            return Err(e.explained(explain).await);
        }
    };
    if !saved.is_empty() {
        ui.info(&format!(
            "note: kept the clip limits edited since install in quota.saved_clip_limits ({}); the next \
             `quota migrate apply` restores them",
            limits::listed(&saved)
        ));
    }
    let after = read_status(db).await?;
    Ok(Outcome {
        dry_run: false,
        steps: reverted,
        database_version: after.database_version,
        attempts,
    })
}

/// Reverts the newest recorded version if it is above `floor`, and removes
/// its history row, in one locked step; `None` when nothing above `floor`
/// is recorded any more. `trying` names the version being reverted. A
/// newest version that is not one of the confirmed versions still to
/// revert (`remaining`: a concurrent deploy applied it after the plan was
/// shown, or re-applied one already reverted) is never reverted: the
/// rollback stops there with a warning, and nothing below it is reverted.
/// `saved` gets the edited clip limits V3's revert kept.
async fn revert_next(
    db: &mut Session,
    floor: u32,
    remaining: &[u32],
    policy: LockPolicy,
    ui: &Ui,
    trying: &mut Option<Step>,
    saved: &mut Vec<limits::SavedLimit>,
) -> Result<Option<Step>, StepError> {
    *trying = None;
    let work = async |tx: &mut PgConnection, recorded: &[Migration]| {
        let newest = recorded.iter().map(|m| m.version()).max();
        let Some(newest) = newest.filter(|v| *v > floor) else {
            return Ok(None);
        };
        if !remaining.contains(&newest) {
            ui.warn(&applied_after_confirmation(newest));
            return Ok(None);
        }
        let name = embedded::migrations()
            .iter()
            .find(|m| m.version() == newest)
            .map(|m| m.name().to_string());
        let (Some(sql), Some(name)) = (embedded::revert_sql(newest), name) else {
            return Err(StepError::Stop(ahead(newest)));
        };
        let step = Step {
            version: newest,
            name,
            sql: None,
        };
        *trying = Some(step.clone());
        if newest == limits::CLIP_LIMITS_VERSION {
            *saved = limits::save(tx).await?;
        }
        (&mut *tx).execute(sqlx::raw_sql(sql)).await?;
        history::forget(tx, newest).await?;
        Ok(Some(step))
    };
    step::locked_step(db, policy, ui, work).await
}

/// `version` has no revert script here: a newer quota applied it.
fn ahead(version: u32) -> anyhow::Error {
    error::migrate::database_ahead(version, embedded::latest_version())
}

/// The newest recorded version is not one the user confirmed reverting.
fn applied_after_confirmation(newest: u32) -> String {
    format!(
        "V{newest} was applied after this rollback was confirmed (a concurrent deploy?): it is \
         left in place and the rollback stops here; see `quota migrate status`, and run the \
         rollback again to confirm a new plan"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(versions: &[(u32, State)]) -> StatusReport {
        StatusReport {
            database_version: versions
                .iter()
                .filter(|v| v.1 != State::Pending)
                .map(|v| v.0)
                .max()
                .unwrap_or(0),
            latest_version: 3,
            migrations: versions
                .iter()
                .map(|(v, s)| VersionStatus {
                    version: *v,
                    name: format!("m{v}"),
                    state: *s,
                    applied_on: None,
                    checksum: String::new(),
                })
                .collect(),
        }
    }

    fn versions(plan: &[Step]) -> Vec<u32> {
        plan.iter().map(|p| p.version).collect()
    }

    #[test]
    fn default_rollback_is_one_step() {
        let s = st(&[
            (1, State::Applied),
            (2, State::Applied),
            (3, State::Pending),
        ]);
        assert_eq!(versions(&versions_to_revert(&s, None).unwrap()), vec![2]);
    }

    #[test]
    fn rollback_to_zero_reverts_newest_first() {
        let s = st(&[
            (1, State::Applied),
            (2, State::Applied),
            (3, State::Applied),
        ]);
        let plan = versions_to_revert(&s, Some(0)).unwrap();
        assert_eq!(versions(&plan), vec![3, 2, 1]);
    }

    #[test]
    fn unknown_version_cannot_be_reverted() {
        let s = st(&[(1, State::Applied), (9, State::Unknown)]);
        let err = versions_to_revert(&s, Some(0)).unwrap_err();
        assert_eq!(error::kind_of(&err), error::ExitKind::Precondition);
        assert!(
            err.to_string()
                .starts_with("the database is at version 9, newer than this quota (knows up to 3)"),
            "{err}"
        );
    }
}
