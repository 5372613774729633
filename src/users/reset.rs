//! `quota reset-user`: sets a user's counters to 0 (or to N with `--to`:
//! below the usage grants, above takes back) and their periods to this
//! month, under the row locks the function and trigger take.

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{int, seen, text};
use crate::db::{self, Session};
use crate::{error, sql};

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

    /// The counters' column names, for the confirmation question.
    pub fn describe(self) -> &'static str {
        match (self.scrapes, self.clips) {
            (true, true) => "usage_this_month and clips_this_month",
            (true, false) => "usage_this_month",
            _ => "clips_this_month",
        }
    }
}

/// The counters as the function and trigger see them this month, as
/// `user` shows them (a counter of an earlier period counts as 0), and
/// their periods; null where there is no such column, or no user_usage row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CounterState {
    pub usage_this_month: Option<i64>,
    /// The stored usage_this_month where it differs from what the function
    /// sees (a counter left from an earlier period), else null.
    pub usage_stored: Option<i64>,
    pub usage_period_start: Option<String>,
    pub clips_this_month: Option<i64>,
    /// The stored clips_this_month where it differs from what the trigger sees.
    pub clips_stored: Option<i64>,
    pub clips_period_start: Option<String>,
}

#[derive(Serialize)]
pub struct ResetReport {
    pub user_id: String,
    /// The value the counters were set to.
    pub to: i32,
    pub before: CounterState,
    pub after: CounterState,
    pub changed: bool,
}

/// An error naming the user unless `user` exists: asked before the
/// confirmation, so an unknown user changes nothing and asks nothing.
pub async fn require_user(db: &mut Session, user: Uuid) -> Result<()> {
    let mut look = db.read_only().await?;
    super::view::user_view(&mut look, user).await?;
    look.commit().await?;
    Ok(())
}

/// Sets `counters` of `user` to `to` in one transaction, holding the rows' locks.
pub async fn reset(
    db: &mut Session,
    user: Uuid,
    counters: Counters,
    to: i32,
) -> Result<ResetReport> {
    let mut tx = db.begin().await?;
    let Some((before, user_periods, usage_periods)) = locked_state(&mut tx, user).await? else {
        return Err(super::no_user_seen_by(&mut tx, user).await);
    };
    if counters.scrapes {
        let column = "usage_this_month";
        exec(&mut tx, sql::RESET_SCRAPES, user, Some(to), column).await?;
        if user_periods {
            exec(
                &mut tx,
                sql::RESET_SCRAPES_PERIOD,
                user,
                None,
                "usage_period_start",
            )
            .await?;
        }
    }
    if counters.clips {
        // No user_usage row yet: a count other than 0 needs one.
        if before.clips_this_month.is_none() && to > 0 {
            let doing = "user_usage (a new row)";
            exec(&mut tx, sql::USAGE_ROW_INSERT, user, None, doing).await?;
        }
        let column = "clips_this_month";
        exec(&mut tx, sql::RESET_CLIPS, user, Some(to), column).await?;
        if usage_periods {
            let column = "clips_period_start";
            exec(&mut tx, sql::RESET_CLIPS_PERIOD, user, None, column).await?;
        }
    }
    let (after, _, _) = locked_state(&mut tx, user)
        .await?
        .ok_or_else(|| error::users::no_user(user))?;
    tx.commit().await.context("committing the reset")?;
    let changed = before != after;
    Ok(ResetReport {
        user_id: user.to_string(),
        to,
        before,
        after,
        changed,
    })
}

/// The user's counters, with their rows locked, and whether the period
/// columns exist on `users` and `user_usage`; `None` when there is no user.
async fn locked_state(
    conn: &mut PgConnection,
    user: Uuid,
) -> Result<Option<(CounterState, bool, bool)>> {
    let Some(u): Option<Value> = db::query_scalar(sql::USER_ROW_LOCKED)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| super::explain(e, "reading the user"))?
    else {
        return Ok(None);
    };
    let usage: Option<Value> = db::query_scalar(sql::USAGE_ROW_LOCKED)
        .bind(user)
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| super::explain(e, "reading the user's clip counter"))?;
    let usage = usage.unwrap_or(Value::Null);
    let month: String = db::query_scalar(sql::CURRENT_MONTH)
        .fetch_one(&mut *conn)
        .await
        .context("reading the current month")?;
    let usage_seen = seen(&u, "usage_this_month", "usage_period_start", &month);
    let usage_stored = int(&u, "usage_this_month");
    let clips_seen = seen(&usage, "clips_this_month", "clips_period_start", &month);
    let clips_stored = int(&usage, "clips_this_month");
    let state = CounterState {
        usage_this_month: usage_seen,
        usage_stored: usage_stored.filter(|_| usage_stored != usage_seen),
        usage_period_start: text(&u, "usage_period_start"),
        clips_this_month: clips_seen,
        clips_stored: clips_stored.filter(|_| clips_stored != clips_seen),
        clips_period_start: text(&usage, "clips_period_start"),
    };
    let user_periods = u.get("usage_period_start").is_some();
    let usage_periods = usage.get("clips_period_start").is_some();
    Ok(Some((state, user_periods, usage_periods)))
}

/// Runs one reset statement for `user` (and the value `to`, when it takes
/// one); `column` names it in errors.
async fn exec(
    conn: &mut PgConnection,
    sql: &str,
    user: Uuid,
    to: Option<i32>,
    column: &str,
) -> Result<()> {
    let mut statement = db::query(sql).bind(user);
    if let Some(to) = to {
        statement = statement.bind(to);
    }
    statement
        .execute(&mut *conn)
        .await
        .map_err(|e| super::explain(e, &format!("setting {column}")))?;
    Ok(())
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
}
