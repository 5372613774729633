//! The checks behind `quota verify` and `quota check <name>`: small uniform
//! units that each inspect one aspect of an installation and say what to run
//! next when it is not right.
//!
//! A check returns `Err` only when it could not look (the connection broke,
//! a catalog query failed); everything it finds wrong is a `fail` result.

pub mod drift;
pub mod grants;
pub mod routine;
pub mod schema;
pub mod security;
pub mod tiers;
pub mod trigger;
pub mod verdict;

use crate::{db, sql};
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::PgConnection;

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Not wrong, but worth a look (e.g. a Supabase role absent on plain Postgres).
    Warn,
    Fail,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        })
    }
}

/// One line of `quota verify`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to run next; empty when nothing needs doing.
    pub hint: String,
}

impl CheckResult {
    pub fn failed(&self) -> bool {
        self.status == Status::Fail
    }
}

/// The checks, in the order `verify` runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Check {
    /// The information_schema.routines query: FUNCTION returning record.
    Routine,
    /// The schema contract: every table, column and type.
    Schema,
    /// enforce_clip_limit_trigger exists on public.clips, AFTER INSERT for each statement (V7), enabled.
    Trigger,
    /// service_role/authenticated can execute the function (authenticated without it: server-side only, passes); PUBLIC/anon cannot.
    Grants,
    /// search_path pinned with pg_temp last, SECURITY DEFINER, cross-user guard on every JWT path, no API write path to counters or limits, application triggers inside quota's writes pinned, no clip inserts for other users, no login inheriting an API role, no API role able to lock the tables quota writes.
    Security,
    /// Installed function and trigger match the embedded migrations.
    Drift,
    /// Every tier users are on has a clip limit of its own (a typo such as 'Pro' gets the free limit): a warning.
    Tiers,
}

impl Check {
    pub const ALL: [Check; 7] = [
        Check::Routine,
        Check::Schema,
        Check::Trigger,
        Check::Grants,
        Check::Security,
        Check::Drift,
        Check::Tiers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Check::Routine => "routine",
            Check::Schema => "schema",
            Check::Trigger => "trigger",
            Check::Grants => "grants",
            Check::Security => "security",
            Check::Drift => "drift",
            Check::Tiers => "tiers",
        }
    }

    async fn findings(self, conn: &mut PgConnection) -> Result<Findings> {
        match self {
            Check::Routine => routine::run(conn).await,
            Check::Schema => schema::run(conn).await,
            Check::Trigger => trigger::run(conn).await,
            Check::Grants => grants::run(conn).await,
            Check::Security => security::run(conn).await,
            Check::Drift => drift::run(conn).await,
            Check::Tiers => tiers::run(conn).await,
        }
    }
}

/// Runs one check. While versions are pending, `--repair` (which re-runs
/// only the applied ones) cannot fix a definition: the hint says `apply`.
pub async fn run_one(conn: &mut PgConnection, check: Check) -> Result<CheckResult> {
    let mut findings = check
        .findings(conn)
        .await
        .with_context(|| format!("running the {} check", check.name()))?;
    if versions_pending(conn).await? {
        findings.repair_means_apply();
    }
    Ok(findings.into_result(check.name()))
}

/// Whether this build has versions the database has not applied. Read in a
/// savepoint: a role that cannot read the history gets `false` and the
/// checks' transaction goes on.
pub(crate) async fn versions_pending(conn: &mut PgConnection) -> Result<bool> {
    use sqlx::Connection;
    let mut savepoint = conn.begin().await.context("starting a savepoint")?;
    let status = crate::migrate::status(&mut savepoint).await;
    savepoint.rollback().await.context("ending a savepoint")?;
    Ok(status.is_ok_and(|s| s.pending().next().is_some()))
}

/// Runs every check, in order.
pub async fn run_all(conn: &mut PgConnection) -> Result<Vec<CheckResult>> {
    let mut results = Vec::with_capacity(Check::ALL.len());
    for check in Check::ALL {
        results.push(run_one(conn, check).await?);
    }
    Ok(results)
}

/// The hint for anything quota installs that is missing.
pub const HINT_APPLY: &str =
    "run `quota migrate apply` (it installs only once `quota check schema` passes)";
/// The hint for installed objects that were changed by hand.
pub const HINT_REPAIR: &str =
    "run `quota migrate apply --repair` to reinstall the migrations' definitions";
/// What replaces [`HINT_REPAIR`] while versions are pending.
pub const HINT_APPLY_PENDING: &str = "run `quota migrate apply`: the pending versions install the \
     current definitions (re-running the applied ones cannot)";

/// What a check found: notes (fine), warnings and failures, each with a hint.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    notes: Vec<String>,
    warnings: Vec<(String, String)>,
    failures: Vec<(String, String)>,
}

impl Findings {
    pub(crate) fn note(&mut self, detail: impl Into<String>) {
        self.notes.push(detail.into());
    }

    pub(crate) fn warn(&mut self, detail: impl Into<String>, hint: impl Into<String>) {
        self.warnings.push((detail.into(), hint.into()));
    }

    pub(crate) fn fail(&mut self, detail: impl Into<String>, hint: impl Into<String>) {
        self.failures.push((detail.into(), hint.into()));
    }

    pub(crate) fn has_failures(&self) -> bool {
        !self.failures.is_empty()
    }

    /// Every [`HINT_REPAIR`] becomes [`HINT_APPLY_PENDING`].
    fn repair_means_apply(&mut self) {
        for (_, hint) in self.failures.iter_mut().chain(self.warnings.iter_mut()) {
            if hint == HINT_REPAIR {
                *hint = HINT_APPLY_PENDING.to_string();
            }
        }
    }

    /// Failures first, then warnings; notes only when all is well. Hints are
    /// de-duplicated so the same advice is not repeated.
    pub(crate) fn into_result(self, name: &'static str) -> CheckResult {
        let (status, shown) = if !self.failures.is_empty() {
            let mut shown = self.failures;
            shown.extend(self.warnings);
            (Status::Fail, shown)
        } else if !self.warnings.is_empty() {
            (Status::Warn, self.warnings)
        } else {
            (
                Status::Pass,
                self.notes.into_iter().map(|n| (n, String::new())).collect(),
            )
        };
        let detail: Vec<&str> = shown.iter().map(|(d, _)| d.as_str()).collect();
        let mut hints: Vec<&str> = Vec::new();
        for (_, h) in &shown {
            if !h.is_empty() && !hints.contains(&h.as_str()) {
                hints.push(h);
            }
        }
        CheckResult {
            name,
            status,
            detail: detail.join("; "),
            hint: hints.join("; "),
        }
    }
}

/// The oid of a function given by signature, `None` when it does not exist.
pub(crate) async fn function_oid(conn: &mut PgConnection, signature: &str) -> Result<Option<u32>> {
    let oid: Option<sqlx::postgres::types::Oid> = db::query_scalar(sql::FUNCTION_OID)
        .bind(signature)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("looking up {signature}"))?;
    Ok(oid.map(|o| o.0))
}

/// The RPC the migrations install.
pub const RPC: &str = "public.increment_usage_if_allowed(uuid)";
/// The clip limit's trigger function.
pub const TRIGGER_FUNCTION: &str = "public.enforce_clip_limit()";
/// Supabase's API roles.
pub const API_ROLES: [&str; 3] = ["anon", "authenticated", "service_role"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_win_and_hints_are_not_repeated() {
        let mut f = Findings::default();
        f.note("all good");
        f.warn("role x absent", "create it");
        f.fail("a broken", HINT_APPLY);
        f.fail("b broken", HINT_APPLY);
        let r = f.into_result("t");
        assert!(r.failed());
        assert_eq!(r.detail, "a broken; b broken; role x absent");
        assert_eq!(r.hint, format!("{HINT_APPLY}; create it"));
    }

    #[test]
    fn notes_show_only_when_passing() {
        let mut f = Findings::default();
        f.note("fine");
        let r = f.into_result("t");
        assert_eq!(r.status, Status::Pass);
        assert_eq!(r.detail, "fine");
        assert!(r.hint.is_empty());
        let mut f = Findings::default();
        f.warn("hmm", "");
        assert_eq!(f.into_result("t").status, Status::Warn);
    }
}
