//! `quota report at-limit | near-limit | summary`: who is at or near a
//! limit this month, every meter and every tier, with limits read as the
//! function and trigger read them and the monthly rollover respected (the
//! counting rule is `report_base.sql`). JSON gives one entry per meter.

use anyhow::Result;
use serde::Serialize;
use sqlx::PgConnection;

use crate::meters::{self, Meter, TierRow};
use crate::{db, sql};

/// A user at or near a limit, on one meter.
#[derive(Serialize, sqlx::FromRow)]
pub struct UserAt {
    /// The meter, as the query names it; grouped by it in output.
    #[serde(skip)]
    pub meter: String,
    pub user_id: String,
    pub tier: Option<String>,
    pub used: i32,
    pub limit: Option<i32>,
}

/// One meter's users.
#[derive(Serialize)]
pub struct MeterUsers {
    pub meter: Meter,
    pub users: Vec<UserAt>,
}

/// `at-limit` or `near-limit`: users per meter, and tiers in use without a
/// clip limit of their own.
#[derive(Serialize)]
pub struct UsersReport {
    pub report: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub meters: Vec<MeterUsers>,
    pub notes: Vec<String>,
}

impl UsersReport {
    /// How many distinct users are listed: one user may be on both meters.
    pub fn distinct_users(&self) -> usize {
        let mut ids: Vec<&str> = self
            .meters
            .iter()
            .flat_map(|m| m.users.iter().map(|u| u.user_id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

/// One meter's tiers and totals.
#[derive(Serialize)]
pub struct MeterSummary {
    pub meter: Meter,
    pub subjects: i64,
    pub at_limit: i64,
    pub near_limit: i64,
    pub usage: i64,
    /// Per tier (scrapes: per tier and limit, the limit being a column of
    /// each user row).
    pub tiers: Vec<TierRow>,
}

/// Every meter's counts per tier.
#[derive(Serialize)]
pub struct Summary {
    pub report: &'static str,
    pub threshold: f64,
    pub users: i64,
    pub meters: Vec<MeterSummary>,
    pub notes: Vec<String>,
}

/// Users at a limit this month, per meter.
pub async fn at_limit(database: &db::Database) -> Result<UsersReport> {
    let doing = "reading users at their limit";
    users(database, "at-limit", sql::REPORT_AT_LIMIT, None, doing).await
}

/// Users at `threshold` (0–1) or more of a limit but not at it, per meter.
pub async fn near_limit(database: &db::Database, threshold: f64) -> Result<UsersReport> {
    let doing = "reading users near their limit";
    let q = sql::REPORT_NEAR_LIMIT;
    users(database, "near-limit", q, Some(threshold), doing).await
}

/// Counts per meter and tier: users, at the limit, near it, usage.
pub async fn summary(database: &db::Database, threshold: f64) -> Result<Summary> {
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let rows = meters::tiers(&mut tx, threshold).await?;
    let notes = notes(&mut tx).await?;
    tx.commit().await?;
    let meters: Vec<MeterSummary> = Meter::ALL
        .into_iter()
        .map(|meter| {
            let tiers: Vec<TierRow> = rows
                .iter()
                .filter(|r| r.meter() == Some(meter))
                .cloned()
                .collect();
            let sum = |f: fn(&TierRow) -> i64| tiers.iter().map(f).sum();
            MeterSummary {
                meter,
                subjects: sum(|t| t.subjects),
                at_limit: sum(|t| t.at_limit),
                near_limit: sum(|t| t.near_limit),
                usage: sum(|t| t.usage),
                tiers,
            }
        })
        .collect();
    Ok(Summary {
        report: "summary",
        threshold,
        users: meters.first().map_or(0, |m| m.subjects),
        meters,
        notes,
    })
}

/// The users of one report query, grouped per meter, in a read-only
/// transaction; `threshold` is its parameter when it takes one.
async fn users(
    database: &db::Database,
    report: &'static str,
    query: &str,
    threshold: Option<f64>,
    doing: &str,
) -> Result<UsersReport> {
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let mut statement = db::query_as(query);
    if let Some(threshold) = threshold {
        statement = statement.bind(threshold);
    }
    let mut rows: Vec<UserAt> = statement
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| crate::users::explain(e, doing))?;
    let notes = notes(&mut tx).await?;
    tx.commit().await?;
    let meters = Meter::ALL
        .into_iter()
        .map(|meter| {
            let (mine, rest) = rows.drain(..).partition(|u| u.meter == meter.name());
            rows = rest;
            MeterUsers { meter, users: mine }
        })
        .collect();
    Ok(UsersReport {
        report,
        threshold,
        meters,
        notes,
    })
}

/// Tiers in use without a clip limit of their own.
async fn notes(conn: &mut PgConnection) -> Result<Vec<String>> {
    let unlimited = meters::unlimited_tiers(conn).await?;
    Ok(unlimited.iter().map(meters::Unlimited::describe).collect())
}
