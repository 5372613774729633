//! Scratch users and exact row restores: how `race` and `bench` work on a
//! real database without leaving a trace.
//!
//! A scratch user is an ordinary `public.users` row with a recognisable
//! e-mail (`quota-scratch-<uuid>@example.invalid`) that is deleted with its
//! counter row and clips afterwards. A real user (`race --user`) is
//! snapshotted as jsonb and put back column by column, so the row reads
//! byte-for-byte as before.

use anyhow::{Context, Result};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::exit::{self, sqlstate};

const INSERT_USER: &str = include_str!("../sql/queries/scratch_user_insert.sql");
const INSERT_USAGE: &str = include_str!("../sql/queries/scratch_usage_insert.sql");
const DELETE_CLIPS: &str = include_str!("../sql/queries/scratch_user_delete_clips.sql");
const DELETE_USAGE: &str = include_str!("../sql/queries/scratch_user_delete_usage.sql");
const DELETE_USERS: &str = include_str!("../sql/queries/scratch_user_delete.sql");
const SNAPSHOT_USER: &str = include_str!("../sql/queries/row_snapshot_user.sql");
const SNAPSHOT_USAGE: &str = include_str!("../sql/queries/row_snapshot_usage.sql");
const SETTABLE_COLUMNS: &str = include_str!("../sql/queries/row_settable_columns.sql");
const DELETE_USAGE_ROW: &str = include_str!("../sql/queries/row_delete_usage.sql");
const REINSERT_USAGE_ROW: &str = include_str!("../sql/queries/row_reinsert_usage.sql");

/// What a scratch user starts with.
#[derive(Clone, Debug)]
pub struct ScratchUser {
    pub usage: i32,
    pub limit: i32,
    pub tier: String,
    /// `Some(n)`: also create the `user_usage` row with `n` clips.
    pub clips: Option<i32>,
}

/// Creates a scratch user. A foreign key on `public.users` (Supabase's
/// `users.id -> auth.users.id`) or a column without a default makes that
/// impossible: a precondition error ending with `advice` (what to do instead).
pub async fn create_user(
    conn: &mut PgConnection,
    spec: &ScratchUser,
    advice: &str,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut tx = conn.begin().await?;
    let inserted = sqlx::query(INSERT_USER)
        .bind(id)
        .bind(format!("quota-scratch-{id}@example.invalid"))
        .bind(spec.usage)
        .bind(spec.limit)
        .bind(&spec.tier)
        .execute(&mut *tx)
        .await;
    if let Err(e) = inserted {
        return Err(explain_insert_failure(e, advice));
    }
    if let Some(clips) = spec.clips {
        sqlx::query(INSERT_USAGE)
            .bind(id)
            .bind(clips)
            .execute(&mut *tx)
            .await
            .map_err(|e| explain_insert_failure(e, advice))?;
    }
    tx.commit().await?;
    Ok(id)
}

fn explain_insert_failure(e: sqlx::Error, advice: &str) -> anyhow::Error {
    let detail = e
        .as_database_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    let why = match sqlstate(&e).as_deref() {
        Some("23503") => {
            "public.users has a foreign key (on Supabase: users.id -> auth.users.id), so a \
             scratch user would need a row in a table quota does not own"
        }
        Some("23502") | Some("23514") | Some("23505") | Some("22P02") => {
            "public.users requires values quota cannot make up for a scratch user"
        }
        Some("42501") => "the database user may not insert into public.users",
        _ => return anyhow::Error::new(e).context("could not create a scratch user"),
    };
    exit::precondition(format!(
        "cannot create a scratch user ({detail}): {why}; {advice}"
    ))
}

/// Deletes scratch users with their clips and counter rows, in one
/// transaction (explicitly, since a real schema may not cascade).
pub async fn delete_users(conn: &mut PgConnection, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = conn.begin().await?;
    for sql in [DELETE_CLIPS, DELETE_USAGE, DELETE_USERS] {
        sqlx::query(sql).bind(ids).execute(&mut *tx).await?;
    }
    tx.commit()
        .await
        .context("could not delete the scratch users")
}

/// A real user's rows as they were before a race.
#[derive(Clone, Debug)]
pub struct UserSnapshot {
    pub id: Uuid,
    pub user: Value,
    pub usage: Option<Value>,
}

/// Reads the user's `users` and `user_usage` rows; an unknown user is a
/// precondition error.
pub async fn snapshot(conn: &mut PgConnection, id: Uuid) -> Result<UserSnapshot> {
    let user: Option<Value> = sqlx::query_scalar(SNAPSHOT_USER)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let user = user.ok_or_else(|| {
        exit::precondition(format!(
            "no user with id {id} in public.users; `quota users` lists valid ids"
        ))
    })?;
    let usage = sqlx::query_scalar(SNAPSHOT_USAGE)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(UserSnapshot { id, user, usage })
}

/// Puts the user's rows back as in `before` and proves it by reading them
/// again. Only differing columns are written.
pub async fn restore(conn: &mut PgConnection, before: &UserSnapshot) -> Result<()> {
    let mut tx = conn.begin().await?;
    quiet_user_triggers(&mut tx).await?;
    let now = snapshot(&mut tx, before.id).await?;
    restore_row(
        &mut tx,
        "public.users",
        "id",
        before.id,
        &now.user,
        &before.user,
    )
    .await?;
    match (&before.usage, &now.usage) {
        (None, None) => {}
        (None, Some(_)) => {
            sqlx::query(DELETE_USAGE_ROW)
                .bind(before.id)
                .execute(&mut *tx)
                .await?;
        }
        (Some(was), None) => {
            sqlx::query(REINSERT_USAGE_ROW)
                .bind(was)
                .execute(&mut *tx)
                .await?;
        }
        (Some(was), Some(is)) => {
            restore_row(&mut tx, "public.user_usage", "user_id", before.id, is, was).await?;
        }
    }
    tx.commit().await?;
    let after = snapshot(conn, before.id).await?;
    if after.user != before.user || after.usage != before.usage {
        return Err(exit::failed(format!(
            "user {} was restored but reads differently ({}); a trigger on public.users or \
             public.user_usage may have changed it: compare with `quota user {}`",
            before.id,
            differing_columns(&before.user, &after.user).join(", "),
            before.id
        )));
    }
    Ok(())
}

/// As superuser, keep the application's own UPDATE triggers (e.g. one that
/// bumps `updated_at`) from firing on the restore; only this transaction.
async fn quiet_user_triggers(conn: &mut PgConnection) -> Result<()> {
    let superuser: String = sqlx::query_scalar("SELECT current_setting('is_superuser')")
        .fetch_one(&mut *conn)
        .await?;
    if superuser == "on" {
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// `UPDATE table SET (changed columns) = (values from the snapshot)`.
async fn restore_row(
    conn: &mut PgConnection,
    table: &'static str,
    key: &'static str,
    id: Uuid,
    now: &Value,
    was: &Value,
) -> Result<()> {
    let settable: Vec<String> = sqlx::query_scalar(SETTABLE_COLUMNS)
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
    let changed: Vec<String> = differing_columns(was, now)
        .into_iter()
        .filter(|c| settable.contains(c))
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    // Column names come from the catalog (quoted), values are bound: no
    // user input is ever part of the statement text.
    let cols: Vec<String> = changed.iter().map(|c| quote_ident(c)).collect();
    let picks: Vec<String> = cols.iter().map(|c| format!("r.{c}")).collect();
    let sql = format!(
        "UPDATE {table} AS t SET ({}) = (SELECT {} FROM jsonb_populate_record(NULL::{table}, $1) AS r) \
         WHERE t.{} = $2",
        cols.join(", "),
        picks.join(", "),
        quote_ident(key)
    );
    sqlx::query(&sql)
        .bind(was)
        .bind(id)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("could not restore {table} for user {id}"))?;
    Ok(())
}

/// Keys whose values differ between two jsonb rows.
fn differing_columns(a: &Value, b: &Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A PostgreSQL identifier, always double-quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("usage"), "\"usage\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn finds_differing_columns() {
        let a = serde_json::json!({"a": 1, "b": "x", "c": null});
        let b = serde_json::json!({"a": 2, "b": "x", "c": null});
        assert_eq!(differing_columns(&a, &b), vec!["a".to_string()]);
        assert!(differing_columns(&a, &a).is_empty());
    }
}
