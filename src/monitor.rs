//! `quota report at-limit | near-limit | summary`: who is at or near a
//! limit this month, with limits read from `public.clip_limits` and the
//! monthly rollover respected (the counting rule is `report_base.sql`).

use anyhow::Result;
use serde::Serialize;

use crate::{db, error, sql};

/// A user at a limit, once per counter at its limit.
#[derive(Serialize, sqlx::FromRow)]
pub struct AtLimit {
    pub user_id: String,
    pub tier: Option<String>,
    /// "clips" or "scrapes".
    pub counter: String,
    pub used: i32,
    pub limit: Option<i32>,
}

#[derive(Serialize)]
pub struct AtLimitReport {
    pub report: &'static str,
    pub users: Vec<AtLimit>,
}

impl AtLimitReport {
    /// How many users are at a limit: one user may be at both.
    pub fn distinct_users(&self) -> usize {
        let mut ids: Vec<&str> = self.users.iter().map(|u| u.user_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

/// A free-tier user at `threshold` or more of the clip limit.
#[derive(Serialize, sqlx::FromRow)]
pub struct NearLimit {
    pub user_id: String,
    pub tier: Option<String>,
    pub used: i32,
    pub limit: Option<i32>,
}

#[derive(Serialize)]
pub struct NearLimitReport {
    pub report: &'static str,
    pub threshold: f64,
    pub users: Vec<NearLimit>,
}

/// One tier's counts.
#[derive(Serialize, sqlx::FromRow)]
pub struct TierCounts {
    pub tier: Option<String>,
    pub clip_limit: Option<i32>,
    pub users: i64,
    pub at_scrape_limit: i64,
    pub at_clip_limit: i64,
    pub near_clip_limit: i64,
}

/// Every tier's counts and their totals.
#[derive(Serialize)]
pub struct Summary {
    pub report: &'static str,
    pub threshold: f64,
    pub users: i64,
    pub at_scrape_limit: i64,
    pub at_clip_limit: i64,
    pub near_clip_limit: i64,
    pub tiers: Vec<TierCounts>,
}

impl Summary {
    fn new(threshold: f64, tiers: Vec<TierCounts>) -> Self {
        let sum = |f: fn(&TierCounts) -> i64| tiers.iter().map(f).sum();
        Summary {
            report: "summary",
            threshold,
            users: sum(|t| t.users),
            at_scrape_limit: sum(|t| t.at_scrape_limit),
            at_clip_limit: sum(|t| t.at_clip_limit),
            near_clip_limit: sum(|t| t.near_clip_limit),
            tiers,
        }
    }
}

/// Users at a limit this month.
pub async fn at_limit(database: &db::Database) -> Result<AtLimitReport> {
    let users = rows(
        database,
        sql::REPORT_AT_LIMIT,
        None,
        "reading users at their limit",
    )
    .await?;
    Ok(AtLimitReport {
        report: "at-limit",
        users,
    })
}

/// Free-tier users at `threshold` (0–1) or more of their clip limit.
pub async fn near_limit(database: &db::Database, threshold: f64) -> Result<NearLimitReport> {
    let doing = "reading users near their clip limit";
    let users = rows(database, sql::REPORT_NEAR_LIMIT, Some(threshold), doing).await?;
    Ok(NearLimitReport {
        report: "near-limit",
        threshold,
        users,
    })
}

/// Counts per tier: users, at the scrape limit, at and near the clip limit.
pub async fn summary(database: &db::Database, threshold: f64) -> Result<Summary> {
    let doing = "counting users at and near their limits";
    let tiers = rows(database, sql::REPORT_SUMMARY, Some(threshold), doing).await?;
    Ok(Summary::new(threshold, tiers))
}

/// The rows of one report query, in a read-only transaction; `threshold`
/// is its parameter when it takes one.
async fn rows<T>(
    database: &db::Database,
    query: &str,
    threshold: Option<f64>,
    doing: &str,
) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let mut statement = db::query_as(query);
    if let Some(threshold) = threshold {
        statement = statement.bind(threshold);
    }
    let rows = statement
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| error::users::explain(e, doing))?;
    tx.commit().await?;
    Ok(rows)
}
