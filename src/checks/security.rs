//! `quota check security`: both functions are SECURITY DEFINER with a
//! `search_path` that names `pg_temp` explicitly and last; the RPC's
//! cross-user guard really refuses on every path a JWT can take (tested by
//! calls in transactions that are always rolled back); and no API role —
//! `anon`, `authenticated`, or a role inheriting either — can write a
//! counter, a period marker, a limit or a tier by any route: column
//! privileges with policies, inserting or deleting its own row, TRUNCATE,
//! TRIGGER, REFERENCES, or an updatable view that runs as its owner.
//!
//! Every hint is runnable SQL with quoted identifiers, and the least
//! destructive fix: a column-level grant keeps profile edits working.

use crate::db;
use crate::error;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{function_oid, Findings, HINT_APPLY, HINT_REPAIR, RPC, TRIGGER_FUNCTION};
use crate::db::quote_ident;
use crate::error::sqlstate;

/// proconfig's spelling of `SET search_path = ''` (V2 and V3; unsafe).
pub(crate) const EMPTY_SEARCH_PATH: &str = "search_path=\"\"";

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    for signature in [RPC, TRIGGER_FUNCTION] {
        definer(conn, signature, &mut f).await?;
    }
    if function_oid(conn, RPC).await?.is_some() {
        guard(conn, &mut f).await?;
    }
    let roles: Vec<String> = db::query_scalar(sql::API_ROLES)
        .fetch_all(&mut *conn)
        .await
        .context("listing the API roles and the roles inheriting them")?;
    if roles.is_empty() {
        f.note("no anon/authenticated roles (plain PostgreSQL): no API path to the counters");
        return Ok(f);
    }
    counter_writes(conn, &roles, &mut f).await?;
    table_privileges(conn, &roles, &mut f).await?;
    definer_views(conn, &roles, &mut f).await?;
    history_exposure(conn, &roles, &mut f).await?;
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
async fn definer(conn: &mut PgConnection, signature: &str, f: &mut Findings) -> Result<()> {
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
    let pin_hint = format!("`ALTER FUNCTION {signature} SET search_path = pg_catalog, pg_temp`");
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

/// One way a request can carry a JWT, as PostgREST versions pass it.
#[derive(Clone, Debug)]
struct JwtPath {
    /// Shown in findings.
    label: String,
    /// `SET LOCAL ROLE` to this role first; `None` switches no role.
    role: Option<String>,
    /// `request.jwt.claims` JSON, with the sub filled in.
    claims: Option<fn(&str) -> serde_json::Value>,
    /// The per-claim settings of older PostgREST: `request.jwt.claim.sub` and `.role`.
    legacy: bool,
}

/// How one guarded call ended.
enum Call {
    Returned,
    Refused,
    Error(String, String),
}

/// The paths the probe tries: as `authenticated` (when this session may
/// become it and it can execute the RPC) with full claims, claims without
/// a role, only the legacy per-claim settings; as each role inheriting
/// `authenticated` that this session may become; and with no role switched
/// but claims set (what a custom role looks like to the guard).
async fn jwt_paths(conn: &mut PgConnection) -> Result<Vec<JwtPath>> {
    let roles: Vec<String> = db::query_scalar(sql::CAN_BECOME_AUTHENTICATED)
        .bind(RPC)
        .fetch_all(&mut *conn)
        .await
        .context("listing the roles the guard test can run as")?;
    let full = |sub: &str| serde_json::json!({ "role": "authenticated", "sub": sub });
    let no_role = |sub: &str| serde_json::json!({ "sub": sub, "aud": "authenticated" });
    // An anonymous request's JWT has no sub at all.
    let anon = |_: &str| serde_json::json!({ "role": "anon" });
    let mut paths = Vec::new();
    for role in &roles {
        let is_authenticated = role == "authenticated";
        if role == "anon" {
            paths.push(JwtPath {
                label: "as anon with an anonymous JWT".into(),
                role: Some(role.clone()),
                claims: Some(anon),
                legacy: false,
            });
            continue;
        }
        paths.push(JwtPath {
            label: format!("as {role} with request.jwt.claims"),
            role: Some(role.clone()),
            claims: Some(full),
            legacy: false,
        });
        if is_authenticated {
            paths.push(JwtPath {
                label: "as authenticated with claims without a role claim".into(),
                role: Some(role.clone()),
                claims: Some(no_role),
                legacy: false,
            });
            paths.push(JwtPath {
                label: "as authenticated with only the legacy request.jwt.claim.sub/.role settings"
                    .into(),
                role: Some(role.clone()),
                claims: None,
                legacy: true,
            });
        }
    }
    paths.push(JwtPath {
        label: "with no role switched and request.jwt.claims set".into(),
        role: None,
        claims: Some(full),
        legacy: false,
    });
    paths.push(JwtPath {
        label: "with no role switched and only the legacy per-claim settings".into(),
        role: None,
        claims: None,
        legacy: true,
    });
    Ok(paths)
}

/// Calls the RPC for `target` the way PostgREST runs a request whose JWT
/// names `sub`, inside a transaction that is always rolled back.
async fn guarded_call(
    conn: &mut PgConnection,
    path: &JwtPath,
    sub: Uuid,
    target: Uuid,
) -> Result<Call> {
    let mut tx = conn.begin().await.context("starting the guard test")?;
    let sub_text = sub.to_string();
    let mut settings: Vec<(&str, String)> = Vec::new();
    if let Some(claims) = path.claims {
        settings.push(("request.jwt.claims", claims(&sub_text).to_string()));
    }
    if path.legacy {
        settings.push(("request.jwt.claim.sub", sub_text.clone()));
        settings.push(("request.jwt.claim.role", "authenticated".to_string()));
    }
    for (name, value) in settings {
        db::query("SELECT pg_catalog.set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("setting {name} for the guard test"))?;
    }
    if let Some(role) = &path.role {
        // A role name from the catalog, quoted: not user input.
        sqlx::raw_sql(&format!("SET LOCAL ROLE {}", quote_ident(role)))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("SET LOCAL ROLE {role} for the guard test"))?;
    }
    let result = db::query("SELECT * FROM public.increment_usage_if_allowed($1)")
        .bind(target)
        .fetch_all(&mut *tx)
        .await;
    tx.rollback().await.context("rolling back the guard test")?;
    Ok(match result {
        Ok(_) => Call::Returned,
        Err(e) => {
            let code = sqlstate(&e).unwrap_or_default();
            let message = e
                .as_database_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            // A refused EXECUTE is also 42501; only the guard's refusal counts.
            if code == error::sqlstate::INSUFFICIENT_PRIVILEGE
                && !message.starts_with("permission denied for function")
            {
                Call::Refused
            } else {
                Call::Error(code, message)
            }
        }
    })
}

/// On every JWT path the guard refuses another user's id; on the first
/// (authenticated with full claims) it lets the caller's own id through.
async fn guard(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let paths = jwt_paths(conn).await?;
    let (caller, victim) = (Uuid::new_v4(), Uuid::new_v4());
    let mut refused = 0;
    for path in &paths {
        let who = &path.label;
        match guarded_call(conn, path, caller, victim).await? {
            Call::Refused => refused += 1,
            Call::Returned => f.fail(
                format!("cross-user guard missing: a call {who} for another user's id returned a row"),
                HINT_REPAIR,
            ),
            Call::Error(code, msg) if code == error::sqlstate::NO_DATA_FOUND => f.fail(
                format!("cross-user guard missing: a call {who} for another user's id got past it (it failed later: {msg})"),
                HINT_REPAIR,
            ),
            Call::Error(code, msg) => f.fail(
                format!("the guard test {who} failed unexpectedly (SQLSTATE {code}): {msg}"),
                HINT_REPAIR,
            ),
        }
    }
    if f.has_failures() {
        return Ok(());
    }
    // Own id: the guard must let it through (the unknown id then fails with P0002).
    // Any path whose JWT carries a sub (not anon's); the no-role ones always do.
    let Some(first) = paths.iter().find(|p| p.role.as_deref() != Some("anon")) else {
        return Ok(());
    };
    match guarded_call(conn, first, victim, victim).await? {
        Call::Error(code, _) if code == error::sqlstate::NO_DATA_FOUND => f.note(format!(
            "cross-user guard refused another user's id on all {refused} JWT paths (SQLSTATE 42501) \
             and let the caller's own id through"
        )),
        Call::Refused => f.fail("the cross-user guard refuses callers their own id too", HINT_REPAIR),
        Call::Returned => f.fail("the RPC returned a row for a user that does not exist", HINT_REPAIR),
        Call::Error(code, msg) => f.fail(
            format!(
                "a call {} for the caller's own id failed unexpectedly (SQLSTATE {code}): {msg}",
                first.label
            ),
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
    keep_columns: Vec<String>,
    public_holds: bool,
    /// The roles whose own grant this role uses.
    grantees: Vec<String>,
}

/// "anon, authenticated" (quoted where needed), with PUBLIC when it holds the grant.
fn grantees(roles: &[String], public: bool) -> String {
    // anon and authenticated first, each name once.
    let mut roles: Vec<&String> = roles.iter().collect();
    roles.sort_by_key(|r| {
        (
            r.as_str() != "anon",
            r.as_str() != "authenticated",
            r.to_string(),
        )
    });
    roles.dedup();
    let mut list: Vec<String> = roles.iter().map(|r| quote_ident(r)).collect();
    if public {
        list.push("PUBLIC".to_string());
    }
    list.join(", ")
}

/// `public.users` → `public.users`, `public.My Table` → `public."My Table"`.
fn quote_rel(rel: &str) -> String {
    match rel.split_once('.') {
        Some((schema, name)) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
        None => quote_ident(rel),
    }
}

/// The runnable SQL that closes one write path for `roles` (the roles
/// found able to use it). For a column write, the least destructive fix:
/// take the table-wide privilege away and grant back the other columns, so
/// profile edits keep working (not to anon: it has no profile).
fn write_fix(first: &WriteRow, roles: &[String], public: bool) -> String {
    let rel = quote_rel(&first.rel);
    if let Some(reason) = &first.rls_bypass {
        if reason.contains("disabled") && first.col.is_none() {
            return format!("`ALTER TABLE {rel} ENABLE ROW LEVEL SECURITY`");
        }
    }
    let revoke = format!(
        "REVOKE {} ON {rel} FROM {}",
        first.cmd,
        grantees(roles, public)
    );
    let regrant: Vec<String> = roles.iter().filter(|r| *r != "anon").cloned().collect();
    if first.col.is_none() || first.keep_columns.is_empty() || regrant.is_empty() {
        return format!("`{revoke}`");
    }
    let cols: Vec<String> = first.keep_columns.iter().map(|c| quote_ident(c)).collect();
    format!(
        "`{revoke}; GRANT {} ({}) ON {rel} TO {}`",
        first.cmd,
        cols.join(", "),
        grantees(&regrant, false)
    )
}

/// Why a role that holds the privilege can use it.
fn write_reason(r: &WriteRow) -> Option<String> {
    match (&r.rls_bypass, r.policies.as_slice()) {
        (Some(bypass), _) => Some(bypass.clone()),
        (None, []) => None,
        (None, policies) => {
            let names: Vec<String> = policies.iter().map(|p| quote_ident(p)).collect();
            let mut reason = format!("permissive policy {}", names.join(", "));
            if r.role == "anon" {
                // A policy such as USING (auth.uid() = id) never matches a
                // request without a sub; the grant is still the hole a
                // policy edit would open, and the fix takes it away.
                reason.push_str(
                    " (may never match a request without a sub, but anon holds the grant it would need)",
                );
            }
            Some(reason)
        }
    }
}

/// Counters, period markers, limits and tiers are written only by quota's
/// function and trigger, never by an API role: not by UPDATE, not by
/// inserting its own row, not by deleting its row to start again at 0.
async fn counter_writes(conn: &mut PgConnection, roles: &[String], f: &mut Findings) -> Result<()> {
    let rows: Vec<WriteRow> = db::query_as(sql::CHECK_COUNTER_WRITES)
        .bind(roles)
        .fetch_all(&mut *conn)
        .await
        .context("reading privileges and row level security of the counter tables")?;
    let open: Vec<(&WriteRow, String)> = rows
        .iter()
        .filter(|r| r.privileged)
        .filter_map(|r| write_reason(r).map(|reason| (r, reason)))
        .collect();
    // One finding per (role, table, command, reason) listing its columns; one
    // hint per (table, command) naming every role, so it is given once.
    let mut found: Vec<(String, &WriteRow, Vec<String>)> = Vec::new();
    for (r, reason) in &open {
        let key = format!(
            "{} can {} {} ({} granted; {reason})",
            r.role, r.cmd, r.rel, r.cmd
        );
        let col = r.col.clone().unwrap_or_default();
        match found.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, cols)) => cols.push(col),
            None => found.push((key, r, vec![col])),
        }
    }
    for (key, first, cols) in &found {
        let cols: Vec<&str> = cols
            .iter()
            .map(String::as_str)
            .filter(|c| !c.is_empty())
            .collect();
        let consequence = match (first.cmd.as_str(), cols.is_empty()) {
            ("DELETE", _) => "so a user can delete and re-insert their row to reset their usage",
            ("INSERT", true) => "so a user can create counter or limit rows of their own",
            ("INSERT", false) => "so a user can create their own row with any limit, usage or tier",
            _ => "so a user can reset or raise their own quota",
        };
        let what = if cols.is_empty() {
            key.clone()
        } else {
            format!("{key}: {}", cols.join(", "))
        };
        // Every API role's own grant of this command (the open roles use
        // some; the others hold what one policy edit would open), and PUBLIC's.
        let mut same_path: Vec<String> = Vec::new();
        let mut public = false;
        for r in rows.iter().filter(|r| r.privileged) {
            if r.rel == first.rel && r.cmd == first.cmd {
                same_path.extend(r.grantees.iter().cloned());
                public |= r.public_holds;
            }
        }
        f.fail(
            format!("{what}, {consequence}"),
            write_fix(first, &same_path, public),
        );
    }
    Ok(())
}

/// TRUNCATE, TRIGGER and REFERENCES bypass row level security entirely.
async fn table_privileges(
    conn: &mut PgConnection,
    roles: &[String],
    f: &mut Findings,
) -> Result<()> {
    type Row = (String, Vec<String>, Vec<String>, bool, Vec<String>);
    let rows: Vec<Row> = db::query_as(sql::CHECK_TABLE_PRIVILEGES)
        .bind(roles)
        .fetch_all(&mut *conn)
        .await
        .context("reading TRUNCATE, TRIGGER and REFERENCES privileges")?;
    for (rel, holders, privileges, public, direct) in rows {
        if holders.is_empty() {
            continue;
        }
        f.fail(
            format!(
                "{} hold {} on {rel}, which row level security does not restrict (TRUNCATE empties \
                 the counters; a trigger of theirs would run inside quota's writes)",
                holders.join(", "),
                privileges.join(", ")
            ),
            format!(
                "`REVOKE TRUNCATE, TRIGGER, REFERENCES ON {} FROM {}`",
                quote_rel(&rel),
                grantees(&direct, public)
            ),
        );
    }
    Ok(())
}

/// A view that runs as its owner writes past the caller's RLS and grants.
async fn definer_views(conn: &mut PgConnection, roles: &[String], f: &mut Findings) -> Result<()> {
    let rows: Vec<(String, String, Vec<String>, Vec<String>)> =
        db::query_as(sql::CHECK_DEFINER_VIEWS)
            .bind(roles)
            .fetch_all(&mut *conn)
            .await
            .context("looking for updatable views over the counter tables")?;
    for (view, owner, bases, holders) in rows {
        if holders.is_empty() {
            continue;
        }
        f.fail(
            format!(
                "{} can write through the view {view} over {}: it is updatable and runs as its owner \
                 {owner} (not security_invoker), so row level security and grants of the caller do \
                 not apply",
                holders.join(", "),
                bases.join(", ")
            ),
            format!("`ALTER VIEW {view} SET (security_invoker = true)`"),
        );
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

    #[test]
    fn names_in_hints_are_quoted() {
        assert_eq!(quote_rel("public.users"), "public.users");
        assert_eq!(quote_rel("public.My View"), "public.\"My View\"");
        assert_eq!(
            grantees(&["anon".into(), "Editors".into()], true),
            "anon, \"Editors\", PUBLIC"
        );
    }
}
