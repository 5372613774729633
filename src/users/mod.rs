//! Users and their counters as the application's tables hold them: the
//! test call (`call`), one user's view (`user`), the list (`users`), the
//! reset (`reset-user`). The monitoring reports are in `monitor`.
//!
//! A counter whose period is an earlier UTC month counts as 0, because the
//! function and trigger reset it on first use this month: every view here
//! shows counters as they see them.

pub(crate) mod call;
pub(crate) mod email;
pub(crate) mod list;
pub(crate) mod reset;
pub(crate) mod view;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{db, error, sql};

/// A database error while `doing` something with users' counters, worded
/// by `error::users` with the application's table or column it names (the
/// contract says which are the application's).
pub(crate) fn explain(e: sqlx::Error, doing: &str) -> anyhow::Error {
    let application = crate::contract::object_named_by(&e);
    error::users::explain(e, doing, application)
}

/// [`explain`] for a call of the RPC: a user it says does not exist is
/// "no such user".
pub(crate) fn explain_call(e: sqlx::Error, user: Uuid, doing: &str) -> anyhow::Error {
    let application = crate::contract::object_named_by(&e);
    error::users::explain_call(e, user, doing, application)
}

/// "No such user", or, where row level security filters `public.users` for
/// the role quota runs as, that the user may only be hidden from it.
pub(crate) async fn no_user_seen_by(conn: &mut PgConnection, user: Uuid) -> anyhow::Error {
    let hidden: Option<bool> = db::query_scalar(sql::RLS_HIDES_USERS)
        .fetch_optional(&mut *conn)
        .await
        .ok()
        .flatten();
    if hidden != Some(true) {
        return error::users::no_user(user);
    }
    let role: String = db::query_scalar(sql::CURRENT_ROLE)
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|_| "the role quota runs as".to_string());
    error::users::hidden_user(user, &role)
}

/// A text field of a row read as JSON (columns a version may not have yet).
fn text(row: &Value, key: &str) -> Option<String> {
    row.get(key).and_then(Value::as_str).map(str::to_string)
}

/// An integer field of a row read as JSON.
fn int(row: &Value, key: &str) -> Option<i64> {
    row.get(key).and_then(Value::as_i64)
}

/// A counter as the function and trigger see it in `month` (`YYYY-MM-01`).
fn this_month(row: &Value, counter: &str, period: &str, month: &str) -> i64 {
    seen(row, counter, period, month).unwrap_or(0)
}

/// A counter as the function and trigger see it in `month`: 0 when its
/// period is an earlier month; `None` where there is no such counter.
fn seen(row: &Value, counter: &str, period: &str, month: &str) -> Option<i64> {
    let stored = int(row, counter)?;
    match text(row, period) {
        Some(p) if p.as_str() < month => Some(0),
        _ => Some(stored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_period_counts_as_zero() {
        let row = serde_json::json!({"n": 7, "p": "2020-01-01"});
        assert_eq!(this_month(&row, "n", "p", "2026-11-01"), 0);
        let row = serde_json::json!({"n": 7, "p": "2026-11-01"});
        assert_eq!(this_month(&row, "n", "p", "2026-11-01"), 7);
        let row = serde_json::json!({"n": 7});
        assert_eq!(this_month(&row, "n", "p", "2026-11-01"), 7);
        assert_eq!(seen(&row, "x", "p", "2026-11-01"), None);
    }
}
