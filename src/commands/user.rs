//! `quota call`, `quota user`, `quota users`, `quota reset-user`: the guide's
//! test call, debug query, test-user query and usage reset.

use crate::db;
use crate::sql;
use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::Context;
use crate::error;
use crate::output::{self, Report};
use crate::users;

/// One line for a database error of these commands: objects quota installs
/// missing, a table of the contract missing, no privilege; else the message.
pub(super) fn db_error(e: sqlx::Error, doing: &str) -> anyhow::Error {
    let Some(db) = e.as_database_error() else {
        return anyhow::Error::new(e).context(doing.to_string());
    };
    let msg = db.message().to_string();
    match db.code().as_deref() {
        Some(error::sqlstate::UNDEFINED_FUNCTION) | Some(error::sqlstate::UNDEFINED_TABLE) | Some(error::sqlstate::UNDEFINED_COLUMN) => error::precondition(format!(
            "{doing}: {msg}; is quota installed here? run `quota check schema` and `quota migrate apply`"
        )),
        Some(error::sqlstate::INSUFFICIENT_PRIVILEGE) => error::precondition(format!(
            "{doing}: {msg}; connect as a role that has the privilege (on Supabase: postgres or service_role)"
        )),
        _ => anyhow::Error::new(e).context(doing.to_string()),
    }
}

fn no_user(user: Uuid) -> anyhow::Error {
    users::no_user(user)
}

// ---------------------------------------------------------------- call

/// The RPC's row, and whether it was kept.
#[derive(Serialize)]
struct CallReport {
    user_id: String,
    allowed: Option<bool>,
    new_usage: Option<i32>,
    effective_limit: Option<i32>,
    plan: Option<String>,
    subscription_status: Option<String>,
    committed: bool,
}

impl Report for CallReport {
    fn to_table(&self) -> String {
        let mut t = output::table(&[
            "allowed",
            "new_usage",
            "effective_limit",
            "plan",
            "subscription_status",
            "committed",
        ]);
        t.add_row(vec![
            cell(&self.allowed),
            cell(&self.new_usage),
            cell(&self.effective_limit),
            cell(&self.plan),
            cell(&self.subscription_status),
            self.committed.to_string(),
        ]);
        let note = if self.committed && self.allowed == Some(true) {
            "committed: the call counted"
        } else if self.committed {
            "committed, but not allowed: nothing counted"
        } else {
            "rolled back: nothing changed (use --commit to keep it)"
        };
        format!("{t}\n{note}")
    }
}

fn cell<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "NULL".to_string(), T::to_string)
}

type RpcRow = (
    Option<bool>,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<String>,
);

pub async fn call(ctx: &Context, user: Uuid, commit: bool) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let mut tx = db.begin().await?;
    let row: RpcRow = db::query_as(sql::CALL_RPC)
        .bind(user)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match error::sqlstate(&e).as_deref() {
            Some(error::sqlstate::NO_DATA_FOUND) => no_user(user),
            _ => db_error(e, "calling public.increment_usage_if_allowed"),
        })?;
    if commit {
        tx.commit().await.context("committing the test call")?;
    } else {
        tx.rollback().await.context("rolling back the test call")?;
    }
    let (allowed, new_usage, effective_limit, plan, subscription_status) = row;
    output::print(
        &CallReport {
            user_id: user.to_string(),
            allowed,
            new_usage,
            effective_limit,
            plan,
            subscription_status,
            committed: commit,
        },
        ctx.format,
    )
}

// ---------------------------------------------------------------- user

/// The guide's debug view. Counters are as the function and trigger see
/// them: one whose period is an earlier UTC month counts as 0. The user is
/// named by id only: no e-mail or other personal data in output.
#[derive(Serialize)]
struct UserView {
    user_id: String,
    plan: Option<String>,
    subscription_status: Option<String>,
    subscription_tier: Option<String>,
    usage_this_month: i64,
    plan_limits_scrapes: Option<i64>,
    limit_reached: bool,
    usage_period_start: Option<String>,
    clips_this_month: i64,
    clip_limit: Option<i64>,
    clip_limit_reached: Option<bool>,
    clips_period_start: Option<String>,
    /// The current period: first day of this month in UTC.
    period: String,
}

impl Report for UserView {
    fn to_table(&self) -> String {
        let mut t = output::table(&["field", "value"]);
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        let rows: Vec<(&str, String)> = vec![
            ("id", self.user_id.to_string()),
            ("plan", dash(&self.plan)),
            ("subscription_status", dash(&self.subscription_status)),
            ("subscription_tier", dash(&self.subscription_tier)),
            (
                "usage / limit",
                format!(
                    "{} / {}",
                    self.usage_this_month,
                    cell(&self.plan_limits_scrapes)
                ),
            ),
            ("limit_reached", self.limit_reached.to_string()),
            ("usage_period_start", dash(&self.usage_period_start)),
            (
                "clips used / clip limit",
                format!("{} / {}", self.clips_this_month, cell(&self.clip_limit)),
            ),
            ("clip_limit_reached", cell(&self.clip_limit_reached)),
            ("clips_period_start", dash(&self.clips_period_start)),
            ("current period (UTC)", self.period.clone()),
        ];
        for (k, v) in rows {
            t.add_row(vec![k.to_string(), v]);
        }
        t.to_string()
    }
}

fn text(row: &Value, key: &str) -> Option<String> {
    row.get(key).and_then(Value::as_str).map(str::to_string)
}

fn int(row: &Value, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_i64)
}

/// A counter as the function and trigger see it in `month`.
fn this_month(row: &Value, counter: &str, period: &str, month: &str) -> i64 {
    match text(row, period) {
        Some(p) if p.as_str() < month => 0,
        _ => int(row, counter).unwrap_or(0),
    }
}

pub async fn show(ctx: &Context, user: Uuid) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let mut tx = db.read_only().await?;
    let view = user_view(&mut tx, user).await?;
    tx.commit().await?;
    output::print(&view, ctx.format)
}

async fn user_view(conn: &mut PgConnection, user: Uuid) -> Result<UserView> {
    let row: Option<(Value, Option<Value>, String)> = db::query_as(sql::USER_VIEW)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db_error(e, "reading the user"))?;
    let Some((u, usage, month)) = row else {
        return Err(users::no_user_seen_by(conn, user).await);
    };
    let usage = usage.unwrap_or(Value::Null);
    let tier = text(&u, "subscription_tier");
    let has_limits: bool = db::query_scalar(sql::CLIP_LIMITS_INSTALLED)
        .fetch_one(&mut *conn)
        .await
        .context("looking for public.clip_limits")?;
    let clip_limit: Option<i32> = if has_limits {
        db::query_scalar(sql::CLIP_LIMIT_FOR_TIER)
            .bind(tier.clone().unwrap_or_default())
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| db_error(e, "reading public.clip_limits"))?
    } else {
        None
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
    })
}

// ---------------------------------------------------------------- users

#[derive(Serialize, sqlx::FromRow)]
struct UserLine {
    user_id: String,
    plan: Option<String>,
    usage_this_month: i32,
    plan_limits_scrapes: Option<i32>,
}

#[derive(Serialize)]
struct UserList {
    users: Vec<UserLine>,
}

impl Report for UserList {
    fn to_table(&self) -> String {
        if self.users.is_empty() {
            return "no users".to_string();
        }
        let mut t = output::table(&["id", "plan", "usage_this_month", "plan_limits_scrapes"]);
        for u in &self.users {
            t.add_row(vec![
                u.user_id.clone(),
                cell(&u.plan),
                u.usage_this_month.to_string(),
                cell(&u.plan_limits_scrapes),
            ]);
        }
        t.to_string()
    }
}

pub async fn list(ctx: &Context, under_limit: bool, limit: i64) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let mut tx = db.read_only().await?;
    let users: Vec<UserLine> = db::query_as(sql::USERS_LIST)
        .bind(under_limit)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db_error(e, "listing users"))?;
    tx.commit().await?;
    output::print(&UserList { users }, ctx.format)
}

// ---------------------------------------------------------------- reset-user

/// Which counters `reset-user` sets to 0.
#[derive(Clone, Copy, Debug)]
pub struct Counters {
    pub scrapes: bool,
    pub clips: bool,
}

impl Counters {
    /// Neither flag means both.
    pub fn pick(scrapes: bool, clips: bool) -> Self {
        if !scrapes && !clips {
            Counters {
                scrapes: true,
                clips: true,
            }
        } else {
            Counters { scrapes, clips }
        }
    }

    fn describe(self) -> &'static str {
        match (self.scrapes, self.clips) {
            (true, true) => "usage_this_month and clips_this_month",
            (true, false) => "usage_this_month",
            _ => "clips_this_month",
        }
    }
}

/// The stored counters and their periods (null where there is no such
/// column, or no user_usage row).
#[derive(Clone, Debug, PartialEq, Serialize)]
struct CounterState {
    usage_this_month: Option<i64>,
    usage_period_start: Option<String>,
    clips_this_month: Option<i64>,
    clips_period_start: Option<String>,
}

#[derive(Serialize)]
struct ResetReport {
    user_id: String,
    before: CounterState,
    after: CounterState,
    changed: bool,
}

impl Report for ResetReport {
    fn to_table(&self) -> String {
        let mut t = output::table(&["counter", "before", "after"]);
        let cell = |n: &Option<i64>, p: &Option<String>| match (n, p) {
            (None, _) => "-".to_string(),
            (Some(n), Some(p)) => format!("{n} (period {p})"),
            (Some(n), None) => n.to_string(),
        };
        let (b, a) = (&self.before, &self.after);
        t.add_row(vec![
            "usage_this_month".to_string(),
            cell(&b.usage_this_month, &b.usage_period_start),
            cell(&a.usage_this_month, &a.usage_period_start),
        ]);
        t.add_row(vec![
            "clips_this_month".to_string(),
            cell(&b.clips_this_month, &b.clips_period_start),
            cell(&a.clips_this_month, &a.clips_period_start),
        ]);
        let note = if self.changed {
            "reset"
        } else {
            "nothing to change"
        };
        format!("{t}\n{note}: user {}", self.user_id)
    }
}

async fn locked_state(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<Option<(CounterState, bool, bool)>> {
    let Some(u): Option<Value> = db::query_scalar(sql::USER_ROW_LOCKED)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db_error(e, "reading the user"))?
    else {
        return Ok(None);
    };
    let usage: Option<Value> = db::query_scalar(sql::USAGE_ROW_LOCKED)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| db_error(e, "reading the user's clip counter"))?;
    let usage = usage.unwrap_or(Value::Null);
    let state = CounterState {
        usage_this_month: int(&u, "usage_this_month"),
        usage_period_start: text(&u, "usage_period_start"),
        clips_this_month: int(&usage, "clips_this_month"),
        clips_period_start: text(&usage, "clips_period_start"),
    };
    let user_periods = u.get("usage_period_start").is_some();
    let usage_periods = usage.get("clips_period_start").is_some();
    Ok(Some((state, user_periods, usage_periods)))
}

async fn exec(conn: &mut PgConnection, sql: &str, user: Uuid, doing: &str) -> Result<()> {
    db::query(sql)
        .bind(user)
        .execute(&mut *conn)
        .await
        .map_err(|e| db_error(e, doing))?;
    Ok(())
}

pub async fn reset(ctx: &Context, user: Uuid, counters: Counters, yes: bool) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    // Unknown user: an error before any question, with nothing changed.
    let mut look = db.read_only().await?;
    user_view(&mut look, user).await?;
    look.commit().await?;
    // Users are named by id only: no e-mail in output.
    let question = format!(
        "Reset {} of user {} on {}?",
        counters.describe(),
        user,
        ctx.target.describe()
    );
    if !ctx.ui.confirm(&question, yes)? {
        return Err(error::usage("reset cancelled; nothing was changed"));
    }
    let mut tx = db.begin().await?;
    let Some((before, user_periods, usage_periods)) = locked_state(&mut tx, user).await? else {
        return Err(users::no_user_seen_by(&mut tx, user).await);
    };
    if counters.scrapes {
        exec(
            &mut tx,
            sql::RESET_SCRAPES,
            user,
            "resetting usage_this_month",
        )
        .await?;
        if user_periods {
            exec(
                &mut tx,
                sql::RESET_SCRAPES_PERIOD,
                user,
                "resetting usage_period_start",
            )
            .await?;
        }
    }
    if counters.clips {
        exec(
            &mut tx,
            sql::RESET_CLIPS,
            user,
            "resetting clips_this_month",
        )
        .await?;
        if usage_periods {
            exec(
                &mut tx,
                sql::RESET_CLIPS_PERIOD,
                user,
                "resetting clips_period_start",
            )
            .await?;
        }
    }
    let (after, _, _) = locked_state(&mut tx, user)
        .await?
        .ok_or_else(|| no_user(user))?;
    tx.commit().await.context("committing the reset")?;
    let changed = before != after;
    output::print(
        &ResetReport {
            user_id: user.to_string(),
            before,
            after,
            changed,
        },
        ctx.format,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_means_both_counters() {
        let c = Counters::pick(false, false);
        assert!(c.scrapes && c.clips);
        let c = Counters::pick(false, true);
        assert!(!c.scrapes && c.clips);
    }

    #[test]
    fn an_earlier_period_counts_as_zero() {
        let row = serde_json::json!({"n": 7, "p": "2020-01-01"});
        assert_eq!(this_month(&row, "n", "p", "2026-11-01"), 0);
        let row = serde_json::json!({"n": 7, "p": "2026-11-01"});
        assert_eq!(this_month(&row, "n", "p", "2026-11-01"), 7);
        let row = serde_json::json!({"n": 7});
        assert_eq!(this_month(&row, "n", "p", "2026-11-01"), 7);
    }
}
