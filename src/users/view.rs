//! `quota user`: one user's plan, counters and limits, as the function and
//! trigger see them this month.

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{int, text, this_month};
use crate::{db, sql};

/// One user. The user is named by id only: no e-mail or other personal
/// data in output.
#[derive(Serialize)]
pub struct UserView {
    pub user_id: String,
    pub plan: Option<String>,
    pub subscription_status: Option<String>,
    pub subscription_tier: Option<String>,
    pub usage_this_month: i64,
    pub plan_limits_scrapes: Option<i64>,
    pub limit_reached: bool,
    pub usage_period_start: Option<String>,
    pub clips_this_month: i64,
    pub clip_limit: Option<i64>,
    pub clip_limit_reached: Option<bool>,
    pub clips_period_start: Option<String>,
    /// The current period: first day of this month in UTC.
    pub period: String,
    /// What deserves a look, e.g. a tier without a clip limit of its own.
    pub notes: Vec<String>,
}

/// `user --email`: the user found by e-mail, in one read-only transaction.
pub async fn show_by_email(database: &db::Database, email: &str) -> Result<UserView> {
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let user = super::email::find(&mut tx, email).await?;
    let view = user_view(&mut tx, user).await?;
    tx.commit().await?;
    Ok(view)
}

/// `user` in one read-only transaction.
pub async fn show(database: &db::Database, user: Uuid) -> Result<UserView> {
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let view = user_view(&mut tx, user).await?;
    tx.commit().await?;
    Ok(view)
}

/// `user` as seen on `conn`; an error naming the user when there is none.
pub(crate) async fn user_view(conn: &mut PgConnection, user: Uuid) -> Result<UserView> {
    let row: Option<(Value, Option<Value>, String)> = db::query_as(sql::USER_VIEW)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| super::explain(e, "reading the user"))?;
    let Some((u, usage, month)) = row else {
        return Err(super::no_user_seen_by(conn, user).await);
    };
    let usage = usage.unwrap_or(Value::Null);
    let tier = text(&u, "subscription_tier");
    let (has_limits, clip_limit) = clip_limit(conn, tier.as_deref()).await?;
    let notes = if has_limits {
        tier_notes(conn, tier.as_deref()).await?
    } else {
        Vec::new()
    };
    let usage_this_month = this_month(&u, "usage_this_month", "usage_period_start", &month);
    let limit = int(&u, "plan_limits_scrapes");
    let clips = this_month(&usage, "clips_this_month", "clips_period_start", &month);
    Ok(UserView {
        user_id: user.to_string(),
        plan: text(&u, "plan"),
        subscription_status: text(&u, "subscription_status"),
        subscription_tier: tier,
        usage_this_month,
        plan_limits_scrapes: limit,
        // The function admits only while usage < limit: a NULL limit admits nothing.
        limit_reached: limit.is_none_or(|l| usage_this_month >= l),
        usage_period_start: text(&u, "usage_period_start"),
        clips_this_month: clips,
        clip_limit: clip_limit.map(i64::from),
        clip_limit_reached: has_limits.then(|| clip_limit.is_none_or(|l| clips >= i64::from(l))),
        clips_period_start: text(&usage, "clips_period_start"),
        period: month,
        notes,
    })
}

/// A note when the user's tier has no clip limit of its own (the free
/// limit applies: a typo such as 'Pro' gives a paying user the free limit).
async fn tier_notes(conn: &mut PgConnection, tier: Option<&str>) -> Result<Vec<String>> {
    let Some(tier) = tier else {
        return Ok(vec![
            "no subscription_tier: the free clip limit applies".to_string()
        ]);
    };
    let (own, similar): (bool, Option<String>) = db::query_as(sql::CLIP_TIER_OWN)
        .bind(tier)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| super::explain(e, "reading public.clip_limits"))?;
    if own {
        return Ok(Vec::new());
    }
    Ok(vec![format!(
        "tier '{tier}' has no clip limit of its own: the free limit applies{}",
        crate::meters::did_you_mean(similar.as_deref())
    )])
}

/// Whether `public.clip_limits` exists, and the clip limit of `tier` in it.
async fn clip_limit(conn: &mut PgConnection, tier: Option<&str>) -> Result<(bool, Option<i32>)> {
    let has_limits: bool = db::query_scalar(sql::CLIP_LIMITS_INSTALLED)
        .fetch_one(&mut *conn)
        .await
        .context("looking for public.clip_limits")?;
    if !has_limits {
        return Ok((false, None));
    }
    let limit: Option<i32> = db::query_scalar(sql::CLIP_LIMIT_FOR_TIER)
        .bind(tier.unwrap_or_default())
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| super::explain(e, "reading public.clip_limits"))?;
    Ok((true, limit))
}
