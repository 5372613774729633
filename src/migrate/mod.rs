//! Versioned migrations: apply (through refinery), status, and rollback
//! (this project's own, from the revert scripts).
//!
//! Both apply and rollback run under [`lock`], the advisory migration lock,
//! and run their DDL with a short `lock_timeout` and bounded retries, so a
//! busy `clips` table makes the migration wait and retry instead of making
//! the application's inserts queue behind it.

pub mod adoption;
pub mod advice;
pub mod driver;
pub mod embedded;
pub mod history;
pub mod limits;
pub mod lock;
pub mod repair;

use std::time::Duration;

use anyhow::Result;
use refinery::{Migration, Target};
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::contract;
use crate::exit::{self, sqlstate};
use crate::ui::Ui;
use driver::SqlxDriver;
use embedded::HISTORY_TABLE;

/// The tables migrations and reverts take locks on; a session holding
/// one of them is what a lock timeout is waiting for.
const TOUCHED_TABLES: &[&str] = &[
    "public.users",
    "public.user_usage",
    "public.clips",
    "public.clip_limits",
    HISTORY_TABLE,
];

/// How long DDL may wait for a table lock, and how often to try again.
#[derive(Clone, Copy, Debug)]
pub struct LockPolicy {
    /// `lock_timeout` for each migration transaction.
    pub lock_timeout: Duration,
    /// Further attempts after a lock timeout.
    pub retries: u32,
    /// How long to wait for another quota process holding the migration lock.
    pub lock_wait: Duration,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            lock_timeout: Duration::from_secs(2),
            retries: 5,
            lock_wait: Duration::from_secs(300),
        }
    }
}

impl LockPolicy {
    /// Sent at the start of each migration or revert transaction.
    pub(crate) fn prelude(&self) -> String {
        // An integer, never user text: safe to put in the statement.
        format!(
            "SET LOCAL lock_timeout = '{}ms'",
            self.lock_timeout.as_millis().max(1)
        )
    }

    /// Exponential backoff between attempts, capped, so retries stay bounded.
    fn backoff(&self, attempt: u32) -> Duration {
        let ms = 250u64.saturating_mul(1 << attempt.min(5));
        Duration::from_millis(ms.min(4000))
    }
}

/// Where one embedded or recorded version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but from a file whose checksum differs from the embedded one.
    Drifted,
    /// Recorded in the database, unknown to this build (a newer quota applied it).
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Drifted => "drifted",
            State::Unknown => "unknown",
        }
    }
}

/// One row of `quota migrate status`.
#[derive(Clone, Debug, Serialize)]
pub struct VersionStatus {
    pub version: u32,
    pub name: String,
    pub state: State,
    /// RFC 3339, when applied.
    pub applied_on: Option<String>,
    /// refinery's checksum of the embedded file (of the recorded one for `unknown`).
    pub checksum: String,
}

/// The whole status: every version, in order.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// Highest applied version, 0 when nothing is applied.
    pub database_version: u32,
    /// Highest version this build knows.
    pub latest_version: u32,
    pub migrations: Vec<VersionStatus>,
}

impl Status {
    pub fn pending(&self) -> impl Iterator<Item = &VersionStatus> {
        self.migrations.iter().filter(|m| m.state == State::Pending)
    }

    fn troubles(&self) -> Vec<&VersionStatus> {
        self.migrations
            .iter()
            .filter(|m| matches!(m.state, State::Drifted | State::Unknown))
            .collect()
    }
}

/// Reads the history; `None` when the history table does not exist yet.
pub async fn history(conn: &mut PgConnection) -> Result<Vec<Migration>> {
    // Until `apply` moves it, an older install's history is in its old place.
    let Some(table) = history::locate(conn).await? else {
        return Ok(Vec::new());
    };
    let mut driver = SqlxDriver::new(conn, "");
    let applied = embedded::runner_at(table)
        .get_applied_migrations_async(&mut driver)
        .await;
    match applied {
        Ok(applied) => Ok(applied),
        Err(e) => Err(history_error(conn, e).await),
    }
}

/// Why the history could not be read, and what to do about it.
async fn history_error(conn: &mut PgConnection, e: refinery::Error) -> anyhow::Error {
    match find_db_error(&e) {
        // A row refinery cannot read (a checksum or date edited by hand).
        Some((None, msg)) if msg.contains("history row") => exit::precondition(format!(
            "{HISTORY_TABLE} has a malformed row ({msg}); it was edited by hand: restore the row \
             (see `quota migrate apply --dry-run` for the versions) or remove it and re-apply"
        )),
        Some((Some(code), msg)) if code == "42501" => {
            let me: String = sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(&mut *conn)
                .await
                .unwrap_or_else(|_| "the role quota connects as".to_string());
            exit::precondition(format!(
                "cannot read {HISTORY_TABLE}: {msg}; {}",
                crate::db::permission_hint(&msg, &me)
            ))
        }
        Some((_, msg)) => anyhow::anyhow!("reading {HISTORY_TABLE}: {msg}"),
        None => anyhow::Error::new(e).context(format!("reading {HISTORY_TABLE}")),
    }
}

/// Compares the history with the embedded migrations.
pub async fn status(conn: &mut PgConnection) -> Result<Status> {
    let applied = history(conn).await?;
    let embedded = embedded::migrations();
    let mut rows: Vec<VersionStatus> = embedded
        .iter()
        .map(|m| {
            let record = applied.iter().find(|a| a.version() == m.version());
            let state = match record {
                None => State::Pending,
                Some(a) if a.checksum() == m.checksum() => State::Applied,
                Some(_) => State::Drifted,
            };
            VersionStatus {
                version: m.version(),
                name: m.name().to_string(),
                state,
                applied_on: record.and_then(|a| a.applied_on()).map(format_time),
                checksum: m.checksum().to_string(),
            }
        })
        .collect();
    for a in applied
        .iter()
        .filter(|a| !embedded.iter().any(|m| m.version() == a.version()))
    {
        rows.push(VersionStatus {
            version: a.version(),
            name: a.name().to_string(),
            state: State::Unknown,
            applied_on: a.applied_on().map(format_time),
            checksum: a.checksum().to_string(),
        });
    }
    rows.sort_by_key(|r| r.version);
    Ok(Status {
        database_version: applied.iter().map(|a| a.version()).max().unwrap_or(0),
        latest_version: embedded::latest_version(),
        migrations: rows,
    })
}

fn format_time(t: &time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// One migration that `apply` ran (or would run, with `--dry-run`).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub version: u32,
    pub name: String,
    /// The SQL, only for dry runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// What `apply` or `rollback` did.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub dry_run: bool,
    /// Versions run, in the order they ran.
    pub steps: Vec<Step>,
    /// The database version afterwards (before, for a dry run).
    pub database_version: u32,
    /// Transactions tried, including lock-timeout retries: one per version
    /// applied, reverted or repaired, plus one per retry; 0 for a dry run
    /// or when there was nothing to do.
    pub attempts: u32,
}

/// Options of `quota migrate apply`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApplyOptions {
    pub dry_run: bool,
    pub target: Option<u32>,
    pub policy: LockPolicy,
}

/// Checks the schema contract, then applies pending versions up to the
/// target under the migration lock.
pub async fn apply(conn: &mut PgConnection, opts: ApplyOptions, ui: &Ui) -> Result<Outcome> {
    let target = opts.target.unwrap_or_else(embedded::latest_version);
    if target > embedded::latest_version() {
        return Err(exit::usage(format!(
            "--target {target} is beyond the newest migration (V{})",
            embedded::latest_version()
        )));
    }
    require_contract(conn).await?;
    if opts.dry_run {
        let status = status(conn).await?;
        refuse_troubles(&status)?;
        adoption::refuse(conn, &status, target).await?;
        return Ok(Outcome {
            dry_run: true,
            steps: pending_steps(&status, target, true),
            database_version: status.database_version,
            attempts: 0,
        });
    }
    lock::acquire(conn, opts.policy.lock_wait, ui).await?;
    let result = apply_locked(conn, target, opts.policy, ui).await;
    let released = lock::release(conn).await;
    let outcome = result?;
    released?;
    Ok(outcome)
}

async fn apply_locked(
    conn: &mut PgConnection,
    target: u32,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    let before = status(conn).await?;
    refuse_troubles(&before)?;
    adoption::refuse(conn, &before, target).await?;
    // Only once nothing refuses: a refused apply changes nothing.
    history::prepare(conn, policy).await?;
    if before.database_version > target {
        // Already past the target: nothing to apply (see `advice`).
        return Ok(Outcome {
            dry_run: false,
            steps: Vec::new(),
            database_version: before.database_version,
            attempts: 0,
        });
    }
    let steps = pending_steps(&before, target, false);
    ui.debug(&format!(
        "database at V{}; applying {} version(s) up to V{target}; lock_timeout {}ms, up to {} retries",
        before.database_version,
        steps.len(),
        policy.lock_timeout.as_millis(),
        policy.retries
    ));
    let run = async |c: &mut PgConnection| {
        let runner = embedded::runner()
            .set_target(Target::Version(target))
            .set_abort_divergent(true)
            .set_abort_missing(true);
        runner
            .run_async(&mut SqlxDriver::new(c, policy.prelude()))
            .await
            .map(|_| ())
    };
    let attempt = match retry_while_busy(conn, policy, ui, "apply", run).await {
        Ok(attempts) => attempts,
        Err(Retried::GaveUp(e)) => return Err(e),
        Err(Retried::Failed(e)) => return Err(migration_error(conn, e, "applying").await),
    };
    let after = status(conn).await?;
    Ok(Outcome {
        dry_run: false,
        // Transactions tried, as rollback and repair count them: one per
        // version applied, plus one per lock-timeout retry.
        attempts: steps.len() as u32 + attempt - 1,
        steps,
        database_version: after.database_version,
    })
}

/// Pending versions up to `target`, with their SQL when asked.
fn pending_steps(status: &Status, target: u32, with_sql: bool) -> Vec<Step> {
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

/// Refuses to apply on a database whose history this build cannot vouch for.
fn refuse_troubles(status: &Status) -> Result<()> {
    let troubles = status.troubles();
    if troubles.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = troubles
        .iter()
        .map(|t| format!("V{}__{} ({})", t.version, t.name, t.state.as_str()))
        .collect();
    Err(exit::precondition(format!(
        "the migration history does not match this build: {}; drifted means the recorded checksum \
         differs from the embedded file (history edited, or applied by another build): \
         `quota migrate apply --repair` re-runs this build's file and re-records it; unknown means \
         a newer quota applied it: use that version; see `quota migrate status`",
        names.join(", ")
    )))
}

/// Refuses when the application's schema does not fit the contract.
pub async fn require_contract(conn: &mut PgConnection) -> Result<()> {
    let problems = contract::inspect(conn).await?;
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    Err(exit::precondition(format!(
        "the schema does not fit the contract, nothing was installed: {}; see `quota check schema`",
        list.join("; ")
    )))
}

fn is_lock_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    // 55P03 lock_not_available (lock_timeout), 40P01 deadlock_detected.
    matches!(sqlstate(e).as_deref(), Some("55P03") | Some("40P01"))
}

/// The error after the last retry: names the sessions in the way.
async fn lock_timeout_error(
    conn: &mut PgConnection,
    what: &str,
    attempts: u32,
    policy: LockPolicy,
) -> anyhow::Error {
    let (blockers, pids) = match blocking_sessions(conn).await {
        Ok(b) if !b.is_empty() => (
            b.iter()
                .map(|(_, d)| d.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            b.iter().map(|(pid, _)| *pid).collect(),
        ),
        Ok(_) => (
            "no session holds a lock on those tables now".to_string(),
            Vec::new(),
        ),
        Err(e) => (format!("could not list them: {e:#}"), Vec::new()),
    };
    exit::precondition(format!(
        "gave up on {what} after {attempts} attempts: a table lock was not granted within lock_timeout \
         {}ms; blocking: {blockers}; let that transaction finish (or end it with \
         {}) and run the command again, or raise --lock-timeout/--retries",
        policy.lock_timeout.as_millis(),
        advice::terminate_sql(&pids)
    ))
}

/// Why a step retried by [`retry_while_busy`] did not succeed.
pub(crate) enum Retried<E> {
    /// Every attempt timed out on a table lock; the error names the blockers.
    GaveUp(anyhow::Error),
    /// The step failed for another reason, which the caller explains.
    Failed(E),
}

/// Runs one transactional step, retrying with backoff while it times out on
/// a table lock (each attempt rolled back whole), up to `policy.retries`
/// more times. Returns the number of attempts it took.
pub(crate) async fn retry_while_busy<E>(
    conn: &mut PgConnection,
    policy: LockPolicy,
    ui: &Ui,
    what: &str,
    mut step: impl AsyncFnMut(&mut PgConnection) -> Result<(), E>,
) -> Result<u32, Retried<E>>
where
    E: std::error::Error + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step(conn).await {
            Ok(()) => return Ok(attempt),
            Err(e) if is_lock_timeout(&e) && attempt <= policy.retries => {
                let pause = policy.backoff(attempt);
                ui.info(&format!(
                    "a table is busy (lock_timeout {}ms) during {what}; retrying in {}ms ({attempt}/{})",
                    policy.lock_timeout.as_millis(),
                    pause.as_millis(),
                    policy.retries
                ));
                tokio::time::sleep(pause).await;
            }
            Err(e) if is_lock_timeout(&e) => {
                return Err(Retried::GaveUp(
                    lock_timeout_error(conn, what, attempt, policy).await,
                ))
            }
            Err(e) => return Err(Retried::Failed(e)),
        }
    }
}

/// Each blocker's pid and "pid 123 (alice, idle in transaction for 12s: INSERT INTO clips ...)".
pub async fn blocking_sessions(conn: &mut PgConnection) -> Result<Vec<(i32, String)>> {
    let tables: Vec<String> = TOUCHED_TABLES.iter().map(|t| t.to_string()).collect();
    let rows: Vec<(i32, String, String, f64, String, String)> =
        sqlx::query_as(include_str!("../../sql/queries/blocking_sessions.sql"))
            .bind(&tables)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(pid, user, state, secs, query, locks)| {
            let text =
                format!("pid {pid} ({user}, {state} for {secs:.0}s, holds {locks}: {query})");
            (pid, text)
        })
        .collect())
}

/// One line for a failed migration, with what to do about it.
async fn migration_error(
    conn: &mut PgConnection,
    e: refinery::Error,
    doing: &str,
) -> anyhow::Error {
    // refinery says which version failed: "error applying migration V3__clip_limit".
    let version = match e.kind() {
        refinery::error::Kind::Connection(what, _) => what
            .rsplit(' ')
            .next()
            .filter(|v| v.starts_with('V'))
            .map(|v| format!(" {v}")),
        _ => None,
    }
    .unwrap_or_default();
    if crate::db::is_connection_lost(&e) {
        return connection_lost(&format!("{doing}{version}"), &e);
    }
    match find_db_error(&e) {
        Some((Some(code), msg)) if code == "42501" => {
            let hint = ownership_hint(conn).await;
            exit::precondition(format!(
                "permission denied while {doing}{version}: {msg}; nothing of it was kept; {hint}"
            ))
        }
        Some((code, msg)) => exit::error(
            exit::ExitKind::Internal,
            format!(
                "{doing}{version} failed{}: {msg}; nothing of the failing version was kept",
                code.map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default()
            ),
        ),
        None => match e.kind() {
            refinery::error::Kind::DivergentVersion(..)
            | refinery::error::Kind::MissingVersion(..) => {
                exit::precondition(format!("{e}; see `quota migrate status`"))
            }
            _ => exit::error(
                exit::ExitKind::Internal,
                format!("{doing}{version} failed: {e}"),
            ),
        },
    }
}

/// The server dropped the session mid-way (crash, pg_terminate_backend,
/// network): its open transaction was rolled back, unless the COMMIT got
/// through just before; say so and how to find out and finish.
fn connection_lost(during: &str, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    let cause = find_db_error(e)
        .map(|(_, msg)| msg)
        .unwrap_or_else(|| e.to_string());
    exit::error(
        exit::ExitKind::Connect,
        format!(
            "the connection to the server was lost while {during} ({cause}); each version is kept \
             whole or not at all (the server rolls back one whose COMMIT did not arrive): check \
             `quota migrate status` and run the command again"
        ),
    )
}

/// Migrations add columns to, and a trigger on, the application's tables:
/// only their owner may. Names the roles involved and the grants that fix it.
pub(crate) async fn ownership_hint(conn: &mut PgConnection) -> String {
    let roles: Result<(String, Option<String>), sqlx::Error> =
        sqlx::query_as(include_str!("../../sql/queries/table_owner.sql"))
            .fetch_one(&mut *conn)
            .await;
    let roles = roles.map(|(me, owner)| {
        (
            crate::db::quote_ident(&me),
            owner.map(|o| crate::db::quote_ident(&o)),
        )
    });
    match roles {
        Ok((me, Some(owner))) if me != owner => format!(
            "run quota as {owner}, the owner of public.users (on Supabase: postgres), or as {owner} \
             run: GRANT CREATE ON SCHEMA public TO {me}; GRANT {owner} TO {me}"
        ),
        Ok((me, _)) => format!(
            "as the owner of schema public run: GRANT USAGE, CREATE ON SCHEMA public TO {me}"
        ),
        Err(_) => "run quota as the owner of public.users, public.user_usage and public.clips \
                   (on Supabase: postgres)"
            .to_string(),
    }
}

fn find_db_error(e: &(dyn std::error::Error + 'static)) -> Option<(Option<String>, String)> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(sqlx_err) = c.downcast_ref::<sqlx::Error>() {
            return Some(match sqlx_err {
                sqlx::Error::Database(db) => {
                    (db.code().map(|c| c.into_owned()), db.message().to_string())
                }
                other => (None, other.to_string()),
            });
        }
        cause = c.source();
    }
    None
}

/// Options of `quota migrate rollback`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RollbackOptions {
    /// Version to end at; `None` means one step back.
    pub target: Option<u32>,
    pub dry_run: bool,
    pub policy: LockPolicy,
}

/// The versions a rollback to `target` would revert, newest first.
pub fn rollback_plan(status: &Status, target: Option<u32>) -> Result<Vec<Step>> {
    advice::check_rollback(target)?;
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
        let sql = embedded::revert_sql(m.version).ok_or_else(|| {
            exit::precondition(format!(
                "V{}__{} was applied by a newer quota and this build has no revert script for it; \
                 roll it back with that version of quota",
                m.version, m.name
            ))
        })?;
        plan.push(Step {
            version: m.version,
            name: m.name.clone(),
            sql: Some(sql.to_string()),
        });
    }
    Ok(plan)
}

/// Runs the revert scripts of `plan` (from [`rollback_plan`]), newest first,
/// each with the removal of its history row in one transaction. The caller
/// holds the migration lock.
pub async fn rollback_locked(
    conn: &mut PgConnection,
    plan: &[Step],
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    let mut attempts = 0;
    for step in plan {
        let sql = step.sql.as_deref().unwrap_or_default();
        let revert = async |c: &mut PgConnection| revert_one(c, step.version, sql, policy).await;
        match retry_while_busy(conn, policy, ui, "rollback", revert).await {
            Ok(n) => attempts += n,
            Err(Retried::GaveUp(e)) => return Err(e),
            Err(Retried::Failed(e)) => return Err(revert_error(conn, step, e).await),
        }
    }
    let after = status(conn).await?;
    Ok(Outcome {
        dry_run: false,
        steps: plan
            .iter()
            .map(|s| Step {
                sql: None,
                ..s.clone()
            })
            .collect(),
        database_version: after.database_version,
        attempts,
    })
}

/// One line for a revert that failed for a reason other than a busy table.
async fn revert_error(conn: &mut PgConnection, step: &Step, e: sqlx::Error) -> anyhow::Error {
    if crate::db::is_connection_lost(&e) {
        let during = format!("reverting V{}__{}", step.version, step.name);
        return connection_lost(&during, &e);
    }
    let msg = match e.as_database_error() {
        Some(db) if db.code().as_deref() == Some("42501") => {
            let denied = db.message().to_string();
            return exit::precondition(format!(
                "permission denied while reverting V{}: {denied}; it stays applied; {}",
                step.version,
                ownership_hint(conn).await
            ));
        }
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    exit::error(
        exit::ExitKind::Internal,
        format!(
            "reverting V{}__{} failed, it stays applied: {msg}",
            step.version, step.name
        ),
    )
}

async fn revert_one(
    conn: &mut PgConnection,
    version: u32,
    sql: &str,
    policy: LockPolicy,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(&policy.prelude()).execute(&mut *tx).await?;
    sqlx::raw_sql(sql).execute(&mut *tx).await?;
    sqlx::query(include_str!("../../sql/queries/forget_version.sql"))
        .bind(version as i32)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(versions: &[(u32, State)]) -> Status {
        Status {
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

    #[test]
    fn default_rollback_is_one_step() {
        let s = st(&[
            (1, State::Applied),
            (2, State::Applied),
            (3, State::Pending),
        ]);
        let plan = rollback_plan(&s, None).unwrap();
        assert_eq!(plan.iter().map(|p| p.version).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn rollback_to_zero_reverts_newest_first() {
        let s = st(&[
            (1, State::Applied),
            (2, State::Applied),
            (3, State::Applied),
        ]);
        let plan = rollback_plan(&s, Some(0)).unwrap();
        assert_eq!(
            plan.iter().map(|p| p.version).collect::<Vec<_>>(),
            vec![3, 2, 1]
        );
    }

    #[test]
    fn unknown_version_cannot_be_reverted() {
        let s = st(&[(1, State::Applied), (9, State::Unknown)]);
        let err = rollback_plan(&s, Some(0)).unwrap_err();
        assert_eq!(exit::kind_of(&err), exit::ExitKind::Precondition);
    }

    #[test]
    fn backoff_is_bounded() {
        let p = LockPolicy::default();
        assert!(p.backoff(1) < p.backoff(2));
        assert_eq!(p.backoff(30), Duration::from_millis(4000));
    }
}
