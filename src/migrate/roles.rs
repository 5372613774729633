//! Who quota runs as, and who owns the application's tables: the facts a
//! "permission denied" hint names (`error::migrate` words the hint).

use anyhow::Result;
use sqlx::PgConnection;

use crate::db::{self, Session};
use crate::sql;

/// The role quota runs as and the owner of `public.users` (`None` when the
/// table is missing), read in a transaction of their own: the one that
/// failed is aborted.
pub(crate) async fn table_owner(db: &mut Session) -> Result<(String, Option<String>)> {
    let mut tx = db.read_only().await?;
    Ok(db::query_as(sql::TABLE_OWNER).fetch_one(&mut *tx).await?)
}

/// The role quota runs as and the database, for grant hints.
pub(crate) async fn role_and_database(db: &mut Session) -> Option<(String, String)> {
    let mut tx = db.read_only().await.ok()?;
    db::query_as(sql::MIGRATION_ROLE_AND_DATABASE)
        .fetch_one(&mut *tx)
        .await
        .ok()
}

/// The role quota runs as, asked in the caller's transaction.
pub(crate) async fn current_role(conn: &mut PgConnection) -> Option<String> {
    db::query_scalar(sql::CURRENT_ROLE)
        .fetch_one(&mut *conn)
        .await
        .ok()
}
