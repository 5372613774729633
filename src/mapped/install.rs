//! `migrate apply`, `apply --repair` and `rollback` for mapped meters: one
//! transaction per meter, under the migration lock, with `lock_timeout`
//! and bounded retries, re-reading `quota.meters` under the lock so that
//! concurrent appliers serialise and the second finds nothing to do.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{Executor, PgConnection};

use super::history::{self, Installed};
use super::{MeterState, State};
use crate::db::Session;
use crate::error::{self, cause, sqlstate};
use crate::mapping::render::{self, Rendered};
use crate::mapping::Meter;
use crate::migrate::lock::{self, LockPolicy};
use crate::sql;
use crate::ui::Ui;

/// What happened to one meter.
#[derive(Clone, Debug, Serialize)]
pub struct MeterOutcome {
    pub meter: String,
    /// installed, unchanged, repaired, removed, not-in-file, or with
    /// `--dry-run` would-install, would-repair, would-remove.
    pub action: &'static str,
    pub detail: String,
    /// With `--dry-run`: the SQL that would run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sql: String,
}

/// `migrate apply` (and `--repair`, `--dry-run`) on a mapping.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub meters: Vec<MeterOutcome>,
}

/// Installs the file's pending meters; with `repair`, reinstalls drifted
/// ones from the file (counters kept). Drift without `repair` refuses
/// before anything changes.
pub async fn apply(
    db: &mut Session,
    state: &State,
    repair: bool,
    dry_run: bool,
    policy: &LockPolicy,
    ui: &Ui,
) -> Result<Report> {
    let meters = state.meters()?;
    let states = state.states()?;
    let drifted: Vec<String> = states
        .iter()
        .filter_map(|(name, s)| match s {
            MeterState::Drifted(changes) => Some(format!("meters.{name} ({})", changes.join(", "))),
            _ => None,
        })
        .collect();
    if !drifted.is_empty() && !repair {
        return Err(error::precondition(format!(
            "the mapping changed since install: {}; run `quota migrate apply --repair` to install the \
             file's mapping (counters are kept)",
            drifted.join("; ")
        )));
    }
    let mut report = Report {
        dry_run,
        meters: Vec::new(),
    };
    for (name, meter_state) in &states {
        let outcome = match (meter_state, meters.iter().find(|m| m.name() == name)) {
            (MeterState::Pending, Some(meter)) => install(db, meter, None, dry_run, policy, ui).await?,
            (MeterState::Drifted(_), Some(meter)) => {
                install(db, meter, state.installed(name), dry_run, policy, ui).await?
            }
            (MeterState::NotInFile, _) => MeterOutcome {
                meter: name.clone(),
                action: "not-in-file",
                detail: "installed but no longer in the file; `quota migrate rollback --meter NAME` removes it"
                    .into(),
                sql: String::new(),
            },
            _ => MeterOutcome {
                meter: name.clone(),
                action: "unchanged",
                detail: String::new(),
                sql: String::new(),
            },
        };
        report.meters.push(outcome);
    }
    Ok(report)
}

/// Installs `meter` (replacing `previous`, for a repair) in one transaction.
async fn install(
    db: &mut Session,
    meter: &Meter,
    previous: Option<&Installed>,
    dry_run: bool,
    policy: &LockPolicy,
    ui: &Ui,
) -> Result<MeterOutcome> {
    let rendered = render::render(meter)?;
    let sql_text = install_sql(meter, previous, &rendered);
    let (action, done) = match (previous, dry_run) {
        (None, true) => ("would-install", ""),
        (Some(_), true) => ("would-repair", ""),
        (None, false) => ("installed", "installed"),
        (Some(_), false) => ("repaired", "repaired"),
    };
    let outcome = MeterOutcome {
        meter: meter.name().to_string(),
        action,
        detail: match previous {
            Some(_) => "function and trigger reinstalled from the file; counters kept".into(),
            None => String::new(),
        },
        sql: sql_text.clone(),
    };
    if dry_run {
        return Ok(outcome);
    }
    let checksum = rendered.checksum.clone();
    let name = meter.name().to_string();
    locked(db, policy, ui, &format!("installing meter {name}"), async |tx: &mut PgConnection| {
        // Under the lock: another applier may have installed it meanwhile.
        let now = history::read(tx).await?;
        let current = now.iter().find(|i| i.meter.name() == name);
        if current.is_some_and(|i| i.checksum == checksum) {
            return Ok(false);
        }
        if current.map(|i| &i.checksum) != previous.map(|p| &p.checksum) {
            return Err(error::precondition(format!(
                "meter {name} was changed by another quota process while this one waited; run the command again"
            )));
        }
        tx.execute(sqlx::raw_sql(&sql_text)).await?;
        history::record(tx, meter, &rendered).await?;
        Ok(true)
    })
    .await
    .map(|changed| {
        if changed {
            ui.info(&format!("meter {}: {done}", meter.name()));
            MeterOutcome {
                sql: String::new(),
                ..outcome.clone()
            }
        } else {
            MeterOutcome {
                action: "unchanged",
                detail: "installed meanwhile by another quota process".into(),
                sql: String::new(),
                ..outcome.clone()
            }
        }
    })
}

/// The SQL that installs `meter`: quota's own tables first (idempotent);
/// for a repair, the old function and trigger out first, and the old period
/// marker and limits too when the new mapping does not keep them.
fn install_sql(meter: &Meter, previous: Option<&Installed>, rendered: &Rendered) -> String {
    let mut text = String::from(sql::meters::BASE_INSTALL);
    if let Some(previous) = previous {
        text.push_str(&previous.revert_code);
        let kept = previous.meter.declared.counter.table == meter.declared.counter.table
            && previous.meter.marker() == meter.marker();
        if !kept {
            text.push_str(&previous.revert_data);
        }
    }
    text.push_str(&rendered.install);
    text
}

/// `migrate rollback --meter NAME` / `--target 0`: takes out each named
/// installed meter with the revert it was installed with; quota's own
/// tables (and its schema, when empty) go with the last one.
pub async fn rollback(
    db: &mut Session,
    installed: &[Installed],
    dry_run: bool,
    policy: &LockPolicy,
    ui: &Ui,
) -> Result<Report> {
    let mut report = Report {
        dry_run,
        meters: Vec::new(),
    };
    for meter in installed {
        let name = meter.meter.name().to_string();
        let text = format!("{}{}", meter.revert_code, meter.revert_data);
        if !dry_run {
            let checksum = meter.checksum.clone();
            let text = text.clone();
            let removed = locked(
                db,
                policy,
                ui,
                &format!("removing meter {name}"),
                async |tx: &mut PgConnection| {
                    let now = history::read(tx).await?;
                    if !now
                        .iter()
                        .any(|i| i.meter.name() == name && i.checksum == checksum)
                    {
                        return Ok(false);
                    }
                    tx.execute(sqlx::raw_sql(&text)).await?;
                    history::forget(tx, &name).await?;
                    if history::count(tx).await? == 0 {
                        tx.execute(sqlx::raw_sql(sql::meters::BASE_REVERT)).await?;
                    }
                    Ok(true)
                },
            )
            .await?;
            if !removed {
                report.meters.push(MeterOutcome {
                    meter: name,
                    action: "unchanged",
                    detail: "removed or changed meanwhile by another quota process".into(),
                    sql: String::new(),
                });
                continue;
            }
            ui.info(&format!("meter {name}: removed"));
        }
        report.meters.push(MeterOutcome {
            meter: name,
            action: if dry_run { "would-remove" } else { "removed" },
            detail: String::new(),
            sql: if dry_run { text } else { String::new() },
        });
    }
    Ok(report)
}

/// Runs `work` in a transaction that sets `lock_timeout` and takes the
/// migration lock; a lock timeout is retried as `policy` says, then named.
async fn locked<T>(
    db: &mut Session,
    policy: &LockPolicy,
    ui: &Ui,
    what: &str,
    work: impl AsyncFn(&mut PgConnection) -> Result<T>,
) -> Result<T> {
    let mut attempt = 0;
    loop {
        let mut tx = db.begin().await?;
        policy
            .set_lock_timeout(&mut tx)
            .await
            .context("setting lock_timeout")?;
        lock::acquire_xact(&mut tx, policy.lock_wait, ui).await?;
        let result = work(&mut tx).await;
        match result {
            Ok(value) => {
                tx.commit()
                    .await
                    .with_context(|| format!("committing: {what}"))?;
                return Ok(value);
            }
            Err(e) => {
                let _ = tx.rollback().await;
                let busy = cause::has_sqlstate(e.as_ref(), sqlstate::LOCK_NOT_AVAILABLE);
                if busy && attempt < policy.retries {
                    attempt += 1;
                    ui.info(&format!(
                        "{what}: a table is busy; trying again ({attempt} of {})",
                        policy.retries
                    ));
                    tokio::time::sleep(policy.backoff(attempt)).await;
                    continue;
                }
                if busy {
                    return Err(error::precondition(format!(
                        "{what}: a table stayed locked by other sessions through {} attempts; \
                         try again when it is quieter or raise --lock-timeout",
                        attempt + 1
                    )));
                }
                return Err(e.context(what.to_string()));
            }
        }
    }
}
