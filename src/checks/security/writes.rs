//! Write paths an API role may have to a counter, a period marker, a limit
//! or a tier: column privileges with policies, its own row, TRUNCATE,
//! TRIGGER, REFERENCES (updatable views that run as their owner: views.rs).

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::super::Findings;
use crate::db::quote_ident;
use crate::{db, sql};

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
pub(super) fn grantees(roles: &[String], public: bool) -> String {
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

/// `public.users` → `public.users`, `public.My Table` → `public."My Table"`;
/// a name already in regclass form (`"App"."Users"`) stays as it is.
pub(super) fn quote_rel(rel: &str) -> String {
    if rel.contains('"') {
        return rel.to_string();
    }
    match rel.split_once('.') {
        Some((schema, name)) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
        None => quote_ident(rel),
    }
}

/// The runnable SQL that closes one write path for `roles` (the roles
/// found able to use it). For a column write, the least destructive fix:
/// take the table-wide privilege away and grant back the other columns, so
/// profile edits keep working (not to anon: it has no profile).
/// `safe`: the columns the one rule allows (`safe_update_columns.sql`; for
/// an INSERT into users also its key); a column outside it is never
/// granted back.
fn write_fix(first: &WriteRow, roles: &[String], public: bool, safe: Option<&[String]>) -> String {
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
    let keep: Vec<&String> = first
        .keep_columns
        .iter()
        .filter(|c| safe.is_none_or(|safe| safe.contains(c)))
        .collect();
    if first.col.is_none() || keep.is_empty() || regrant.is_empty() {
        return format!("`{revoke}`");
    }
    let cols: Vec<String> = keep.iter().map(|c| quote_ident(c)).collect();
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

/// One way to change a counter, marker, limit or tier: a table (regclass
/// text), a column (`None`: the whole row) and a command.
pub(crate) type WritePath = (String, Option<String>, &'static str);

/// The default mapping's write paths: the counters, markers, limits and
/// tier of `users` and `user_usage`, and `clip_limits`.
pub(super) fn default_paths() -> Vec<WritePath> {
    let mut paths = Vec::new();
    for col in [
        "usage_this_month",
        "plan_limits_scrapes",
        "usage_period_start",
        "subscription_tier",
    ] {
        for cmd in ["UPDATE", "INSERT"] {
            paths.push(("public.users".to_string(), Some(col.to_string()), cmd));
        }
    }
    paths.push(("public.users".into(), None, "DELETE"));
    for col in ["clips_this_month", "clips_period_start"] {
        paths.push(("public.user_usage".into(), Some(col.into()), "UPDATE"));
    }
    paths.push(("public.user_usage".into(), None, "INSERT"));
    paths.push(("public.user_usage".into(), None, "DELETE"));
    for cmd in ["INSERT", "UPDATE", "DELETE"] {
        paths.push(("public.clip_limits".into(), None, cmd));
    }
    paths
}

/// Counters, period markers, limits and tiers are written only by quota's
/// function and trigger, never by an API role: not by UPDATE, not by
/// inserting its own row, not by deleting its row to start again at 0.
pub(crate) async fn counter_writes(
    conn: &mut PgConnection,
    roles: &[String],
    paths: &[WritePath],
    f: &mut Findings,
) -> Result<()> {
    let rels: Vec<&str> = paths.iter().map(|p| p.0.as_str()).collect();
    let cols: Vec<Option<&str>> = paths.iter().map(|p| p.1.as_deref()).collect();
    let cmds: Vec<&str> = paths.iter().map(|p| p.2).collect();
    let rows: Vec<WriteRow> = db::query_as(sql::CHECK_COUNTER_WRITES)
        .bind(roles)
        .bind(rels)
        .bind(cols)
        .bind(cmds)
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
        // Column grants follow the one rule; a new profile row also needs
        // its key, which the INSERT policy ties to the caller (auth.uid()).
        let safe = match first.cmd.as_str() {
            "UPDATE" | "INSERT" => {
                let mut safe = super::locks::safe_update_columns(conn, &first.rel).await?;
                if first.cmd == "INSERT" && first.rel == "public.users" {
                    safe.push("id".to_string());
                }
                Some(safe)
            }
            _ => None,
        };
        f.fail(
            format!("{what}, {consequence}"),
            write_fix(first, &same_path, public, safe.as_deref()),
        );
    }
    Ok(())
}

/// The default mapping's tables whose TRUNCATE, TRIGGER and REFERENCES matter.
pub(super) const DEFAULT_TABLES: [&str; 3] =
    ["public.users", "public.user_usage", "public.clip_limits"];

/// TRUNCATE, TRIGGER and REFERENCES bypass row level security entirely.
pub(crate) async fn table_privileges(
    conn: &mut PgConnection,
    roles: &[String],
    tables: &[String],
    f: &mut Findings,
) -> Result<()> {
    type Row = (String, Vec<String>, Vec<String>, bool, Vec<String>);
    let rows: Vec<Row> = db::query_as(sql::CHECK_TABLE_PRIVILEGES)
        .bind(roles)
        .bind(tables)
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

#[cfg(test)]
mod tests {
    use super::*;

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
