//! refinery's async driver traits implemented over a quota [`Session`], so
//! the project has one Postgres driver (sqlx) instead of two, and how a
//! row of refinery's history is read (`history` reads and writes the rows).
//!
//! `migrate apply` runs the embedded migrations itself (see
//! `migrate::apply`): each version in a transaction that takes the
//! transaction-level migration lock and reads the history under it, which
//! refinery's runner (it reads the history once, up front) cannot do safely
//! next to concurrent processes. The driver's `execute` still takes the
//! lock, so any use of refinery's runner stays serialised.

use std::time::Duration;

use async_trait::async_trait;
use refinery::Migration;
use refinery_core::traits::r#async::{AsyncMigrate, AsyncQuery, AsyncTransaction};
use sqlx::{Executor, Row};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::lock;
use crate::db::Session;
use crate::ui::Ui;

/// A quota session that refinery can run migrations on.
pub struct SqlxDriver<'c> {
    db: &'c mut Session,
    /// Sent at the start of every transaction (e.g. `SET LOCAL
    /// lock_timeout`), so DDL waits on a busy table only briefly.
    transaction_prelude: String,
    /// How long to wait for another process holding the migration lock.
    lock_wait: Duration,
    ui: Ui,
}

impl<'c> SqlxDriver<'c> {}

/// An error of the driver: a database error, or the lock wait running out
/// (which carries its exit kind). The cause chain stays walkable, so the
/// SQLSTATE and exit kind are found through refinery's wrapping.
#[derive(Debug)]
pub struct DriverError(anyhow::Error);

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(AsRef::<dyn std::error::Error + Send + Sync>::as_ref(
            &self.0,
        ))
    }
}

impl From<sqlx::Error> for DriverError {
    fn from(e: sqlx::Error) -> Self {
        DriverError(e.into())
    }
}

#[async_trait]
impl AsyncTransaction for SqlxDriver<'_> {
    type Error = DriverError;

    /// Runs all queries in one transaction under the migration lock: a
    /// migration and its history row commit together or not at all.
    async fn execute(&mut self, queries: &[&str]) -> Result<usize, Self::Error> {
        let queries: Vec<String> = queries.iter().map(|q| q.to_string()).collect();
        let (prelude, wait) = (self.transaction_prelude.clone(), self.lock_wait);
        execute_locked(self.db, &prelude, wait, &self.ui, queries).await
    }
}

#[async_trait]
impl AsyncQuery<Vec<Migration>> for SqlxDriver<'_> {
    async fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        Ok(read_history(self.db, query.to_string()).await?)
    }
}

// The bodies call sqlx through the `Executor` methods of `&mut PgConnection`,
// whose boxed futures are plainly Send; the generic `raw_sql(..).execute(e)`
// form trips a higher-ranked lifetime error inside #[async_trait].
async fn execute_locked(
    db: &mut Session,
    prelude: &str,
    lock_wait: Duration,
    ui: &Ui,
    queries: Vec<String>,
) -> Result<usize, DriverError> {
    let mut tx = db.begin().await.map_err(DriverError)?;
    if !prelude.is_empty() {
        (&mut *tx).execute(sqlx::raw_sql(prelude)).await?;
    }
    lock::acquire_xact(&mut tx, lock_wait, ui)
        .await
        .map_err(DriverError)?;
    let mut affected = 0;
    for query in &queries {
        // Simple-query protocol: migration files hold many statements.
        affected += (&mut *tx)
            .execute(sqlx::raw_sql(query))
            .await?
            .rows_affected() as usize;
    }
    tx.commit().await?;
    Ok(affected)
}

/// refinery's history query: parameterless, so it runs by the simple
/// protocol in one message, safe through a pooler without a transaction.
async fn read_history(db: &mut Session, query: String) -> Result<Vec<Migration>, sqlx::Error> {
    let rows = db.simple(&query).await?;
    rows.iter().map(applied_migration).collect()
}

impl AsyncMigrate for SqlxDriver<'_> {}

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
