//! Versioned migrations: apply (through refinery), status, and rollback
//! (this project's own, from the revert scripts).
//!
//! Every migration, revert and repair transaction takes [`lock`], the
//! transaction-level migration lock, and re-checks under it that its version
//! still needs to run; they run their DDL with a short `lock_timeout` and bounded retries, so a
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

use crate::db;
use crate::sql;
use std::time::Duration;

use anyhow::Result;
use refinery::Migration;
use refinery_core::traits::r#async::AsyncMigrate;
use serde::Serialize;
use sqlx::{Executor, PgConnection};

use crate::contract;
use crate::db::Session;
use crate::error::{self, sqlstate};
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
    // refinery's own query, parameterless: simple protocol, in the caller's transaction.
    let query = <SqlxDriver as AsyncMigrate>::get_applied_migrations_query(table);
    let rows = conn.fetch_all(sqlx::raw_sql(&query)).await;
    let applied = rows.and_then(|rows| rows.iter().map(driver::applied_migration).collect());
    match applied {
        Ok(applied) => Ok(applied),
        Err(e) => Err(history_error(conn, e).await),
    }
}

/// Why the history could not be read, and what to do about it.
async fn history_error(conn: &mut PgConnection, e: sqlx::Error) -> anyhow::Error {
    match find_db_error(&e) {
        // A row refinery cannot read (a checksum or date edited by hand).
        Some((None, msg)) if msg.contains("history row") => error::precondition(format!(
            "{HISTORY_TABLE} has a malformed row ({msg}); it was edited by hand: restore the row \
             (see `quota migrate apply --dry-run` for the versions) or remove it and re-apply"
        )),
        Some((Some(code), msg)) if code == error::sqlstate::INSUFFICIENT_PRIVILEGE => {
            let me: String = db::query_scalar("SELECT current_user::text")
                .fetch_one(&mut *conn)
                .await
                .unwrap_or_else(|_| "the role quota connects as".to_string());
            error::precondition(format!(
                "cannot read {HISTORY_TABLE}: {msg}; {}",
                crate::error::permission_hint(&msg, &me)
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
pub async fn apply(db: &mut Session, opts: ApplyOptions, ui: &Ui) -> Result<Outcome> {
    let target = opts.target.unwrap_or_else(embedded::latest_version);
    if target > embedded::latest_version() {
        return Err(error::usage(format!(
            "--target {target} is beyond the newest migration (V{})",
            embedded::latest_version()
        )));
    }
    let mut tx = db.read_only().await?;
    require_contract(&mut tx).await?;
    if opts.dry_run {
        let before = status(&mut tx).await?;
        refuse_troubles(&before)?;
        adoption::refuse(&mut tx, &before, target).await?;
        return Ok(Outcome {
            dry_run: true,
            steps: pending_steps(&before, target, true),
            database_version: before.database_version,
            attempts: 0,
        });
    }
    tx.commit().await?;
    // Checked under the lock, where no other quota process changes the
    // history or the objects meanwhile (catalog lookups see the latest
    // commit, not a snapshot, so only the lock makes this consistent). Only
    // once nothing refuses is the history moved to its schema, in the same
    // transaction: a refused apply changes nothing.
    let (before, prepared) = {
        let mut tx = planning_transaction(db, opts.policy, ui).await?;
        let before = status(&mut tx).await?;
        refuse_troubles(&before)?;
        adoption::refuse(&mut tx, &before, target).await?;
        let prepared = match history::prepare_in(&mut tx).await {
            Ok(()) => tx.commit().await,
            Err(e) => Err(e),
        };
        (before, prepared)
    };
    if let Err(e) = prepared {
        return Err(history::explain(db, &e).await);
    }
    apply_pending(db, before, target, opts.policy, ui).await
}

/// A transaction holding the migration lock, for reading what a change
/// will do (plans, prompts) consistently with concurrent quota processes.
pub async fn planning_transaction<'s>(
    db: &'s mut Session,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<sqlx::Transaction<'s, sqlx::Postgres>> {
    locked_transaction(db, policy, ui)
        .await
        .map_err(|e| match e {
            StepError::Stop(e) => e,
            StepError::Sql(e) => anyhow::Error::new(e).context("taking the migration lock"),
        })
}

/// Runs the pending versions up to `target`, each in its own transaction
/// under the migration lock; versions a concurrent process applied
/// meanwhile are skipped, and the outcome lists only what this one ran.
async fn apply_pending(
    db: &mut Session,
    before: Status,
    target: u32,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<Outcome> {
    if before.database_version > target {
        // Already past the target: nothing to apply (see `advice`).
        return Ok(Outcome {
            dry_run: false,
            steps: Vec::new(),
            database_version: before.database_version,
            attempts: 0,
        });
    }
    let planned = pending_steps(&before, target, false);
    ui.debug(&format!(
        "database at V{}; applying {} version(s) up to V{target}; lock_timeout {}ms, up to {} retries",
        before.database_version,
        planned.len(),
        policy.lock_timeout.as_millis(),
        policy.retries
    ));
    let mut ran: Vec<u32> = Vec::new();
    let mut attempts = 0;
    loop {
        let mut trying: Option<(u32, String)> = None;
        let mut applied = None;
        let step = async |db: &mut Session| {
            applied = apply_next(db, target, policy, ui, &mut trying).await?;
            Ok::<(), StepError>(())
        };
        let n = match retry_while_busy(db, policy, ui, "apply", step).await {
            Ok(n) => n,
            Err(Retried::GaveUp(e)) => return Err(e),
            Err(Retried::Failed(e)) => return Err(apply_error(db, e, trying).await),
        };
        // Transactions tried, as rollback and repair count them: one per
        // version applied, plus one per lock-timeout retry.
        match applied {
            Some(version) => {
                ran.push(version);
                attempts += n;
            }
            None => break,
        }
    }
    let attempt = attempts;
    let mut tx = db.read_only().await?;
    let after = status(&mut tx).await?;
    tx.commit().await?;
    Ok(Outcome {
        dry_run: false,
        steps: planned
            .into_iter()
            .filter(|s| ran.contains(&s.version))
            .collect(),
        database_version: after.database_version,
        attempts: attempt,
    })
}

/// Applies the oldest version up to `target` that the history does not
/// record, in one transaction under the migration lock, and records it.
/// The history is read under the lock, so a version a concurrent process
/// applied (or a rollback removed) meanwhile is seen as it is now: each
/// version runs exactly once, in order. `None` when nothing is pending.
async fn apply_next(
    db: &mut Session,
    target: u32,
    policy: LockPolicy,
    ui: &Ui,
    trying: &mut Option<(u32, String)>,
) -> Result<Option<u32>, StepError> {
    let mut tx = locked_transaction(db, policy, ui).await?;
    let recorded = driver::recorded_versions(&mut tx).await?;
    let next = embedded::migrations()
        .into_iter()
        .find(|m| m.version() <= target && !recorded.contains(&m.version()));
    let Some(migration) = next else {
        tx.rollback().await?;
        return Ok(None);
    };
    *trying = Some((migration.version(), migration.name().to_string()));
    (&mut *tx)
        .execute(sqlx::raw_sql(migration.sql().unwrap_or_default()))
        .await?;
    driver::record(&mut tx, &migration).await?;
    tx.commit().await?;
    Ok(Some(migration.version()))
}

/// One line for a failed apply step: the lock wait, a lost connection, a
/// missing privilege, or the server's message, naming the version.
async fn apply_error(
    db: &mut Session,
    e: StepError,
    trying: Option<(u32, String)>,
) -> anyhow::Error {
    let e = match e {
        StepError::Stop(e) => return e,
        StepError::Sql(e) => e,
    };
    let version = trying
        .map(|(v, name)| format!(" V{v}__{name}"))
        .unwrap_or_default();
    if crate::error::is_connection_lost(&e) {
        return connection_lost(&format!("applying{version}"), &e);
    }
    match e.as_database_error() {
        Some(d) if d.code().as_deref() == Some(error::sqlstate::INSUFFICIENT_PRIVILEGE) => {
            let msg = d.message().to_string();
            let hint = ownership_hint(db).await;
            error::precondition(format!(
                "permission denied while applying{version}: {msg}; nothing of it was kept; {hint}"
            ))
        }
        Some(d) => error::new(
            error::ExitKind::Internal,
            format!(
                "applying{version} failed{}: {}; nothing of the failing version was kept",
                d.code()
                    .map(|c| format!(" (SQLSTATE {c})"))
                    .unwrap_or_default(),
                d.message()
            ),
        ),
        None => error::new(
            error::ExitKind::Internal,
            format!("applying{version} failed: {e}"),
        ),
    }
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
    Err(error::precondition(format!(
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
    Err(error::precondition(format!(
        "the schema does not fit the contract, nothing was installed: {}; see `quota check schema`",
        list.join("; ")
    )))
}

fn is_lock_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    // 55P03 lock_not_available (lock_timeout), 40P01 deadlock_detected.
    matches!(
        sqlstate(e).as_deref(),
        Some(error::sqlstate::LOCK_NOT_AVAILABLE) | Some(error::sqlstate::DEADLOCK_DETECTED)
    )
}

/// The error after the last retry: names the sessions in the way.
async fn lock_timeout_error(
    db: &mut Session,
    what: &str,
    attempts: u32,
    policy: LockPolicy,
) -> anyhow::Error {
    let (blockers, pids) = match blockers_in_transaction(db).await {
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
    error::precondition(format!(
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
    db: &mut Session,
    policy: LockPolicy,
    ui: &Ui,
    what: &str,
    mut step: impl AsyncFnMut(&mut Session) -> Result<(), E>,
) -> Result<u32, Retried<E>>
where
    E: std::error::Error + 'static,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match step(db).await {
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
                    lock_timeout_error(db, what, attempt, policy).await,
                ))
            }
            Err(e) => return Err(Retried::Failed(e)),
        }
    }
}

async fn blockers_in_transaction(db: &mut Session) -> Result<Vec<(i32, String)>> {
    let mut tx = db.read_only().await?;
    blocking_sessions(&mut tx).await
}

/// Each blocker's pid and "pid 123 (alice, idle in transaction for 12s: INSERT INTO clips ...)".
pub async fn blocking_sessions(conn: &mut PgConnection) -> Result<Vec<(i32, String)>> {
    let tables: Vec<String> = TOUCHED_TABLES.iter().map(|t| t.to_string()).collect();
    let rows: Vec<(i32, String, String, f64, String, String)> =
        db::query_as(sql::BLOCKING_SESSIONS)
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

/// The server dropped the session mid-way (crash, pg_terminate_backend,
/// network): its open transaction was rolled back, unless the COMMIT got
/// through just before; say so and how to find out and finish.
fn connection_lost(during: &str, e: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    let cause = find_db_error(e)
        .map(|(_, msg)| msg)
        .unwrap_or_else(|| e.to_string());
    error::new(
        error::ExitKind::Connect,
        format!(
            "the connection to the server was lost while {during} ({cause}); each version is kept \
             whole or not at all (the server rolls back one whose COMMIT did not arrive): check \
             `quota migrate status` and run the command again"
        ),
    )
}

/// Migrations add columns to, and a trigger on, the application's tables:
/// only their owner may. Names the roles involved and the grants that fix it.
pub(crate) async fn ownership_hint(db: &mut Session) -> String {
    let roles = match db.read_only().await {
        Ok(mut tx) => db::query_as(sql::TABLE_OWNER)
            .fetch_one(&mut *tx)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let roles: Result<(String, Option<String>)> = roles;
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
            error::precondition(format!(
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

/// Reverts down to the version below the oldest of `plan` (from
/// [`rollback_plan`]), newest first, each revert with the removal of its
/// history row in one transaction that takes the migration lock first and
/// reads the history under it: what a concurrent apply or rollback did
/// meanwhile is seen, so no version is reverted twice or out of order. The
/// outcome lists only what this process reverted.
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
    let mut attempts = 0;
    let mut reverted = Vec::new();
    loop {
        let mut trying: Option<Step> = None;
        let mut done = None;
        let revert = async |db: &mut Session| {
            done = revert_next(db, floor, policy, ui, &mut trying).await?;
            Ok::<(), StepError>(())
        };
        let n = match retry_while_busy(db, policy, ui, "rollback", revert).await {
            Ok(n) => n,
            Err(Retried::GaveUp(e)) => return Err(e),
            Err(Retried::Failed(e)) => {
                let step = trying.unwrap_or_else(|| Step {
                    version: floor + 1,
                    name: "?".into(),
                    sql: None,
                });
                return Err(revert_error(db, &step, e).await);
            }
        };
        match done {
            Some(step) => {
                reverted.push(step);
                attempts += n;
            }
            None => break,
        }
    }
    let mut tx = db.read_only().await?;
    let after = status(&mut tx).await?;
    tx.commit().await?;
    Ok(Outcome {
        dry_run: false,
        steps: reverted,
        database_version: after.database_version,
        attempts,
    })
}

/// One line for a revert that failed for a reason other than a busy table.
async fn revert_error(session: &mut Session, step: &Step, e: StepError) -> anyhow::Error {
    let e = match e {
        StepError::Stop(e) => return e,
        StepError::Sql(e) => e,
    };
    if crate::error::is_connection_lost(&e) {
        let during = format!("reverting V{}__{}", step.version, step.name);
        return connection_lost(&during, &e);
    }
    let msg = match e.as_database_error() {
        Some(db) if db.code().as_deref() == Some(error::sqlstate::INSUFFICIENT_PRIVILEGE) => {
            let denied = db.message().to_string();
            return error::precondition(format!(
                "permission denied while reverting V{}: {denied}; it stays applied; {}",
                step.version,
                ownership_hint(session).await
            ));
        }
        Some(db)
            if matches!(
                db.code().as_deref(),
                Some(error::sqlstate::UNDEFINED_TABLE | error::sqlstate::UNDEFINED_COLUMN)
            ) =>
        {
            return error::precondition(format!(
                "reverting V{}__{} failed, it stays applied: {}; the schema no longer fits the \
                 contract: see `quota check schema`",
                step.version,
                step.name,
                db.message()
            ));
        }
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    error::new(
        error::ExitKind::Internal,
        format!(
            "reverting V{}__{} failed, it stays applied: {msg}",
            step.version, step.name
        ),
    )
}

/// Why a step of apply, rollback or repair failed: a database error
/// (retried when it is a lock timeout), or a classified stop that says it
/// all (the migration lock not granted in time, a version this build
/// cannot revert).
#[derive(Debug)]
pub(crate) enum StepError {
    Sql(sqlx::Error),
    Stop(anyhow::Error),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Sql(e) => e.fmt(f),
            StepError::Stop(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StepError::Sql(e) => Some(e),
            StepError::Stop(_) => None,
        }
    }
}

impl From<sqlx::Error> for StepError {
    fn from(e: sqlx::Error) -> Self {
        StepError::Sql(e)
    }
}

/// Opens a transaction with the lock_timeout prelude and the migration lock.
pub(crate) async fn locked_transaction<'s>(
    db: &'s mut Session,
    policy: LockPolicy,
    ui: &Ui,
) -> Result<sqlx::Transaction<'s, sqlx::Postgres>, StepError> {
    let mut tx = db.begin().await.map_err(StepError::Stop)?;
    (&mut *tx).execute(sqlx::raw_sql(&policy.prelude())).await?;
    lock::acquire_xact(&mut tx, policy.lock_wait, ui)
        .await
        .map_err(StepError::Stop)?;
    Ok(tx)
}

/// Reverts the newest recorded version if it is above `floor`, under the
/// lock; `None` when nothing above `floor` is recorded any more.
async fn revert_next(
    db: &mut Session,
    floor: u32,
    policy: LockPolicy,
    ui: &Ui,
    trying: &mut Option<Step>,
) -> Result<Option<Step>, StepError> {
    let mut tx = locked_transaction(db, policy, ui).await?;
    let recorded = match to_regclass_exists(&mut tx).await? {
        true => driver::recorded_versions(&mut tx).await?,
        false => Vec::new(),
    };
    let Some(&newest) = recorded.iter().max().filter(|v| **v > floor) else {
        tx.rollback().await?;
        return Ok(None);
    };
    let name = embedded::migrations()
        .iter()
        .find(|m| m.version() == newest)
        .map(|m| m.name().to_string());
    let (Some(sql), Some(name)) = (embedded::revert_sql(newest), name) else {
        return Err(StepError::Stop(error::precondition(format!(
            "V{newest} was applied by a newer quota and this build has no revert script for it; \
             roll it back with that version of quota"
        ))));
    };
    let step = Step {
        version: newest,
        name,
        sql: None,
    };
    *trying = Some(step.clone());
    (&mut *tx).execute(sqlx::raw_sql(sql)).await?;
    db::query(sql::FORGET_VERSION)
        .bind(newest as i32)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(step))
}

async fn to_regclass_exists(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    db::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(HISTORY_TABLE)
        .fetch_one(&mut *conn)
        .await
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
        assert_eq!(error::kind_of(&err), error::ExitKind::Precondition);
    }

    #[test]
    fn backoff_is_bounded() {
        let p = LockPolicy::default();
        assert!(p.backoff(1) < p.backoff(2));
        assert_eq!(p.backoff(30), Duration::from_millis(4000));
    }
}
