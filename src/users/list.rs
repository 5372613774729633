//! `quota users`: users to test with, optionally only those under their
//! scrape limit this month.

use anyhow::Result;
use serde::Serialize;

use crate::{db, sql};

/// One user in the list, named by id only.
#[derive(Serialize, sqlx::FromRow)]
pub struct UserLine {
    pub user_id: String,
    pub plan: Option<String>,
    pub usage_this_month: i32,
    pub plan_limits_scrapes: Option<i32>,
}

#[derive(Serialize)]
pub struct UserList {
    pub users: Vec<UserLine>,
}

/// At most `limit` users, in id order.
pub async fn list(database: &db::Database, under_limit: bool, limit: i64) -> Result<UserList> {
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let users: Vec<UserLine> = db::query_as(sql::USERS_LIST)
        .bind(under_limit)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| super::explain(e, "listing users"))?;
    tx.commit().await?;
    Ok(UserList { users })
}
