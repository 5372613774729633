//! `quota report at-limit | near-limit | summary`: the clip guide's
//! monitoring queries, with limits read from public.clip_limits and the
//! monthly rollover respected.

use crate::db;
use crate::sql;
use anyhow::Result;
use serde::Serialize;

use super::user::db_error;
use super::Context;
use crate::cli::ReportCommand;
use crate::output::{self, Report};

pub async fn run(ctx: &Context, report: Option<ReportCommand>) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let mut conn = db.read_only().await?;
    match report.unwrap_or(ReportCommand::Summary { threshold: 0.9 }) {
        ReportCommand::AtLimit => {
            let users: Vec<AtLimit> = db::query_as(sql::REPORT_AT_LIMIT)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| db_error(e, "reading users at their limit"))?;
            let report = AtLimitReport {
                report: "at-limit",
                users,
            };
            output::print(&report, ctx.format)
        }
        ReportCommand::NearLimit { threshold } => {
            let users: Vec<NearLimit> = db::query_as(sql::REPORT_NEAR_LIMIT)
                .bind(threshold)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| db_error(e, "reading users near their clip limit"))?;
            let report = NearLimitReport {
                report: "near-limit",
                threshold,
                users,
            };
            output::print(&report, ctx.format)
        }
        ReportCommand::Summary { threshold } => {
            let rows: Vec<TierCounts> = db::query_as(sql::REPORT_SUMMARY)
                .bind(threshold)
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| db_error(e, "counting users at and near their limits"))?;
            output::print(&Summary::new(threshold, rows), ctx.format)
        }
    }
}

#[derive(Serialize, sqlx::FromRow)]
struct AtLimit {
    user_id: String,
    tier: Option<String>,
    /// "clips" or "scrapes".
    counter: String,
    used: i32,
    limit: Option<i32>,
}

#[derive(Serialize)]
struct AtLimitReport {
    report: &'static str,
    users: Vec<AtLimit>,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

impl Report for AtLimitReport {
    fn to_table(&self) -> String {
        if self.users.is_empty() {
            return "no user is at a limit this month".to_string();
        }
        let mut t = output::table(&["user", "tier", "counter", "used", "limit"]);
        for u in &self.users {
            t.add_row(vec![
                u.user_id.clone(),
                opt(&u.tier),
                u.counter.clone(),
                u.used.to_string(),
                u.limit
                    .map_or_else(|| "none (admits nothing)".to_string(), |l| l.to_string()),
            ]);
        }
        let mut ids: Vec<&str> = self.users.iter().map(|u| u.user_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        format!("{t}\n{} at a limit this month", users(ids.len()))
    }
}

#[derive(Serialize, sqlx::FromRow)]
struct NearLimit {
    user_id: String,
    tier: Option<String>,
    used: i32,
    limit: Option<i32>,
}

#[derive(Serialize)]
struct NearLimitReport {
    report: &'static str,
    threshold: f64,
    users: Vec<NearLimit>,
}

impl Report for NearLimitReport {
    fn to_table(&self) -> String {
        if self.users.is_empty() {
            return format!(
                "no free-tier user is at {:.0}% or more of the clip limit",
                self.threshold * 100.0
            );
        }
        let mut t = output::table(&["user", "tier", "clips used", "clip limit"]);
        for u in &self.users {
            t.add_row(vec![
                u.user_id.clone(),
                opt(&u.tier),
                u.used.to_string(),
                opt(&u.limit),
            ]);
        }
        format!(
            "{t}\n{} on the free tier at {:.0}% or more of the clip limit",
            users(self.users.len()),
            self.threshold * 100.0
        )
    }
}

#[derive(Serialize, sqlx::FromRow)]
struct TierCounts {
    tier: Option<String>,
    clip_limit: Option<i32>,
    users: i64,
    at_scrape_limit: i64,
    at_clip_limit: i64,
    near_clip_limit: i64,
}

#[derive(Serialize)]
struct Summary {
    report: &'static str,
    threshold: f64,
    users: i64,
    at_scrape_limit: i64,
    at_clip_limit: i64,
    near_clip_limit: i64,
    tiers: Vec<TierCounts>,
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

impl Report for Summary {
    fn to_table(&self) -> String {
        let mut t = output::table(&[
            "tier",
            "clip limit",
            "users",
            "at scrape limit",
            "at clip limit",
            "near clip limit",
        ]);
        for r in &self.tiers {
            t.add_row(vec![
                opt(&r.tier),
                opt(&r.clip_limit),
                r.users.to_string(),
                r.at_scrape_limit.to_string(),
                r.at_clip_limit.to_string(),
                r.near_clip_limit.to_string(),
            ]);
        }
        t.add_row(vec![
            "all".to_string(),
            String::new(),
            self.users.to_string(),
            self.at_scrape_limit.to_string(),
            self.at_clip_limit.to_string(),
            self.near_clip_limit.to_string(),
        ]);
        format!(
            "{t}\nnear = free tier at {:.0}% or more of the clip limit",
            self.threshold * 100.0
        )
    }
}

/// "1 user", "2 users".
fn users(n: usize) -> String {
    if n == 1 {
        "1 user".to_string()
    } else {
        format!("{n} users")
    }
}
