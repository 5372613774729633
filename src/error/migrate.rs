//! What migrate failures mean and what to do about them: a lock timeout, a
//! lost connection mid-way, a missing privilege, a history that cannot be
//! read or moved. The facts a hint names (who quota runs as, who owns the
//! tables, the sessions in the way) are looked up by `migrate` and passed
//! in ([`GrantFacts`], the blockers); the words are here.

use super::{cause, sqlstate};
use crate::error;
use crate::names::{quote_ident, HISTORY_TABLE, LEGACY_HISTORY_TABLE};

/// What a grant hint names, looked up by `migrate::roles` only for a
/// permission denial ([`is_permission_denied`]); `None` where a lookup
/// failed (or was not made), and the hint then says it in general terms.
#[derive(Debug, Default)]
pub(crate) struct GrantFacts {
    /// The role quota runs as and the owner of `public.users` (`None`
    /// inside when the table is missing).
    pub(crate) table_owner: Option<(String, Option<String>)>,
    /// The role quota runs as and the database.
    pub(crate) role_and_database: Option<(String, String)>,
}

/// True when `e` is a missing privilege: the failures whose hint names
/// roles, so the only ones worth looking the roles up for.
pub(crate) fn is_permission_denied(e: &sqlx::Error) -> bool {
    cause::has_sqlstate(e, sqlstate::INSUFFICIENT_PRIVILEGE)
}

/// A step that timed out on a table lock (`lock_timeout`) or lost a
/// deadlock: worth another attempt once the other transaction is gone.
pub(crate) fn is_lock_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    cause::has_sqlstate(e, sqlstate::LOCK_NOT_AVAILABLE)
        || cause::has_sqlstate(e, sqlstate::DEADLOCK_DETECTED)
}

/// The server's own words for `e`, or sqlx's when the server said nothing.
fn server_message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

fn has_code(e: &sqlx::Error, code: &str) -> bool {
    cause::has_sqlstate(e, code)
}

/// The server dropped the session mid-way (crash, pg_terminate_backend,
/// network): its open transaction was rolled back, unless the COMMIT got
/// through just before; say so and how to find out and finish.
fn connection_lost(during: &str, e: &sqlx::Error) -> anyhow::Error {
    error::new(
        error::ExitKind::Connect,
        format!(
            "the connection to the server was lost while {during} ({}); each version is kept \
             whole or not at all (the server rolls back one whose COMMIT did not arrive): check \
             `quota migrate status` and run the command again",
            server_message(e)
        ),
    )
}

/// Migrations add columns to, and a trigger on, the application's tables:
/// only their owner may. Names the roles involved and the grants that fix it.
fn ownership_hint(facts: &GrantFacts) -> String {
    let roles = facts
        .table_owner
        .as_ref()
        .map(|(me, owner)| (quote_ident(me), owner.as_deref().map(quote_ident)));
    match roles {
        Some((me, Some(owner))) if me != owner => format!(
            "run quota as {owner}, the owner of public.users (on Supabase: postgres), or as {owner} \
             run: GRANT CREATE ON SCHEMA public TO {me}; GRANT {owner} TO {me}"
        ),
        Some((me, _)) => format!(
            "as the owner of schema public run: GRANT USAGE, CREATE ON SCHEMA public TO {me}"
        ),
        None => "run quota as the owner of public.users, public.user_usage and public.clips \
                   (on Supabase: postgres)"
            .to_string(),
    }
}

/// The history records a version this build does not embed: a newer quota
/// upgraded the database. Nothing drifted; this binary is too old to apply
/// or roll back, and says which one can.
pub(crate) fn database_ahead(database_version: u32, latest: u32) -> anyhow::Error {
    error::precondition(format!(
        "the database is at version {database_version}, newer than this quota (knows up to \
         {latest}); install a newer quota (one that knows version {database_version}) to apply \
         or roll back; read-only commands (`migrate status`, `verify`, `check`, `user`, `users`, \
         `report`) still work on versions 1-{latest}"
    ))
}

/// Why the history could not be read, and what to do about it; `me` is the
/// role quota runs as (looked up for a permission denial).
pub(crate) fn history_unreadable(e: sqlx::Error, me: Option<String>) -> anyhow::Error {
    let msg = server_message(&e);
    if e.as_database_error().is_none() {
        // A row refinery cannot read (a checksum or date edited by hand).
        if msg.contains("history row") {
            return error::precondition(format!(
                "{HISTORY_TABLE} has a malformed row ({msg}); it was edited by hand: restore the \
                 row (see `quota migrate apply --dry-run` for the versions) or remove it and \
                 re-apply"
            ));
        }
        return anyhow::anyhow!("reading {HISTORY_TABLE}: {msg}");
    }
    if has_code(&e, sqlstate::INSUFFICIENT_PRIVILEGE) {
        let me = me.unwrap_or_else(|| "the role quota connects as".to_string());
        return error::precondition(format!(
            "cannot read {HISTORY_TABLE}: {msg}; {}",
            error::permission_hint(&msg, &me)
        ));
    }
    anyhow::anyhow!("reading {HISTORY_TABLE}: {msg}")
}

/// Why preparing the history (its schema, moving an old one) failed while
/// `operation` ("applying", "rolling back", "repairing") ran, and what to
/// grant: CREATE on the database only when schema quota is what could not
/// be created; otherwise the privilege the server named.
pub(crate) fn history_not_prepared(
    e: &sqlx::Error,
    operation: &str,
    facts: &GrantFacts,
) -> anyhow::Error {
    let Some(db) = e.as_database_error() else {
        return anyhow::anyhow!(
            "preparing the migration history {HISTORY_TABLE}: {e}; nothing was changed"
        );
    };
    if has_code(e, sqlstate::INSUFFICIENT_PRIVILEGE) {
        let (me, database) = facts.role_and_database.clone().unwrap_or_else(|| {
            (
                "the role quota connects as".to_string(),
                "this database".to_string(),
            )
        });
        if !db.message().starts_with("permission denied for database") {
            // Schema quota exists; the role may not use it or its history.
            return error::precondition(format!(
                "permission denied while {operation} (reading the migration history \
                 {HISTORY_TABLE}): {}; nothing was changed; {}",
                db.message(),
                error::permission_hint(db.message(), &me)
            ));
        }
        return error::precondition(format!(
            "permission denied while {operation} (creating schema quota, where the migration \
             history lives): {}; nothing was changed; as the database owner run \
             `GRANT CREATE ON DATABASE {} TO {}`, or {}",
            db.message(),
            quote_ident(&database),
            quote_ident(&me),
            ownership_hint(facts)
        ));
    }
    if has_code(e, sqlstate::DUPLICATE_TABLE) {
        return error::precondition(format!(
            "{}: {LEGACY_HISTORY_TABLE} and {HISTORY_TABLE} both exist; keep the one whose rows \
             match `quota migrate status`, drop the other, and run the command again",
            db.message()
        ));
    }
    if has_code(e, sqlstate::LOCK_NOT_AVAILABLE) {
        return error::precondition(format!(
            "moving the migration history to {HISTORY_TABLE} timed out on a table lock ({}); \
             nothing was changed; run the command again",
            db.message()
        ));
    }
    anyhow::anyhow!(
        "preparing the migration history {HISTORY_TABLE} failed: {}; nothing was changed",
        db.message()
    )
}

/// One line for a failed apply step: a lost connection, a missing
/// privilege, or the server's message, naming the version (`" V2__name"`,
/// or empty when none had started).
pub(crate) fn apply_failed(e: sqlx::Error, version: &str, facts: &GrantFacts) -> anyhow::Error {
    if cause::is_connection_lost(&e) {
        return connection_lost(&format!("applying{version}"), &e);
    }
    match e.as_database_error() {
        Some(d) if has_code(&e, sqlstate::INSUFFICIENT_PRIVILEGE) => {
            let msg = d.message().to_string();
            let hint = ownership_hint(facts);
            error::precondition(format!(
                "permission denied while applying{version}: {msg}; nothing of it was kept; {hint}"
            ))
        }
        Some(d) => error::new(
            error::ExitKind::Internal,
            format!(
                "applying{version} failed{}: {}; nothing of the failing version was kept",
                cause::sqlstate(&e)
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

/// One line for a revert that failed for a reason other than a busy table.
pub(crate) fn revert_failed(
    e: sqlx::Error,
    version: u32,
    name: &str,
    facts: &GrantFacts,
) -> anyhow::Error {
    if cause::is_connection_lost(&e) {
        return connection_lost(&format!("reverting V{version}__{name}"), &e);
    }
    let msg = server_message(&e);
    if has_code(&e, sqlstate::INSUFFICIENT_PRIVILEGE) {
        return error::precondition(format!(
            "permission denied while reverting V{version}: {msg}; it stays applied; {}",
            ownership_hint(facts)
        ));
    }
    if has_code(&e, sqlstate::UNDEFINED_TABLE) || has_code(&e, sqlstate::UNDEFINED_COLUMN) {
        return error::precondition(format!(
            "reverting V{version}__{name} failed, it stays applied: {msg}; the schema no longer \
             fits the contract: see `quota check schema`"
        ));
    }
    error::new(
        error::ExitKind::Internal,
        format!("reverting V{version}__{name} failed, it stays applied: {msg}"),
    )
}

/// One line for a repair that failed for a reason other than a busy table.
pub(crate) fn repair_failed(e: sqlx::Error, version: u32, name: &str) -> anyhow::Error {
    if cause::is_connection_lost(&e) {
        return connection_lost(&format!("repairing V{version}__{name}"), &e);
    }
    match e.as_database_error() {
        Some(db) if has_code(&e, sqlstate::INSUFFICIENT_PRIVILEGE) => error::precondition(format!(
            "permission denied while repairing V{version}: {}; run quota as the owner of the \
             application's tables (on Supabase: postgres)",
            db.message()
        )),
        Some(db) => error::new(
            error::ExitKind::Internal,
            format!(
                "repairing V{version}__{name} failed, nothing of it was changed: {}",
                db.message()
            ),
        ),
        None => error::new(
            error::ExitKind::Internal,
            format!("repairing V{version}__{name} failed: {e}"),
        ),
    }
}

/// The error after the last lock-timeout retry: names the sessions in the
/// way (`(pid, description)`, or why they could not be listed) and how to
/// end them.
pub(crate) fn gave_up_on_busy_table(
    what: &str,
    attempts: u32,
    lock_timeout_ms: u128,
    blockers: anyhow::Result<Vec<(i32, String)>>,
) -> anyhow::Error {
    let (blockers, pids) = match blockers {
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
        "gave up on {what} after {attempts} attempts: a table lock was not granted within \
         lock_timeout {lock_timeout_ms}ms; blocking: {blockers}; let that transaction finish (or \
         end it with {}) and run the command again, or raise --lock-timeout/--retries",
        terminate_sql(&pids)
    ))
}

/// A terminate statement for the sessions in the way, with their real pids:
/// advice the user may run, never run by quota.
fn terminate_sql(pids: &[i32]) -> String {
    match pids {
        [] => "SELECT pg_terminate_backend(pid) with the blocker's pid from pg_stat_activity"
            .to_string(),
        [pid] => format!("SELECT pg_terminate_backend({pid})"),
        many => {
            let list: Vec<String> = many.iter().map(|p| p.to_string()).collect();
            format!(
                "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[{}]) AS pid",
                list.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_hints_word_the_facts_given() {
        let facts = |table_owner| GrantFacts {
            table_owner,
            role_and_database: None,
        };
        let owner = Some(("App".to_string(), Some("postgres".to_string())));
        assert_eq!(
            ownership_hint(&facts(owner)),
            "run quota as postgres, the owner of public.users (on Supabase: postgres), or as \
             postgres run: GRANT CREATE ON SCHEMA public TO \"App\"; GRANT postgres TO \"App\""
        );
        let own = Some(("app".to_string(), Some("app".to_string())));
        assert_eq!(
            ownership_hint(&facts(own)),
            "as the owner of schema public run: GRANT USAGE, CREATE ON SCHEMA public TO app"
        );
        assert!(ownership_hint(&facts(None)).starts_with("run quota as the owner of public.users"));
    }

    #[test]
    fn terminate_sql_names_the_pids() {
        assert_eq!(terminate_sql(&[4242]), "SELECT pg_terminate_backend(4242)");
        assert_eq!(
            terminate_sql(&[1, 2]),
            "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[1, 2]) AS pid"
        );
        assert!(!terminate_sql(&[]).contains("<pid>"));
    }

    #[test]
    fn a_busy_table_names_the_blocker_and_how_to_end_it() {
        let blockers = Ok(vec![(7, "pid 7 (app, idle in transaction)".to_string())]);
        let err = gave_up_on_busy_table("apply", 3, 300, blockers);
        assert_eq!(error::kind_of(&err), error::ExitKind::Precondition);
        let text = err.to_string();
        assert!(text.contains("gave up on apply after 3 attempts"));
        assert!(text.contains("lock_timeout 300ms; blocking: pid 7"));
        assert!(text.contains("end it with SELECT pg_terminate_backend(7))"));
    }
}
