//! The usual application code without enforcement: read the counter, check it in the
//! client, do the work, write back what was read plus one. Concurrent
//! callers read the same value and overwrite each other's increments; this
//! is what `race --naive` shows and what `bench` prices against the
//! installed enforcement.

use std::time::Duration;

use anyhow::Result;
use sqlx::Row;

use super::UserStatements;
use crate::db::literal::{render, Lit};
use crate::db::Session;
use crate::sql;

/// The application's work between the read and the write of the
/// naive path; the window in which concurrent requests read the same value.
pub(crate) const NAIVE_WORK: Duration = Duration::from_millis(10);

/// The clip limits such application code hard-codes (free / pro).
pub(crate) const APP_FREE_CLIPS: i32 = 50;
const APP_PRO_CLIPS: i32 = 1000;

/// The clip limit that application code checks a tier against.
pub(crate) fn app_clip_limit(tier: &str) -> i32 {
    if tier == "pro" {
        APP_PRO_CLIPS
    } else {
        APP_FREE_CLIPS
    }
}

/// Which counter the naive path reads and writes back.
#[derive(Clone, Copy)]
pub(crate) enum Counter {
    /// `users.usage_this_month`, checked against the user's
    /// `plan_limits_scrapes`.
    Scrapes,
    /// `user_usage.clips_this_month`, checked against the limit the
    /// application decides for the user's tier.
    Clips(fn(&str) -> i32),
}

/// What the application does between its check and its write.
#[derive(Clone, Copy)]
pub(crate) enum Work<'a> {
    /// Nothing: the write follows the check at once.
    Nothing,
    /// Business logic that takes this long.
    Pause(Duration),
    /// The statement the admission is for (a plain clip insert).
    Statement(&'a str),
}

/// One naive admission for `st`'s user, each step its own autocommit
/// statement as such an application sends them. `None` when the
/// user's row is gone, else whether it admitted.
pub(crate) async fn read_check_write(
    conn: &mut Session,
    st: &UserStatements,
    counter: Counter,
    work: Work<'_>,
) -> Result<Option<bool>> {
    let Some((value, limit)) = read(conn, st, counter).await? else {
        return Ok(None);
    };
    if limit.is_none_or(|limit| value >= limit) {
        return Ok(Some(false));
    }
    match work {
        Work::Nothing => {}
        Work::Pause(d) => tokio::time::sleep(d).await,
        Work::Statement(sql) => {
            conn.simple(sql).await?;
        }
    }
    let write = match counter {
        Counter::Scrapes => sql::NAIVE_WRITE_USAGE,
        Counter::Clips(_) => sql::NAIVE_WRITE_CLIPS,
    };
    let write = render(write, &[Lit::Uuid(st.id), Lit::Int(i64::from(value) + 1)]);
    conn.simple(&write).await?;
    Ok(Some(true))
}

/// The counter and the limit the application checks it against.
async fn read(
    conn: &mut Session,
    st: &UserStatements,
    counter: Counter,
) -> Result<Option<(i32, Option<i32>)>> {
    let read = match counter {
        Counter::Scrapes => &st.naive_read_usage,
        Counter::Clips(_) => &st.naive_read_clips,
    };
    let rows = conn.simple(read).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let value: i32 = row.try_get(0)?;
    let limit = match counter {
        Counter::Scrapes => row.try_get(1)?,
        Counter::Clips(limit_for_tier) => Some(limit_for_tier(&row.try_get::<String, _>(1)?)),
    };
    Ok(Some((value, limit)))
}
