//! Who is raced: a scratch user made with the requested headroom, or a real
//! user; and its counter as the enforcement (or the naive path) sees it.

use anyhow::{Context, Result};
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

/// Who is raced, and how its clips are inserted and found again.
pub(super) struct Subject {
    pub(super) id: Uuid,
    pub(super) kind: Kind,
    /// The trigger race's INSERT (placeholders and `{clip_key}` filled);
    /// empty when the race inserts no clips.
    pub(super) insert_clip: String,
    /// The expression naming a clip by its primary key
    /// (`ROW(c."id")::text`); what the take-back deletes by.
    pub(super) clip_key: String,
}

/// A scratch user (deleted afterwards), or a real one (its admissions are
/// taken back), and whether it had a `user_usage` row before the race.
pub(super) enum Kind {
    Scratch(Box<Shape>),
    Real { had_usage_row: bool },
}

impl Subject {
    pub(super) fn is_real(&self) -> bool {
        matches!(self.kind, Kind::Real { .. })
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
    let prepared = db.read(async |tx| prepare_in(tx, opts, ui).await).await?;
    match prepared {
        Prepared::Ready(subject) => Ok(subject),
        Prepared::Create(shape, spec, clip_key) => {
            let id = scratch::create_user(db, &shape, &spec, SCRATCH_ADVICE).await?;
            Ok(Subject {
                id,
                insert_clip: insert_clip(&shape, &clip_key),
                kind: Kind::Scratch(shape),
                clip_key,
            })
        }
    }
}

/// What the read-only look decided: a real user ready to race, or a scratch
/// user to create (in a transaction of its own).
enum Prepared {
    Ready(Subject),
    Create(Box<Shape>, ScratchUser, String),
}

async fn prepare_in(tx: &mut PgConnection, opts: &RaceOptions, ui: &Ui) -> Result<Prepared> {
    if !opts.naive {
        require_installed(&mut *tx, &[opts.target.enforcement()], |missing| {
            format!(
                "{missing} is not installed: {APPLY_FIRST}, or race the unsafe read-then-write \
                 path with --naive"
            )
        })
        .await?;
    }
    let inserts_clips = opts.target == RacePath::Trigger && !opts.naive;
    if let Some(id) = opts.user {
        if try_read_counter(&mut *tx, opts, id)
            .await
            .map_err(|e| error::load::subject_unreadable(e, id))?
            .is_none()
        {
            let missing = crate::users::no_user_seen_by(&mut *tx, id).await;
            return Err(error::precondition(format!(
                "{missing}; `quota users` lists valid ids"
            )));
        }
        let usage_row: Option<serde_json::Value> = db::query_scalar(sql::RACE_USAGE_ROW)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| error::load::subject_unreadable(e.into(), id))?;
        let (insert, clip_key) = if inserts_clips {
            let shape = clip_shape(&mut *tx).await?;
            let key = clip_key(&mut *tx).await?.ok_or_else(|| {
                error::precondition(
                    "public.clips has no primary key, and a trigger race on a real user finds \
                     the clips it inserted by it (application updates change anything else): \
                     add one, race a scratch user (no --user), or race --target rpc",
                )
            })?;
            (insert_clip(&shape, &key), key)
        } else {
            Default::default()
        };
        return Ok(Prepared::Ready(Subject {
            id,
            kind: Kind::Real {
                had_usage_row: usage_row.is_some(),
            },
            insert_clip: insert,
            clip_key,
        }));
    }
    let shape = Shape::discover(&mut *tx, SCRATCH_ADVICE).await?;
    let key = clip_key(&mut *tx)
        .await?
        .unwrap_or_else(|| "NULL::text".to_string());
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
            let limit = free_clip_limit(&mut *tx, opts.naive).await?;
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
    Ok(Prepared::Create(Box::new(shape), spec, key))
}

/// The trigger race's INSERT for this shape of `public.clips`.
fn insert_clip(shape: &Shape, clip_key: &str) -> String {
    shape
        .clips
        .fill(sql::RACE_INSERT_CLIP)
        .replace("{clip_key}", clip_key)
}

/// `ROW(c."k1", c."k2")::text` over the primary key of `public.clips`, the
/// names quoted here (a name cannot be a parameter); `None` without one.
async fn clip_key(conn: &mut PgConnection) -> Result<Option<String>> {
    let columns: Vec<String> = db::query_scalar(sql::CLIPS_KEY)
        .fetch_all(conn)
        .await
        .context("reading the primary key of public.clips")?;
    Ok(key_expression(&columns))
}

fn key_expression(columns: &[String]) -> Option<String> {
    if columns.is_empty() {
        return None;
    }
    let cols: Vec<String> = columns
        .iter()
        .map(|c| format!("c.\"{}\"", c.replace('"', "\"\"")))
        .collect();
    Some(format!("ROW({})::text", cols.join(", ")))
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

/// The raced user's counter and limit, as the path being raced sees them;
/// a user that is gone is an error.
pub(super) async fn read_counter(
    conn: &mut PgConnection,
    opts: &RaceOptions,
    id: Uuid,
) -> Result<Counter> {
    try_read_counter(conn, opts, id).await?.ok_or_else(|| {
        error::precondition(format!(
            "user {id} disappeared from public.users during the race"
        ))
    })
}

/// [`read_counter`], `None` when no such user is visible. Any error is the
/// server's (a missing privilege, a lost connection), never "not found".
async fn try_read_counter(
    conn: &mut PgConnection,
    opts: &RaceOptions,
    id: Uuid,
) -> Result<Option<Counter>> {
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
    Ok(row.map(|(value, limit)| Counter { value, limit }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keys_are_quoted_row_text() {
        assert_eq!(key_expression(&[]), None);
        assert_eq!(
            key_expression(&["id".into()]).unwrap(),
            "ROW(c.\"id\")::text"
        );
        assert_eq!(
            key_expression(&["a\"b".into(), "n".into()]).unwrap(),
            "ROW(c.\"a\"\"b\", c.\"n\")::text"
        );
    }

    #[test]
    fn headroom_fails_closed() {
        let c = |value, limit| Counter { value, limit }.headroom();
        assert_eq!(c(3, Some(5)), 2);
        assert_eq!(c(7, Some(5)), 0);
        assert_eq!(c(0, None), 0);
        assert_eq!(c(0, Some(-1)), 0);
    }
}
