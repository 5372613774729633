//! `quota check grants`: `service_role` and `authenticated` can execute the
//! RPC; `PUBLIC` and `anon` cannot. A role that does not exist (plain
//! PostgreSQL) is reported, never failed. `authenticated` without EXECUTE
//! is a server-side-only setup: intended, passes with a note.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::{function_oid, Findings, HINT_APPLY, HINT_REPAIR, RPC};

/// Roles that must be able to call the RPC, and the one that must not.
const CALLERS: [&str; 2] = ["service_role", "authenticated"];
const ANON: &str = "anon";
/// The caller whose EXECUTE may be revoked on purpose: a server-side-only
/// setup calls the RPC through service_role alone.
const SERVER_SIDE_ONLY: &str = "authenticated";

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    let Some(oid) = function_oid(conn, RPC).await? else {
        f.fail(format!("{RPC} is not installed"), HINT_APPLY);
        return Ok(f);
    };
    let roles: Vec<String> = CALLERS
        .iter()
        .chain([&ANON])
        .map(|r| r.to_string())
        .collect();
    let rows: Vec<(Option<String>, bool)> = db::query_as(sql::CHECK_GRANTS)
        .bind(sqlx::postgres::types::Oid(oid))
        .bind(&roles)
        .fetch_all(&mut *conn)
        .await
        .context("reading the privileges of the RPC")?;
    let can = |role: Option<&str>| {
        rows.iter()
            .find(|(r, _)| r.as_deref() == role)
            .map(|(_, can)| *can)
    };

    if can(None) == Some(true) {
        f.fail(
            "PUBLIC can execute the RPC (PostgreSQL's default for new functions): every role, anon included, can spend quota",
            HINT_REPAIR,
        );
    }
    match can(Some(ANON)) {
        Some(true) => f.fail(
            "anon can execute the RPC: callers without a login can spend quota",
            HINT_REPAIR,
        ),
        Some(false) => f.note("anon cannot execute"),
        None => f.note("role anon does not exist (plain PostgreSQL)"),
    }
    let mut allowed = Vec::new();
    for role in CALLERS {
        match can(Some(role)) {
            Some(true) => allowed.push(role),
            // Intended: a backend that calls the RPC through service_role
            // only. Safer, and `--repair` keeps it (see docs/checks.md).
            Some(false) if role == SERVER_SIDE_ONLY => f.note(format!(
                "{role} cannot execute: server-side only (signed-in users' requests cannot call \
                 the RPC; if the application calls it as the user: GRANT EXECUTE ON FUNCTION \
                 {RPC} TO {role})"
            )),
            Some(false) => f.fail(
                format!("{role} cannot execute the RPC: its calls fail with permission denied"),
                HINT_REPAIR,
            ),
            None => f.warn(
                format!("role {role} does not exist (plain PostgreSQL?)"),
                "grant EXECUTE on the RPC to the role your backend connects as",
            ),
        }
    }
    if !allowed.is_empty() {
        f.note(format!("{} can execute", allowed.join(", ")));
    }
    if can(None) == Some(false) {
        f.note("PUBLIC cannot execute");
    }
    Ok(f)
}
