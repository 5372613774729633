//! `quota call`: one call of `increment_usage_if_allowed`, rolled back
//! unless asked to commit.

use anyhow::{Context as _, Result};
use serde::Serialize;
use uuid::Uuid;

use crate::{db, sql};

/// The function's row, and whether it was kept.
#[derive(Serialize)]
pub struct CallReport {
    pub user_id: String,
    pub allowed: Option<bool>,
    pub new_usage: Option<i32>,
    pub effective_limit: Option<i32>,
    pub plan: Option<String>,
    pub subscription_status: Option<String>,
    pub committed: bool,
}

type FunctionRow = (
    Option<bool>,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<String>,
);

/// Calls the function for `user` in one transaction; commits it only when
/// `commit`, so a look costs the user nothing.
pub async fn call(database: &db::Database, user: Uuid, commit: bool) -> Result<CallReport> {
    let mut db = database.connect().await?;
    let mut tx = db.begin().await?;
    let row: FunctionRow = db::query_as(sql::CALL_RPC)
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| super::explain_call(e, user, "calling public.increment_usage_if_allowed"))?;
    if commit {
        tx.commit().await.context("committing the test call")?;
    } else {
        tx.rollback().await.context("rolling back the test call")?;
    }
    let (allowed, new_usage, effective_limit, plan, subscription_status) = row;
    Ok(CallReport {
        user_id: user.to_string(),
        allowed,
        new_usage,
        effective_limit,
        plan,
        subscription_status,
        committed: commit,
    })
}
