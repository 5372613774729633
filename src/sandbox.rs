//! `quota sandbox`: from a clone to a verified, raced database with nothing
//! configured. A throwaway PostgreSQL is started from the local server
//! binaries (the same discovery and root handling as the tests), the demo
//! schema loaded, the migrations applied, the result verified and raced on
//! both targets; then everything is torn down, also on Ctrl-C.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::checks::{self, CheckResult};
use crate::cluster::{self, Cluster, ClusterOptions};
use crate::db;
use crate::error;
use crate::interrupt::Interrupt;
use crate::load::race::{self, RaceOptions, RacePath, RaceReport};
use crate::migrate::{self, ApplyOptions};
use crate::output::{self, Tone};
use crate::sql;
use crate::ui::Ui;

/// The Supabase-shaped demo schema with its sample users.
pub use crate::sql::DEMO_SCHEMA;

/// Everything the sandbox did; its JSON is part of the documented output.
#[derive(Debug, Serialize)]
pub struct SandboxReport {
    /// `SELECT version()` of the throwaway server.
    pub postgres: String,
    pub database_version: u32,
    pub migrations_applied: Vec<String>,
    pub verify: VerifySummary,
    pub races: Vec<RaceReport>,
    /// The same races through the unsafe read-then-write path: the
    /// over-admission the migrations prevent (shown, never a failure).
    pub naive_races: Vec<RaceReport>,
    /// True when verify passed and no race was violated.
    pub passed: bool,
    /// Set with `--keep`: where the sandbox runs and how to stop it.
    pub kept: Option<Kept>,
}

#[derive(Debug, Serialize)]
pub struct Kept {
    /// The superuser URL, with the sandbox's generated password: the only
    /// place quota prints a password, because you need it to connect.
    pub url: String,
    pub dir: PathBuf,
    pub stop: String,
}

/// `quota verify`'s result inside the sandbox report.
#[derive(Debug, Serialize)]
pub struct VerifySummary {
    pub passed: bool,
    pub checks: Vec<CheckResult>,
}

/// How one step of the sandbox went, as its table shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    /// Done (the server started, the migrations applied, a naive race that
    /// happened not to over-admit).
    Ok,
    Pass,
    Warn,
    Fail,
    /// A naive race admitted more than the limit: what the migrations prevent.
    OverAdmitted,
}

impl StepStatus {
    /// A verify check's status.
    pub fn of_check(check: &CheckResult) -> Self {
        match check.status {
            checks::Status::Pass => StepStatus::Pass,
            checks::Status::Warn => StepStatus::Warn,
            checks::Status::Fail => StepStatus::Fail,
        }
    }

    /// A race through the enforcement fails when it admitted anything but
    /// exactly what the limit allows.
    pub fn of_race(race: &RaceReport) -> Self {
        if race.violation().is_some() {
            StepStatus::Fail
        } else {
            StepStatus::Pass
        }
    }

    /// A naive race is shown, never a failure: its over-admission is the
    /// point of the demonstration.
    pub fn of_naive_race(race: &RaceReport) -> Self {
        if race.over_admitted > 0 {
            StepStatus::OverAdmitted
        } else {
            StepStatus::Ok
        }
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StepStatus::Ok => "ok",
            StepStatus::Pass => "pass",
            StepStatus::Warn => "warn",
            StepStatus::Fail => "fail",
            StepStatus::OverAdmitted => "over-admitted",
        })
    }
}

impl output::Status for StepStatus {
    fn tone(&self) -> Tone {
        match self {
            StepStatus::Ok | StepStatus::Pass => Tone::Good,
            StepStatus::Warn => Tone::Attention,
            StepStatus::Fail | StepStatus::OverAdmitted => Tone::Bad,
        }
    }
}

/// Runs the whole sandbox. The cluster is stopped and removed on every
/// path except a successful `keep`.
pub async fn run(keep: bool, ui: &Ui, interrupt: &Interrupt) -> Result<SandboxReport> {
    let bindir = tokio::task::spawn_blocking(Cluster::find_bindir)
        .await
        .context("the server lookup task failed")?
        .map_err(|e| error::precondition(format!("{e:#}")))?;
    ui.info(&format!(
        "starting a throwaway PostgreSQL from {}",
        bindir.display()
    ));
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(sandbox_options()))
        .await
        .context("the server start task failed")?;
    // A Ctrl-C during the start is the reason it stopped, whatever failed.
    let cluster = match cluster {
        Err(_) if interrupt.is_set() => {
            return Err(crate::interrupt::interrupted("nothing was left running"))
        }
        other => other?,
    };
    let url = cluster.admin_url();
    let outcome = interrupt.check("nothing was left running").map(|_| ());
    let outcome = match outcome {
        Ok(()) => exercise(&url, ui, interrupt).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(mut report) if keep => {
            let (url, dir) = cluster.keep();
            report.kept = Some(Kept {
                stop: stop_command(&bindir, &dir),
                url,
                dir,
            });
            Ok(report)
        }
        other => {
            ui.info("tearing the sandbox down");
            teardown(cluster).await?;
            if interrupt.is_set() {
                // An interrupted race says itself what it cleaned up; any
                // other failure after a Ctrl-C is the Ctrl-C's doing.
                return match other {
                    Err(e) if error::kind_of(&e) == error::ExitKind::Interrupted => Err(e),
                    _ => Err(crate::interrupt::interrupted("the sandbox was torn down")),
                };
            }
            other
        }
    }
}

/// A throwaway server needs no durability; this keeps setup fast.
fn sandbox_options() -> ClusterOptions {
    ClusterOptions {
        extra_settings: vec![
            ("fsync".into(), "off".into()),
            ("full_page_writes".into(), "off".into()),
        ],
        ..ClusterOptions::default()
    }
}

async fn teardown(mut cluster: Cluster) -> Result<()> {
    tokio::task::spawn_blocking(move || cluster.stop())
        .await
        .context("the server stop task failed")?
        .context("could not tear the sandbox down")
}

/// Demo schema, migrations, verify, races: what the sandbox shows.
async fn exercise(url: &str, ui: &Ui, interrupt: &Interrupt) -> Result<SandboxReport> {
    let timeout = Duration::from_secs(db::Database::DEFAULT_CONNECT_TIMEOUT_SECS);
    let target = db::Database::new(Some(url.to_string()), timeout);
    let mut conn = target.connect().await?;
    let postgres: String = {
        let mut tx = conn.read_only().await?;
        db::query_scalar(sql::SERVER_VERSION)
            .fetch_one(&mut *tx)
            .await?
    };

    ui.info("loading the demo schema (sql/demo/schema.sql)");
    conn.simple(DEMO_SCHEMA)
        .await
        .context("could not load the demo schema")?;
    interrupt.check("the sandbox was torn down")?;

    ui.info("applying the migrations");
    let applied = migrate::apply(&mut conn, ApplyOptions::default(), ui).await?;
    interrupt.check("the sandbox was torn down")?;

    ui.info("verifying");
    let verify = verify_step(&mut conn).await?;

    let (mut races, mut naive_races) = (Vec::new(), Vec::new());
    let mut finished: Vec<String> = Vec::new();
    for naive in [false, true] {
        for target_kind in [RacePath::Rpc, RacePath::Trigger] {
            let mode = if naive {
                " (naive read-then-write)"
            } else {
                ""
            };
            let label = format!("{}{mode}", target_kind.as_str());
            ui.info(&format!("racing {label}"));
            // The `quota race` defaults.
            let opts = RaceOptions {
                target: target_kind,
                naive,
                ..RaceOptions::default()
            };
            let report = race::run(&target, &opts, ui, interrupt)
                .await
                .map_err(|e| interrupted_race(e, &finished, &label, interrupt))?;
            finished.push(label);
            if naive {
                naive_races.push(report);
            } else {
                races.push(report);
            }
        }
    }
    let passed = verify.passed && races.iter().all(|r| r.violation().is_none());
    Ok(SandboxReport {
        postgres,
        database_version: applied.database_version,
        migrations_applied: applied
            .steps
            .iter()
            .map(|s| format!("V{}__{}", s.version, s.name))
            .collect(),
        verify,
        races,
        naive_races,
        passed,
        kept: None,
    })
}

/// The sandbox's verify step: every check of `quota verify`.
async fn verify_step(db: &mut db::Session) -> Result<VerifySummary> {
    let mut tx = db.begin().await?;
    let checks = checks::run_all(&mut tx).await?;
    tx.rollback().await?;
    Ok(VerifySummary {
        passed: !checks.iter().any(CheckResult::failed),
        checks,
    })
}

/// How to stop a kept sandbox; as root the server runs as another user.
fn stop_command(bindir: &Path, dir: &Path) -> String {
    let pg_ctl = format!(
        "{} -D {} stop",
        bindir.join("pg_ctl").display(),
        dir.join("data").display()
    );
    let stop = match cluster::owner_when_root(&dir.join("data")) {
        Some(owner) => format!("su -s /bin/sh {owner} -c '{pg_ctl}'"),
        None => pg_ctl,
    };
    format!("{stop} && rm -rf {}", dir.display())
}

/// A race stopped by Ctrl-C: says which races finished and which one was
/// interrupted (with what that race cleaned up); other errors pass as they are.
fn interrupted_race(
    e: anyhow::Error,
    finished: &[String],
    current: &str,
    interrupt: &Interrupt,
) -> anyhow::Error {
    if !interrupt.is_set() {
        return e;
    }
    crate::interrupt::interrupted(&interrupted_race_message(&e, finished, current))
}

fn interrupted_race_message(e: &anyhow::Error, finished: &[String], current: &str) -> String {
    let own = if error::kind_of(e) == error::ExitKind::Interrupted {
        let text = e.to_string();
        let text = text.strip_prefix("interrupted; ").unwrap_or(&text);
        format!(" ({text})")
    } else {
        String::new()
    };
    let done = match finished {
        [] => String::new(),
        [one] => format!("the {one} race finished, "),
        many => format!("the {} races finished, ", many.join(", ")),
    };
    format!("{done}the {current} race was interrupted{own}; the sandbox was torn down")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_race_names_the_races_that_finished() {
        let e = crate::interrupt::interrupted("nothing was raced");
        let line = interrupted_race_message(&e, &["rpc".to_string()], "trigger");
        assert_eq!(
            line,
            "the rpc race finished, the trigger race was interrupted (nothing was raced); \
             the sandbox was torn down"
        );
        let first = interrupted_race_message(&e, &[], "rpc");
        assert!(first.starts_with("the rpc race was interrupted"), "{first}");
    }
}
