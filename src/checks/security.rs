//! `quota check security`: both functions are SECURITY DEFINER with a pinned
//! `search_path`; the RPC's cross-user guard really refuses (tested by a
//! call in a transaction that is always rolled back); and neither `anon`
//! nor `authenticated` can write a counter, a period marker or a limit,
//! taking privileges and row level security into account.

use crate::db;
use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{
    existing_roles, function_oid, Findings, HINT_APPLY, HINT_REPAIR, RPC, TRIGGER_FUNCTION,
};
use crate::exit::sqlstate;

/// proconfig's spelling of `SET search_path = ''`.
pub(crate) const EMPTY_SEARCH_PATH: &str = "search_path=\"\"";

/// The API roles whose writes to counters are checked.
const API_WRITERS: [&str; 2] = ["anon", "authenticated"];

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    for signature in [RPC, TRIGGER_FUNCTION] {
        definer(conn, signature, &mut f).await?;
    }
    if function_oid(conn, RPC).await?.is_some() {
        guard(conn, &mut f).await?;
    }
    counter_writes(conn, &mut f).await?;
    Ok(f)
}

/// SECURITY DEFINER, `search_path` pinned to '', owned by no API role.
async fn definer(conn: &mut PgConnection, signature: &str, f: &mut Findings) -> Result<()> {
    let Some(oid) = function_oid(conn, signature).await? else {
        f.fail(format!("{signature} is not installed"), HINT_APPLY);
        return Ok(());
    };
    let (secdef, config, owner): (bool, Vec<String>, String) = db::query_as(include_str!(
        "../../sql/queries/check_function_security.sql"
    ))
    .bind(sqlx::postgres::types::Oid(oid))
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("reading the settings of {signature}"))?;
    let search_path = config.iter().find(|c| c.starts_with("search_path="));
    match search_path {
        None => f.fail(
            format!("{signature} has no pinned search_path: objects in a schema the caller controls could be picked up"),
            HINT_REPAIR,
        ),
        Some(sp) if sp != EMPTY_SEARCH_PATH => f.warn(
            format!("{signature} pins {sp}, expected search_path=\"\" (every name in it is schema-qualified)"),
            HINT_REPAIR,
        ),
        Some(_) => {}
    }
    if !secdef {
        f.fail(
            format!("{signature} is not SECURITY DEFINER: callers need write access to the counters themselves"),
            HINT_REPAIR,
        );
    }
    if super::API_ROLES.contains(&owner.as_str()) {
        f.fail(
            format!("{signature} is owned by the API role {owner}: as SECURITY DEFINER it runs with that role's rights"),
            format!("run `ALTER FUNCTION {signature} OWNER TO postgres` (the owner of the application's tables)"),
        );
    }
    if !f.has_failures() {
        f.note(format!(
            "{signature}: SECURITY DEFINER as {owner}, {EMPTY_SEARCH_PATH}"
        ));
    }
    Ok(())
}

/// How one guarded call ended.
enum Call {
    Returned,
    Refused,
    Error(String, String),
}

/// Calls the RPC for `target` with JWT claims for `sub`, inside a transaction
/// that is always rolled back; as `authenticated` when this session may
/// become it and that role can execute the RPC, else as the current user.
async fn guarded_call(conn: &mut PgConnection, sub: Uuid, target: Uuid) -> Result<(Call, bool)> {
    let mut tx = conn.begin().await.context("starting the guard test")?;
    let as_role: bool = db::query_scalar(include_str!(
        "../../sql/queries/can_become_authenticated.sql"
    ))
    .bind(RPC)
    .fetch_one(&mut *tx)
    .await
    .context("checking whether the guard test can run as authenticated")?;
    let claims = serde_json::json!({ "role": "authenticated", "sub": sub.to_string() }).to_string();
    db::query("SELECT pg_catalog.set_config('request.jwt.claims', $1, true)")
        .bind(claims)
        .execute(&mut *tx)
        .await
        .context("setting request.jwt.claims for the guard test")?;
    if as_role {
        db::query("SET LOCAL ROLE authenticated")
            .execute(&mut *tx)
            .await
            .context("SET LOCAL ROLE authenticated for the guard test")?;
    }
    let result = db::query("SELECT * FROM public.increment_usage_if_allowed($1)")
        .bind(target)
        .fetch_all(&mut *tx)
        .await;
    tx.rollback().await.context("rolling back the guard test")?;
    let call = match result {
        Ok(_) => Call::Returned,
        Err(e) => {
            let code = sqlstate(&e).unwrap_or_default();
            let message = e
                .as_database_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            // A refused EXECUTE is also 42501; only the guard's refusal counts.
            if code == "42501" && !message.starts_with("permission denied for function") {
                Call::Refused
            } else {
                Call::Error(code, message)
            }
        }
    };
    Ok((call, as_role))
}

/// The guard refuses another user's id and lets a caller's own id through.
async fn guard(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let (caller, victim) = (Uuid::new_v4(), Uuid::new_v4());
    let (other, as_role) = guarded_call(conn, caller, victim).await?;
    let who = if as_role {
        "as authenticated"
    } else {
        "as the current user with authenticated claims"
    };
    match other {
        Call::Refused => {}
        Call::Returned => {
            f.fail(
                format!(
                    "cross-user guard missing: a call {who} for another user's id returned a row"
                ),
                HINT_REPAIR,
            );
            return Ok(());
        }
        Call::Error(code, msg) if code == "P0002" => {
            f.fail(
                format!("cross-user guard missing: a call {who} for another user's id got past it (it failed later: {msg})"),
                HINT_REPAIR,
            );
            return Ok(());
        }
        Call::Error(code, msg) => {
            f.fail(
                format!("the guard test {who} failed unexpectedly (SQLSTATE {code}): {msg}"),
                HINT_REPAIR,
            );
            return Ok(());
        }
    }
    // Own id: the guard must let it through (the unknown id then fails with P0002).
    let (own, _) = guarded_call(conn, victim, victim).await?;
    match own {
        Call::Error(code, _) if code == "P0002" => f.note(format!(
            "cross-user guard refused another user's id {who} (SQLSTATE 42501) and let the caller's own id through"
        )),
        Call::Refused => f.fail("the cross-user guard refuses callers their own id too", HINT_REPAIR),
        Call::Returned => f.fail("the RPC returned a row for a user that does not exist", HINT_REPAIR),
        Call::Error(code, msg) => f.fail(
            format!("a call {who} for the caller's own id failed unexpectedly (SQLSTATE {code}): {msg}"),
            HINT_REPAIR,
        ),
    }
    Ok(())
}

/// One row of `check_counter_writes.sql`.
#[derive(sqlx::FromRow)]
struct WriteRow {
    role: String,
    rel: String,
    col: Option<String>,
    cmd: String,
    privileged: bool,
    rls_bypass: Option<String>,
    policies: Vec<String>,
}

/// What closes one write path: the SQL names this row's role, table and command.
fn write_fix(r: &WriteRow) -> String {
    let revoke = format!("`REVOKE {} ON {} FROM {}`", r.cmd, r.rel, r.role);
    match (&r.rls_bypass, r.policies.as_slice()) {
        (Some(reason), _) if reason.contains("disabled") => format!(
            "enable row level security (`ALTER TABLE {} ENABLE ROW LEVEL SECURITY`) or {revoke}",
            r.rel
        ),
        (Some(_), _) => format!(
            "{revoke}, or take BYPASSRLS / ownership away from {}",
            r.role
        ),
        (None, policies) => format!(
            "drop or narrow {} (`DROP POLICY {} ON {}`), or {revoke}",
            policies.join(", "),
            policies.first().map(String::as_str).unwrap_or("<policy>"),
            r.rel
        ),
    }
}

/// Counters, period markers, limits and tiers are written only by quota's
/// function and trigger, never directly by an API role.
async fn counter_writes(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let roles: Vec<String> = API_WRITERS.iter().map(|r| r.to_string()).collect();
    let present = existing_roles(conn, &API_WRITERS).await?;
    if present.is_empty() {
        f.note("no anon/authenticated roles (plain PostgreSQL): no API path to the counters");
        return Ok(());
    }
    let rows: Vec<WriteRow> =
        db::query_as(include_str!("../../sql/queries/check_counter_writes.sql"))
            .bind(&roles)
            .fetch_all(&mut *conn)
            .await
            .context("reading privileges and row level security of the counter tables")?;
    // Group columns of one (role, table, command, reason) into one finding.
    let mut found: Vec<(String, String, Vec<String>)> = Vec::new();
    for r in rows.iter().filter(|r| r.privileged) {
        let reason = match (&r.rls_bypass, r.policies.as_slice()) {
            (Some(bypass), _) => bypass.clone(),
            (None, []) => continue,
            (None, policies) => format!("permissive policy {}", policies.join(", ")),
        };
        let key = format!(
            "{} can {} {} ({} granted; {reason})",
            r.role, r.cmd, r.rel, r.cmd
        );
        let col = r.col.clone().unwrap_or_default();
        match found.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, cols)) => cols.push(col),
            None => found.push((key, write_fix(r), vec![col])),
        }
    }
    for (key, fix, cols) in &found {
        let cols: Vec<&str> = cols
            .iter()
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .collect();
        let what = if cols.is_empty() {
            key.clone()
        } else {
            format!("{key}: {}", cols.join(", "))
        };
        f.fail(
            format!("{what}, so a user can reset or raise their own quota"),
            fix.as_str(),
        );
    }
    Ok(())
}
