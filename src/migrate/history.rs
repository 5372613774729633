//! Where quota keeps its migration history: `quota.schema_history`, in a
//! schema of its own that the API (PostgREST) does not expose and that no
//! API role may use. Installs made before kept it in
//! `public.quota_schema_history`, where Supabase's default privileges let
//! `anon` read, forge or delete rows; [`prepare`] moves it, and until then
//! [`locate`] lets read-only commands find it in the old place.

use crate::db::{self, Session};
use crate::sql;
use anyhow::{Context, Result};
use sqlx::{Executor, PgConnection};

use super::embedded::{HISTORY_TABLE, LEGACY_HISTORY_TABLE};
use super::LockPolicy;
use crate::db::quote_ident;
use crate::error;
use crate::ui::Ui;

/// The history table that exists: the new one, else the old one, else none.
pub async fn locate(conn: &mut PgConnection) -> Result<Option<&'static str>> {
    for table in [HISTORY_TABLE, LEGACY_HISTORY_TABLE] {
        let exists: bool = db::query_scalar("SELECT pg_catalog.to_regclass($1) IS NOT NULL")
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
/// roles. The transaction takes the migration lock first, so concurrent
/// processes prepare it once (the SQL is idempotent).
pub async fn prepare(db: &mut Session, policy: LockPolicy, ui: &Ui) -> Result<()> {
    let result = async {
        let mut tx = super::locked_transaction(db, policy, ui).await?;
        prepare_in(&mut tx).await?;
        tx.commit().await?;
        Ok::<(), super::StepError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(super::StepError::Stop(e)) => Err(e),
        Err(super::StepError::Sql(e)) => Err(prepare_error(db, &e).await),
    }
}

/// [`prepare`]'s work inside the caller's transaction, which holds the
/// migration lock. Already in place: nothing to do, and no DDL privilege
/// needed (a role that may only run `rollback` or `--repair` gets no
/// further anyway). Errors are explained by [`explain`].
pub async fn prepare_in(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    let in_place = locate_raw(tx).await? == Some(HISTORY_TABLE) && !legacy_exists_raw(tx).await?;
    if in_place {
        return Ok(());
    }
    tx.execute(sqlx::raw_sql(sql::HISTORY_PREPARE)).await?;
    Ok(())
}

/// Why preparing the history failed, and what to grant.
pub async fn explain(session: &mut Session, e: &sqlx::Error) -> anyhow::Error {
    prepare_error(session, e).await
}

async fn locate_raw(conn: &mut PgConnection) -> Result<Option<&'static str>, sqlx::Error> {
    for table in [HISTORY_TABLE, LEGACY_HISTORY_TABLE] {
        if table_exists(conn, table).await? {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

async fn legacy_exists_raw(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    table_exists(conn, LEGACY_HISTORY_TABLE).await
}

async fn table_exists(conn: &mut PgConnection, table: &str) -> Result<bool, sqlx::Error> {
    db::query_scalar("SELECT pg_catalog.to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(&mut *conn)
        .await
}

async fn prepare_error(session: &mut Session, e: &sqlx::Error) -> anyhow::Error {
    let Some(db) = e.as_database_error() else {
        return anyhow::anyhow!(
            "preparing the migration history {HISTORY_TABLE}: {e}; nothing was changed"
        );
    };
    match db.code().as_deref() {
        Some(error::sqlstate::INSUFFICIENT_PRIVILEGE) => {
            let (me, database) = who_and_where(session).await;
            error::precondition(format!(
                "permission denied while applying (creating schema quota, where the migration \
                 history lives): {}; nothing was changed; as the database owner run \
                 `GRANT CREATE ON DATABASE {} TO {}`, or {}",
                db.message(),
                quote_ident(&database),
                quote_ident(&me),
                super::ownership_hint(session).await
            ))
        }
        Some(error::sqlstate::DUPLICATE_TABLE) => error::precondition(format!(
            "{}: {LEGACY_HISTORY_TABLE} and {HISTORY_TABLE} both exist; keep the one whose rows \
             match `quota migrate status`, drop the other, and run the command again",
            db.message()
        )),
        Some(error::sqlstate::LOCK_NOT_AVAILABLE) => error::precondition(format!(
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

/// The role quota runs as and the database, for grant hints.
async fn who_and_where(session: &mut Session) -> (String, String) {
    let fallback = || {
        (
            "the role quota connects as".to_string(),
            "this database".to_string(),
        )
    };
    let Ok(mut tx) = session.read_only().await else {
        return fallback();
    };
    db::query_as("SELECT current_user::text, current_database()::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap_or_else(|_| fallback())
}
