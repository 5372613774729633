//! `verify` and `check`: run checks in one transaction that is rolled back,
//! and say whether all passed.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::{function_oid, run_all, run_one, Check, CheckResult, RPC, TRIGGER_FUNCTION};
use crate::db;
use sqlx::Connection;

/// What `verify` and `check` print: `{"passed": bool, "checks": [...]}`.
#[derive(Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub checks: Vec<CheckResult>,
    /// `quota verify` or `quota check`: the JUnit suite's name.
    #[serde(skip)]
    pub suite: &'static str,
    /// How long the checks took, for JUnit's `time`.
    #[serde(skip)]
    pub elapsed: Duration,
    /// `verify` found nothing of quota installed (exit 4, not 1).
    #[serde(skip)]
    pub nothing_installed: bool,
}

impl Verdict {
    pub(crate) fn new(suite: &'static str, checks: Vec<CheckResult>, elapsed: Duration) -> Self {
        Verdict {
            passed: !checks.iter().any(CheckResult::failed),
            checks,
            suite,
            elapsed,
            nothing_installed: false,
        }
    }

    /// The names of the checks that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.name)
            .collect()
    }
}

/// Every check, in order.
pub async fn verify(database: &db::Database) -> Result<Verdict> {
    let mut db = database.connect().await?;
    let started = Instant::now();
    // One transaction for all checks, rolled back: the security check calls
    // the function as hostile callers would, and nothing of that may stay.
    let mut tx = db.begin().await?;
    let results = run_all(&mut tx).await?;
    let nothing_installed = nothing_installed(&mut tx).await?;
    tx.rollback().await?;
    let mut verdict = Verdict::new("quota verify", results, started.elapsed());
    verdict.nothing_installed = nothing_installed;
    Ok(verdict)
}

/// No version recorded and neither function present. A history this role
/// cannot read counts as installed: the checks have said what they could.
async fn nothing_installed(conn: &mut sqlx::PgConnection) -> Result<bool> {
    for signature in [RPC, TRIGGER_FUNCTION] {
        if function_oid(conn, signature).await?.is_some() {
            return Ok(false);
        }
    }
    let mut savepoint = conn.begin().await?;
    let status = crate::migrate::status(&mut savepoint).await;
    savepoint.rollback().await?;
    Ok(status.is_ok_and(|s| s.database_version == 0))
}

/// One check. Like `verify`, it notes when nothing of quota is installed
/// (exit 4), except `schema`: the contract is checked before installing.
pub async fn check(database: &db::Database, check: Check) -> Result<Verdict> {
    let mut db = database.connect().await?;
    let started = Instant::now();
    let mut tx = db.begin().await?;
    let result = run_one(&mut tx, check).await?;
    let nothing_installed = check != Check::Schema && nothing_installed(&mut tx).await?;
    tx.rollback().await?;
    let mut verdict = Verdict::new("quota check", vec![result], started.elapsed());
    verdict.nothing_installed = nothing_installed;
    Ok(verdict)
}
