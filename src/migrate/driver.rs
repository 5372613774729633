//! refinery's async driver traits implemented over a sqlx connection, so
//! the project has one Postgres driver (sqlx) instead of two.

use async_trait::async_trait;
use refinery::Migration;
use refinery_core::traits::r#async::{AsyncMigrate, AsyncQuery, AsyncTransaction};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor, Row};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A borrowed sqlx connection that refinery can run migrations on.
pub struct SqlxDriver<'c> {
    conn: &'c mut PgConnection,
    /// Sent at the start of every migration transaction (e.g. `SET LOCAL
    /// lock_timeout`), so DDL waits on a busy table only briefly.
    transaction_prelude: String,
}

impl<'c> SqlxDriver<'c> {
    pub fn new(conn: &'c mut PgConnection, transaction_prelude: impl Into<String>) -> Self {
        SqlxDriver {
            conn,
            transaction_prelude: transaction_prelude.into(),
        }
    }
}

#[async_trait]
impl AsyncTransaction for SqlxDriver<'_> {
    type Error = sqlx::Error;

    /// Runs all queries in one transaction: a migration and its history row
    /// commit together or not at all.
    async fn execute(&mut self, queries: &[&str]) -> Result<usize, Self::Error> {
        let queries: Vec<String> = queries.iter().map(|q| q.to_string()).collect();
        execute_in_transaction(self.conn, &self.transaction_prelude, queries).await
    }
}

#[async_trait]
impl AsyncQuery<Vec<Migration>> for SqlxDriver<'_> {
    async fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        read_history(self.conn, query.to_string()).await
    }
}

// The bodies call sqlx through the `Executor` methods of `&mut PgConnection`,
// whose boxed futures are plainly Send; the generic `raw_sql(..).execute(e)`
// form trips a higher-ranked lifetime error inside #[async_trait].
async fn execute_in_transaction(
    conn: &mut PgConnection,
    prelude: &str,
    queries: Vec<String>,
) -> Result<usize, sqlx::Error> {
    let mut tx = conn.begin().await?;
    if !prelude.is_empty() {
        (&mut *tx).execute(sqlx::raw_sql(prelude)).await?;
    }
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

async fn read_history(
    conn: &mut PgConnection,
    query: String,
) -> Result<Vec<Migration>, sqlx::Error> {
    let rows = conn.fetch_all(sqlx::raw_sql(&query)).await?;
    rows.iter().map(applied_migration).collect()
}

impl AsyncMigrate for SqlxDriver<'_> {}

/// A history row `(version, name, applied_on, checksum)` as refinery writes it.
fn applied_migration(row: &sqlx::postgres::PgRow) -> Result<Migration, sqlx::Error> {
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
