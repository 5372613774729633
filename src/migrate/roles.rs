//! Who quota runs as, and who owns the application's tables: the facts a
//! "permission denied" hint names, looked up here and passed to
//! `error::migrate`, which words the hint and never queries.

use anyhow::Result;
use sqlx::PgConnection;

use crate::db::{self, Session};
use crate::error::migrate::{is_permission_denied, GrantFacts};
use crate::sql;

/// The facts a grant hint for `e` names, looked up only when `e` is a
/// permission denial (each in a transaction of its own; one that fails is
/// left unknown); `error::migrate` words the hint.
pub(crate) async fn grant_facts(db: &mut Session, e: &sqlx::Error) -> GrantFacts {
    if !is_permission_denied(e) {
        return GrantFacts::default();
    }
    GrantFacts {
        role_and_database: role_and_database(db).await,
        table_owner: table_owner(db).await.ok(),
    }
}

/// The role quota runs as, asked in the caller's transaction, only when
/// `e` is a permission denial (the hint names the role).
pub(crate) async fn current_role_if_denied(
    conn: &mut PgConnection,
    e: &sqlx::Error,
) -> Option<String> {
    if is_permission_denied(e) {
        current_role(conn).await
    } else {
        None
    }
}

/// The role quota runs as and the owner of `public.users` (`None` when the
/// table is missing), read in a transaction of their own: the one that
/// failed is aborted.
async fn table_owner(db: &mut Session) -> Result<(String, Option<String>)> {
    let mut tx = db.read_only().await?;
    Ok(db::query_as(sql::TABLE_OWNER).fetch_one(&mut *tx).await?)
}

/// The role quota runs as and the database, for grant hints.
async fn role_and_database(db: &mut Session) -> Option<(String, String)> {
    let mut tx = db.read_only().await.ok()?;
    db::query_as(sql::MIGRATION_ROLE_AND_DATABASE)
        .fetch_one(&mut *tx)
        .await
        .ok()
}

/// The role quota runs as, asked in the caller's transaction.
async fn current_role(conn: &mut PgConnection) -> Option<String> {
    db::query_scalar(sql::CURRENT_ROLE)
        .fetch_one(&mut *conn)
        .await
        .ok()
}
