//! Who is raced: a scratch user made with the requested headroom, or a real
//! user; and its counter as the enforcement (or the naive path) sees it.

use anyhow::Result;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{RaceOptions, RacePath};
use crate::db::{self, Session};
use crate::error;
use crate::load::naive::{app_clip_limit, APP_FREE_CLIPS};
use crate::load::scratch::{self, ScratchUser, Shape};
use crate::load::{require_installed, APPLY_FIRST};
use crate::sql;
use crate::ui::Ui;

/// The scrape limit of a scratch user racing the RPC.
const SCRATCH_SCRAPE_LIMIT: i32 = 1000;

const SCRATCH_ADVICE: &str = "or race a real user instead with --user <uuid> (what the race \
                              admits is taken back afterwards)";

/// Who is raced, and how to undo it.
pub(super) enum Subject {
    Scratch(Uuid, Box<Shape>),
    /// A real user, and whether it had a `user_usage` row before the race.
    Real(Uuid, bool),
}

impl Subject {
    pub(super) fn id(&self) -> Uuid {
        match self {
            Subject::Scratch(id, _) => *id,
            Subject::Real(id, _) => *id,
        }
    }
}

/// Counter and limit of the raced user.
#[derive(Clone, Copy, Debug)]
pub(super) struct Counter {
    pub(super) value: i64,
    pub(super) limit: Option<i64>,
}

impl Counter {
    /// Admissions left; a missing or negative limit admits nothing.
    pub(super) fn headroom(self) -> u64 {
        match self.limit {
            Some(l) if l >= 0 => (l - self.value).max(0) as u64,
            _ => 0,
        }
    }
}

/// Checks what the race needs, then creates the scratch user with the
/// requested headroom, or checks that the real one exists.
pub(super) async fn prepare(db: &mut Session, opts: &RaceOptions, ui: &Ui) -> Result<Subject> {
    let mut tx = db.read_only().await?;
    if !opts.naive {
        require_installed(&mut tx, &[opts.target.enforcement()], |missing| {
            format!(
                "{missing} is not installed: {APPLY_FIRST}, or race the unsafe read-then-write \
                 path with --naive"
            )
        })
        .await?;
    }
    if let Some(id) = opts.user {
        if read_counter(&mut tx, opts, id).await.is_err() {
            let missing = crate::users::no_user_seen_by(&mut tx, id).await;
            return Err(error::precondition(format!(
                "{missing}; `quota users` lists valid ids"
            )));
        }
        let usage_row: Option<serde_json::Value> = db::query_scalar(sql::RACE_USAGE_ROW)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        return Ok(Subject::Real(id, usage_row.is_some()));
    }
    let shape = Shape::discover(&mut tx, SCRATCH_ADVICE).await?;
    let wanted = opts.headroom.unwrap_or((opts.attempts / 2) as u32) as i32;
    let spec = match opts.target {
        RacePath::Rpc => {
            let limit = SCRATCH_SCRAPE_LIMIT.max(wanted);
            ScratchUser {
                usage: limit - wanted,
                limit,
                tier: "free".into(),
                clips: None,
            }
        }
        RacePath::Trigger => {
            let limit = free_clip_limit(&mut tx, opts.naive).await?;
            if wanted > limit {
                ui.warn(&format!(
                    "the free tier allows {limit} clips a month: racing with headroom {limit}, \
                     not {wanted}"
                ));
            }
            ScratchUser {
                usage: 0,
                limit: SCRATCH_SCRAPE_LIMIT,
                tier: "free".into(),
                clips: Some(limit - wanted.min(limit)),
            }
        }
    };
    tx.commit().await?;
    let id = scratch::create_user(db, &shape, &spec, SCRATCH_ADVICE).await?;
    Ok(Subject::Scratch(id, Box::new(shape)))
}

/// The clips a trigger race on a real user inserts need placeholders for
/// clips' required columns; read them as a scratch user's would be.
pub(super) async fn clip_shape(conn: &mut PgConnection) -> Result<Shape> {
    Shape::discover(conn, "or race --target rpc").await
}

/// The free tier's clip limit: from `public.clip_limits`, or the
/// application's hard-coded 50 for the naive path (which predates that table).
async fn free_clip_limit(conn: &mut PgConnection, naive: bool) -> Result<i32> {
    if naive {
        return Ok(APP_FREE_CLIPS);
    }
    let limit: Option<i32> = db::query_scalar(sql::FREE_CLIP_LIMIT)
        .fetch_optional(conn)
        .await?;
    limit.ok_or_else(|| {
        error::precondition(
            "public.clip_limits has no 'free' row, so every clip is refused; run \
             `quota migrate apply` or restore the row",
        )
    })
}

/// The raced user's counter and limit, as the path being raced sees them.
pub(super) async fn read_counter(
    conn: &mut PgConnection,
    opts: &RaceOptions,
    id: Uuid,
) -> Result<Counter> {
    let query = match (opts.naive, opts.target) {
        (false, RacePath::Rpc) => sql::RACE_COUNTER_FUNCTION,
        (false, RacePath::Trigger) => sql::RACE_COUNTER_TRIGGER,
        (true, RacePath::Rpc) => sql::NAIVE_READ_USAGE,
        (true, RacePath::Trigger) => sql::NAIVE_READ_CLIPS,
    };
    let row: Option<(i64, Option<i64>)> = if opts.naive && opts.target == RacePath::Trigger {
        let row: Option<(i32, String)> = db::query_as(query).bind(id).fetch_optional(conn).await?;
        row.map(|(c, tier)| (c.into(), Some(app_clip_limit(&tier).into())))
    } else {
        let row: Option<(i32, Option<i32>)> =
            db::query_as(query).bind(id).fetch_optional(conn).await?;
        row.map(|(c, l)| (c.into(), l.map(i64::from)))
    };
    let (value, limit) = row.ok_or_else(|| {
        error::precondition(format!(
            "user {id} disappeared from public.users during the race"
        ))
    })?;
    Ok(Counter { value, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_fails_closed() {
        let c = |value, limit| Counter { value, limit }.headroom();
        assert_eq!(c(3, Some(5)), 2);
        assert_eq!(c(7, Some(5)), 0);
        assert_eq!(c(0, None), 0);
        assert_eq!(c(0, Some(-1)), 0);
    }
}
