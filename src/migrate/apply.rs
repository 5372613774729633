//! `quota migrate apply`: the contract and the history checked, then each
//! pending version up to the target in its own transaction under the
//! migration lock.

use anyhow::Result;
use refinery::Migration;
use sqlx::{Executor, PgConnection};

use super::busy;
use super::gate::{refuse_ahead, refuse_troubles, require_contract};
use super::lock::LockPolicy;
use super::outcome::{Outcome, Step};
use super::status::{read_status, status, StatusReport};
use super::step::{self, StepError};
use super::{adoption, advice, embedded, history, limits, roles};
use crate::db::Session;
use crate::error;
use crate::ui::Ui;

/// Options of `quota migrate apply`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApplyOptions {
    pub dry_run: bool,
    pub target: Option<u32>,
    pub policy: LockPolicy,
}

/// Checks the schema contract, then applies pending versions up to the
/// target under the migration lock.
pub async fn apply(db: &mut Session, opts: ApplyOptions, ui: &Ui) -> Result<Outcome> {
    let target = opts.target.unwrap_or_else(embedded::latest_version);
    advice::beyond_newest(target)?;
    let mut tx = db.read_only().await?;
    require_contract(&mut tx).await?;
    if opts.dry_run {
        let before = status(&mut tx).await?;
        refuse_ahead(&before)?;
        refuse_troubles(&before)?;
        adoption::refuse(&mut tx, &before, target).await?;
        let steps = pending_steps(&before, target, true);
        if steps
            .iter()
            .any(|s| s.version == limits::CLIP_LIMITS_VERSION)
        {
            let kept = limits::saved(&mut tx).await?;
            if !kept.is_empty() {
                ui.info(&format!(
                    "note: applying V3 restores the clip limits a rollback kept in \
                     quota.saved_clip_limits ({})",
                    limits::listed(&kept)
                ));
            }
        }
        return Ok(Outcome::unchanged(true, steps, before.database_version));
    }
    tx.commit().await?;
    let before = plan_under_lock(db, target, opts.policy, ui).await?;
    apply_pending(db, before, target, opts.policy, ui).await
}

/// Checked under the lock, where no other quota process changes the
/// history or the objects meanwhile (catalog lookups see the latest
/// commit, not a snapshot, so only the lock makes this consistent). Only
/// once nothing refuses is the history moved to its schema, in the same
/// transaction: a refused apply changes nothing.
async fn plan_under_lock(
    db: &mut Session,
    target: u32,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<StatusReport> {
    let (before, prepared) = {
        let mut tx = step::planning_transaction(db, policy, ui).await?;
        let before = status(&mut tx).await?;
        refuse_ahead(&before)?;
        refuse_troubles(&before)?;
        adoption::refuse(&mut tx, &before, target).await?;
        let prepared = match history::prepare_in(&mut tx).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        (before, prepared)
    };
    match prepared {
        Ok(()) => Ok(before),
        Err(e) => {
            let facts = roles::grant_facts(db, &e).await;
            Err(error::migrate::history_not_prepared(&e, "applying", &facts))
        }
    }
}

/// Runs the pending versions up to `target`, each in its own transaction
/// under the migration lock; versions a concurrent process applied
/// meanwhile are skipped, and the outcome lists only what this one ran.
async fn apply_pending(
    db: &mut Session,
    before: StatusReport,
    target: u32,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    if before.database_version > target {
        // Already past the target: nothing to apply (see `advice`).
        return Ok(Outcome::unchanged(
            false,
            Vec::new(),
            before.database_version,
        ));
    }
    let planned = pending_steps(&before, target, false);
    ui.debug(&format!(
        "database at V{}; applying {} version(s) up to V{target}; lock_timeout {}ms, up to {} retries",
        before.database_version,
        planned.len(),
        policy.lock_timeout.as_millis(),
        policy.retries
    ));
    let mut trying: Option<(u32, String)> = None;
    let mut restored: Vec<limits::SavedLimit> = Vec::new();
    let next = async |db: &mut Session| {
        apply_next(db, target, policy, ui, &mut trying, &mut restored).await
    };
    let (ran, attempts) = match busy::until_done(db, policy, ui, "apply", next).await {
        Ok(done) => done,
        Err(e) => {
            let version = trying
                .map(|(v, name)| format!(" V{v}__{name}"))
                .unwrap_or_default();
            let explain = async |e| {
                let facts = roles::grant_facts(db, &e).await;
                error::migrate::apply_failed(e, &version, &facts)
            };
            return Err(e.explained(explain).await);
        }
    };
    if !restored.is_empty() {
        ui.info(&format!(
            "note: restored the clip limits a rollback kept in quota.saved_clip_limits ({})",
            limits::listed(&restored)
        ));
    }
    let after = read_status(db).await?;
    Ok(Outcome {
        dry_run: false,
        steps: planned
            .into_iter()
            .filter(|s| ran.contains(&s.version))
            .collect(),
        database_version: after.database_version,
        attempts,
    })
}

/// Applies the oldest version up to `target` that the history does not
/// record, and records it, in one locked step: the history is read under
/// the lock, so a version a concurrent process applied (or a rollback
/// removed) meanwhile is seen as it is now and each version runs exactly
/// once, in order. `None` when nothing is pending; `trying` names the
/// version being applied; `restored` gets the clip limits a rollback kept
/// and V3's step put back.
async fn apply_next(
    db: &mut Session,
    target: u32,
    policy: LockPolicy,
    ui: &Ui,
    trying: &mut Option<(u32, String)>,
    restored: &mut Vec<limits::SavedLimit>,
) -> Result<Option<u32>, StepError> {
    *trying = None;
    let work = async |tx: &mut PgConnection, recorded: &[Migration]| {
        let next = embedded::migrations().into_iter().find(|m| {
            m.version() <= target && !recorded.iter().any(|r| r.version() == m.version())
        });
        let Some(migration) = next else {
            return Ok(None);
        };
        *trying = Some((migration.version(), migration.name().to_string()));
        (&mut *tx)
            .execute(sqlx::raw_sql(migration.sql().unwrap_or_default()))
            .await?;
        if migration.version() == limits::CLIP_LIMITS_VERSION {
            *restored = limits::restore(tx).await?;
        }
        history::record(tx, &migration).await?;
        Ok(Some(migration.version()))
    };
    step::locked_step(db, policy, ui, work).await
}

/// Pending versions up to `target`, with their SQL when asked.
fn pending_steps(status: &StatusReport, target: u32, with_sql: bool) -> Vec<Step> {
    let embedded = embedded::migrations();
    status
        .pending()
        .filter(|m| m.version <= target)
        .map(|m| Step {
            version: m.version,
            name: m.name.clone(),
            sql: with_sql
                .then(|| embedded.iter().find(|e| e.version() == m.version))
                .flatten()
                .and_then(|e| e.sql().map(str::to_string)),
        })
        .collect()
}
