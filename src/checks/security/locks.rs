//! Table locks by API roles: any TABLE-level UPDATE, DELETE or TRUNCATE
//! (PostgreSQL 17+: MAINTAIN) is all `LOCK TABLE ... IN ACCESS EXCLUSIVE
//! MODE` needs, row level security notwithstanding; a login inheriting
//! `anon` could then stall every user's RPC call and clip insert. The fix
//! takes the table-level privileges away and, for UPDATE, grants back
//! column-level UPDATE on the columns [`safe_update_columns`] allows, so
//! profile edits keep working.

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::super::Findings;
use super::writes::{grantees, quote_rel};
use crate::db::quote_ident;
use crate::{db, sql};

/// One row of `check_table_locks.sql`.
#[derive(sqlx::FromRow)]
struct LockRow {
    rel: String,
    roles: Vec<String>,
    privileges: Vec<String>,
    public_holds: bool,
    grantees: Vec<String>,
    update_grantees: Vec<String>,
}

/// The columns of `rel` a hint may grant UPDATE on to an API role: the one
/// rule of `safe_update_columns.sql` (never a key, a UNIQUE column, or a
/// column quota reads or writes), which V6 runs too.
pub(super) async fn safe_update_columns(conn: &mut PgConnection, rel: &str) -> Result<Vec<String>> {
    db::query_scalar(sql::SAFE_UPDATE_COLUMNS)
        .bind(rel)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading which columns of {rel} are safe to grant UPDATE on"))
}

/// `GRANT UPDATE (safe columns) ON rel TO ...` for the roles that lose a
/// table-level UPDATE, except anon (no profile to edit); `None` when there
/// is nothing to grant back.
pub(super) fn column_update_grant(rel: &str, safe: &[String], roles: &[String]) -> Option<String> {
    let regrant: Vec<String> = roles.iter().filter(|r| *r != "anon").cloned().collect();
    if safe.is_empty() || regrant.is_empty() {
        return None;
    }
    let cols: Vec<String> = safe.iter().map(|c| quote_ident(c)).collect();
    Some(format!(
        "GRANT UPDATE ({}) ON {} TO {}",
        cols.join(", "),
        quote_rel(rel),
        grantees(&regrant, false)
    ))
}

/// Fails for every table quota writes or reads that an API role may lock
/// exclusively, naming the roles and privileges, with the runnable fix.
pub(super) async fn table_locks(
    conn: &mut PgConnection,
    roles: &[String],
    f: &mut Findings,
) -> Result<()> {
    let rows: Vec<LockRow> = db::query_as(sql::CHECK_TABLE_LOCKS)
        .bind(roles)
        .fetch_all(&mut *conn)
        .await
        .context("reading which API roles may lock the tables quota writes")?;
    for row in rows {
        if row.roles.is_empty() {
            continue;
        }
        let mut fix = format!(
            "REVOKE {} ON {} FROM {}",
            row.privileges.join(", "),
            quote_rel(&row.rel),
            grantees(&row.grantees, row.public_holds)
        );
        if row.privileges.iter().any(|p| p == "UPDATE") {
            let safe = safe_update_columns(conn, &row.rel).await?;
            if let Some(grant) = column_update_grant(&row.rel, &safe, &row.update_grantees) {
                fix = format!("{fix}; {grant}");
            }
        }
        f.fail(
            format!(
                "{} hold table-level {} on {}, enough to LOCK TABLE {} IN ACCESS EXCLUSIVE MODE \
                 and stall every user's RPC call and clip insert (row level security does not \
                 apply to locks)",
                row.roles.join(", "),
                row.privileges.join(", "),
                row.rel,
                row.rel
            ),
            format!("`{fix}`"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_grants_go_to_every_role_but_anon() {
        let safe = vec!["full_name".to_string(), "Nick Name".to_string()];
        assert_eq!(
            column_update_grant(
                "public.users",
                &safe,
                &["anon".into(), "authenticated".into()]
            )
            .unwrap(),
            "GRANT UPDATE (full_name, \"Nick Name\") ON public.users TO authenticated"
        );
        assert!(column_update_grant("public.users", &safe, &["anon".into()]).is_none());
        assert!(column_update_grant("public.users", &[], &["authenticated".into()]).is_none());
    }
}
