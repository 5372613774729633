//! Where quota keeps its migration history: `quota.schema_history`, in a
//! schema of its own that the API (PostgREST) does not expose and that no
//! API role may use. Installs made before kept it in
//! `public.quota_schema_history`, where Supabase's default privileges let
//! `anon` read, forge or delete rows; [`prepare`] moves it, and until then
//! [`locate`] lets read-only commands find it in the old place. Also reads
//! and writes its rows in refinery's format.

use crate::db::{self, Session};
use crate::sql;
use anyhow::{Context, Result};
use refinery::Migration;
use sqlx::{Executor, PgConnection, Row};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::embedded::{HISTORY_TABLE, LEGACY_HISTORY_TABLE};
use super::lock::LockPolicy;
use super::step::{self, StepError};
use crate::error;
use crate::ui::Ui;

/// The history table that exists: the new one, else the old one, else none.
pub async fn locate(conn: &mut PgConnection) -> Result<Option<&'static str>> {
    locate_raw(conn)
        .await
        .context("looking for the migration history table")
}

/// The rows of history `table`, in the caller's transaction.
pub(crate) async fn read(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<Migration>, sqlx::Error> {
    // Parameterless (a table name cannot be bound): simple protocol.
    let query = sql::HISTORY_ROWS.replace("{history}", table);
    let rows = conn.fetch_all(sqlx::raw_sql(&query)).await?;
    rows.iter().map(applied_migration).collect()
}

/// The history as recorded now (none before the first apply), read in the
/// caller's transaction; under the migration lock it is the truth for the
/// rest of that transaction.
pub(crate) async fn recorded(conn: &mut PgConnection) -> Result<Vec<Migration>, sqlx::Error> {
    match locate_raw(conn).await? {
        Some(table) => read(conn, table).await,
        None => Ok(Vec::new()),
    }
}

/// Records `migration` as applied now, as refinery would.
pub(crate) async fn record(
    conn: &mut PgConnection,
    migration: &Migration,
) -> Result<(), sqlx::Error> {
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| sqlx::Error::Encode(e.to_string().into()))?;
    db::query(&with_table(sql::RECORD_VERSION))
        .bind(migration.version() as i32)
        .bind(migration.name())
        .bind(now)
        .bind(migration.checksum().to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Re-records `migration` with this build's name and checksum (repair).
pub(crate) async fn rerecord(
    conn: &mut PgConnection,
    migration: &Migration,
) -> Result<(), sqlx::Error> {
    db::query(&with_table(sql::RERECORD_VERSION))
        .bind(migration.version() as i32)
        .bind(migration.name())
        .bind(migration.checksum().to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes a reverted version's row.
pub(crate) async fn forget(conn: &mut PgConnection, version: u32) -> Result<(), sqlx::Error> {
    db::query(&with_table(sql::FORGET_VERSION))
        .bind(version as i32)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `template` with its `{history}` placeholder naming [`HISTORY_TABLE`]: a
/// table name cannot be a bound parameter, and this one is a constant of
/// the build, never user input.
fn with_table(template: &str) -> String {
    template.replace("{history}", HISTORY_TABLE)
}

/// Creates schema `quota` and its history table where missing, moves an old
/// `public.quota_schema_history` there (one transaction: moved whole or not
/// at all), and takes every privilege on both away from PUBLIC and the API
/// roles. The transaction takes the migration lock first, so concurrent
/// processes prepare it once (the SQL is idempotent). `operation`
/// ("rolling back", "repairing") is what a failure is said to interrupt.
pub async fn prepare(db: &mut Session, policy: LockPolicy, ui: &Ui, operation: &str) -> Result<()> {
    let prepared = step::under_lock(db, policy, ui, async |tx: &mut PgConnection| {
        prepare_in(tx).await?;
        Ok::<_, StepError>(Some(()))
    })
    .await;
    match prepared {
        Ok(_) => Ok(()),
        Err(e) => Err(e
            .explained(async |e| {
                let facts = super::roles::grant_facts(db, &e).await;
                error::migrate::history_not_prepared(&e, operation, &facts)
            })
            .await),
    }
}

/// [`prepare`]'s work inside the caller's transaction, which holds the
/// migration lock. Already in place: nothing to do, and no DDL privilege
/// needed (a role that may only run `rollback` or `--repair` gets no
/// further anyway). Errors are explained by
/// `error::migrate::history_not_prepared`.
pub async fn prepare_in(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    let in_place = locate_raw(tx).await? == Some(HISTORY_TABLE)
        && !table_exists(tx, LEGACY_HISTORY_TABLE).await?;
    if in_place {
        return Ok(());
    }
    tx.execute(sqlx::raw_sql(sql::HISTORY_PREPARE)).await?;
    Ok(())
}

async fn locate_raw(conn: &mut PgConnection) -> Result<Option<&'static str>, sqlx::Error> {
    for table in [HISTORY_TABLE, LEGACY_HISTORY_TABLE] {
        if table_exists(conn, table).await? {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

async fn table_exists(conn: &mut PgConnection, table: &str) -> Result<bool, sqlx::Error> {
    db::query_scalar(sql::HISTORY_TABLE_EXISTS)
        .bind(table)
        .fetch_one(&mut *conn)
        .await
}

/// A history row `(version, name, applied_on, checksum)` as refinery writes it.
pub(crate) fn applied_migration(row: &sqlx::postgres::PgRow) -> Result<Migration, sqlx::Error> {
    let version: i32 = row.try_get("version")?;
    let name: String = row.try_get("name")?;
    let applied_on: String = row.try_get("applied_on")?;
    let checksum: String = row.try_get("checksum")?;
    let decode = |what: &str, e: &dyn std::fmt::Display| sqlx::Error::ColumnDecode {
        index: what.to_string(),
        source: format!("history row V{version}: {e}").into(),
    };
    let applied_on =
        OffsetDateTime::parse(&applied_on, &Rfc3339).map_err(|e| decode("applied_on", &e))?;
    let checksum: u64 = checksum.parse().map_err(|e| decode("checksum", &e))?;
    Ok(Migration::applied(version, name, applied_on, checksum))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one file that must name the tables itself agrees with the constants.
    #[test]
    fn prepare_names_the_history_tables_of_this_build() {
        assert!(sql::HISTORY_PREPARE.contains(HISTORY_TABLE));
        assert!(sql::HISTORY_PREPARE.contains(LEGACY_HISTORY_TABLE));
        for template in [
            sql::RECORD_VERSION,
            sql::RERECORD_VERSION,
            sql::FORGET_VERSION,
        ] {
            assert!(with_table(template).contains(HISTORY_TABLE));
        }
    }
}
