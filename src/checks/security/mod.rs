//! `quota check security`: both functions are SECURITY DEFINER with a
//! `search_path` that names `pg_temp` explicitly and last; the RPC's
//! cross-user guard really refuses on every path a JWT can take (tested by
//! calls in transactions that are always rolled back); and no API role —
//! `anon`, `authenticated`, or a role inheriting either — can write a
//! counter, a period marker, a limit or a tier by any route: column
//! privileges with policies, inserting or deleting its own row, TRUNCATE,
//! TRIGGER, REFERENCES, or an updatable view that runs as its owner, at
//! any depth. Round 2 (issue 16): the application's triggers that run
//! inside quota's writes and the functions they call pin a safe
//! `search_path` (`triggers`); no API role may insert a clip for another
//! user (`clips`); materialized views over the counters are listed
//! (`views`); login roles inheriting an API role are flagged (`logins`); no API role may
//! lock a table quota writes (`locks.rs`).
//!
//! Every hint is runnable SQL with quoted identifiers, and the least
//! destructive fix: a column-level grant keeps profile edits working.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::{
    function_oid, Findings, HINT_APPLY, HINT_APPLY_PENDING, HINT_REPAIR, RPC, TRIGGER_FUNCTION,
};

mod clips;
mod guard;
mod locks;
mod logins;
pub(crate) mod triggers;
mod views;
pub(crate) mod writes;

use guard::guard;
use writes::{counter_writes, grantees, table_privileges};

/// proconfig's spelling of `SET search_path = ''` (V2 and V3; unsafe).
pub(crate) const EMPTY_SEARCH_PATH: &str = "search_path=\"\"";

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    // Behind this build, the fix of a function's settings is `apply`.
    let pending = super::versions_pending(conn).await?;
    for signature in [RPC, TRIGGER_FUNCTION] {
        definer(conn, signature, pending, &mut f).await?;
    }
    if function_oid(conn, RPC).await?.is_some() {
        guard(conn, &mut f).await?;
    }
    let roles: Vec<String> = db::query_scalar(sql::API_ROLES)
        .fetch_all(&mut *conn)
        .await
        .context("listing the API roles and the roles inheriting them")?;
    let written = ["public.users".to_string(), "public.user_usage".to_string()];
    triggers::trigger_functions(
        conn,
        &roles,
        &written,
        &["public.clips".to_string()],
        &mut f,
    )
    .await?;
    if roles.is_empty() {
        f.note("no anon/authenticated roles (plain PostgreSQL): no API path to the counters");
        return Ok(f);
    }
    counter_writes(conn, &roles, &writes::default_paths(), &mut f).await?;
    let tables: Vec<String> = writes::DEFAULT_TABLES.map(String::from).to_vec();
    table_privileges(conn, &roles, &tables, &mut f).await?;
    let counters = ", so they can reset or raise quota's counters and limits";
    views::definer_views(
        conn,
        &roles,
        &views::COUNTER_TABLES,
        views::WRITES,
        counters,
        &mut f,
    )
    .await?;
    views::counter_matviews(conn, &roles, &mut f).await?;
    locks::table_locks(conn, &roles, &mut f).await?;
    history_exposure(conn, &roles, &mut f).await?;
    clips::clip_inserts(conn, &roles, &mut f).await?;
    logins::api_logins(conn, &mut f).await?;
    Ok(f)
}

/// The migration history is out of the API's reach: an install that still
/// keeps it in public, or grants on schema quota, let API roles read, forge
/// or delete rows (a forged row makes `verify` abort).
async fn history_exposure(
    conn: &mut PgConnection,
    roles: &[String],
    f: &mut Findings,
) -> Result<()> {
    let rows: Vec<(String, Vec<String>)> = db::query_as(sql::CHECK_HISTORY_EXPOSURE)
        .bind(roles)
        .fetch_all(&mut *conn)
        .await
        .context("checking who can reach the migration history")?;
    for (table, holders) in rows {
        if table == crate::migrate::embedded::LEGACY_HISTORY_TABLE {
            f.fail(
                format!(
                    "the migration history is still in {table}, where the API can reach it{}",
                    if holders.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} hold privileges on it)", holders.join(", "))
                    }
                ),
                "run `quota migrate apply`: it moves the history to quota.schema_history",
            );
        } else if !holders.is_empty() {
            let list = grantees(&holders, true);
            f.fail(
                format!(
                    "{} can reach the migration history {table}: they could read, forge or delete its rows",
                    holders.join(", ")
                ),
                format!(
                    "`REVOKE ALL ON SCHEMA quota FROM {list}; REVOKE ALL ON TABLE quota.schema_history FROM {list}`"
                ),
            );
        }
    }
    Ok(())
}

/// Why a pinned `search_path` value is unsafe, `None` when it names
/// `pg_temp` explicitly and last. PostgreSQL searches `pg_temp` FIRST for
/// relations and types unless it is named: any caller could shadow `jsonb`
/// or `date` with a temporary domain whose CHECK runs as the owner.
pub(crate) fn search_path_flaw(setting: &str) -> Option<String> {
    let value = setting.strip_prefix("search_path=").unwrap_or(setting);
    let schemas: Vec<String> = value
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    match schemas.iter().position(|s| s == "pg_temp") {
        None => Some(format!(
            "{setting} leaves pg_temp implicit, so it is searched first: a caller's temporary \
             domain named jsonb or date would run as the function's owner"
        )),
        Some(i) if i + 1 != schemas.len() => Some(format!(
            "{setting} does not put pg_temp last: a caller's temporary objects shadow the later schemas"
        )),
        Some(_) => None,
    }
}

/// SECURITY DEFINER, `search_path` pinned with pg_temp last, owned by no API role.
async fn definer(
    conn: &mut PgConnection,
    signature: &str,
    pending: bool,
    f: &mut Findings,
) -> Result<()> {
    let Some(oid) = function_oid(conn, signature).await? else {
        f.fail(format!("{signature} is not installed"), HINT_APPLY);
        return Ok(());
    };
    let (secdef, config, owner): (bool, Vec<String>, String) =
        db::query_as(sql::CHECK_FUNCTION_SECURITY)
            .bind(sqlx::postgres::types::Oid(oid))
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("reading the settings of {signature}"))?;
    let pin_hint = if pending {
        HINT_APPLY_PENDING.to_string()
    } else {
        format!("`ALTER FUNCTION {signature} SET search_path = pg_catalog, pg_temp`")
    };
    let search_path = config.iter().find(|c| c.starts_with("search_path="));
    let mut pinned = String::new();
    match search_path {
        None => f.fail(
            format!("{signature} has no pinned search_path: objects in a schema the caller controls could be picked up"),
            pin_hint,
        ),
        Some(sp) => match search_path_flaw(sp) {
            Some(flaw) => f.fail(format!("{signature}: {flaw}"), pin_hint),
            None => pinned = sp.clone(),
        },
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
            format!("`ALTER FUNCTION {signature} OWNER TO postgres` (the owner of the application's tables)"),
        );
    }
    if !f.has_failures() {
        f.note(format!(
            "{signature}: SECURITY DEFINER as {owner}, {pinned}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_temp_must_be_named_and_last() {
        assert!(search_path_flaw(EMPTY_SEARCH_PATH).is_some());
        assert!(search_path_flaw("search_path=pg_catalog").is_some());
        assert!(search_path_flaw("search_path=pg_temp, pg_catalog").is_some());
        assert!(search_path_flaw("search_path=pg_catalog, pg_temp").is_none());
        assert!(search_path_flaw("search_path=public, \"pg_temp\"").is_none());
    }
}
