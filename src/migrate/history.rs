//! Where quota keeps its migration history: `quota.schema_history`, in a
//! schema of its own that the API (PostgREST) does not expose and that no
//! API role may use. Installs made before kept it in
//! `public.quota_schema_history`, where Supabase's default privileges let
//! `anon` read, forge or delete rows; [`prepare`] moves it, and until then
//! [`locate`] lets read-only commands find it in the old place.

use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};

use super::embedded::{HISTORY_TABLE, LEGACY_HISTORY_TABLE};
use super::LockPolicy;
use crate::db::quote_ident;
use crate::exit;

/// The history table that exists: the new one, else the old one, else none.
pub async fn locate(conn: &mut PgConnection) -> Result<Option<&'static str>> {
    for table in [HISTORY_TABLE, LEGACY_HISTORY_TABLE] {
        let exists: bool = sqlx::query_scalar("SELECT pg_catalog.to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&mut *conn)
            .await
            .context("looking for the migration history table")?;
        if exists {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

/// Creates schema `quota` and its history table where missing, moves an old
/// `public.quota_schema_history` there (one transaction: moved whole or not
/// at all), and takes every privilege on both away from PUBLIC and the API
/// roles. The caller holds the migration lock.
pub async fn prepare(conn: &mut PgConnection, policy: LockPolicy) -> Result<()> {
    // Already in place: nothing to do, and no DDL privilege needed (a role
    // that may only run `rollback` or `--repair` gets no further anyway).
    if locate(conn).await? == Some(HISTORY_TABLE) && !legacy_exists(conn).await? {
        return Ok(());
    }
    let result = async {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(&policy.prelude()).execute(&mut *tx).await?;
        sqlx::raw_sql(include_str!("../../sql/queries/history_prepare.sql"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(prepare_error(conn, &e).await),
    }
}

async fn legacy_exists(conn: &mut PgConnection) -> Result<bool> {
    sqlx::query_scalar("SELECT pg_catalog.to_regclass($1) IS NOT NULL")
        .bind(LEGACY_HISTORY_TABLE)
        .fetch_one(&mut *conn)
        .await
        .context("looking for the old migration history table")
}

async fn prepare_error(conn: &mut PgConnection, e: &sqlx::Error) -> anyhow::Error {
    let Some(db) = e.as_database_error() else {
        return anyhow::anyhow!(
            "preparing the migration history {HISTORY_TABLE}: {e}; nothing was changed"
        );
    };
    match db.code().as_deref() {
        Some("42501") => {
            let me: String = sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(&mut *conn)
                .await
                .unwrap_or_else(|_| "the role quota connects as".to_string());
            let database: String = sqlx::query_scalar("SELECT current_database()::text")
                .fetch_one(&mut *conn)
                .await
                .unwrap_or_else(|_| "this database".to_string());
            exit::precondition(format!(
                "permission denied while applying (creating schema quota, where the migration \
                 history lives): {}; nothing was changed; as the database owner run \
                 `GRANT CREATE ON DATABASE {} TO {}`, or {}",
                db.message(),
                quote_ident(&database),
                quote_ident(&me),
                super::ownership_hint(conn).await
            ))
        }
        Some("42P07") => exit::precondition(format!(
            "{}: {LEGACY_HISTORY_TABLE} and {HISTORY_TABLE} both exist; keep the one whose rows \
             match `quota migrate status`, drop the other, and run the command again",
            db.message()
        )),
        Some("55P03") => exit::precondition(format!(
            "moving the migration history to {HISTORY_TABLE} timed out on a table lock ({}); \
             nothing was changed; run the command again",
            db.message()
        )),
        _ => anyhow::anyhow!(
            "preparing the migration history {HISTORY_TABLE} failed: {}; nothing was changed",
            db.message()
        ),
    }
}
