//! Undoing a race: the scratch user is deleted; from a real user exactly
//! what the race admitted is taken back, and nothing the application
//! admitted meanwhile.

use anyhow::{Context, Result};
use uuid::Uuid;

use super::fire::ClipRef;
use super::subject::Subject;
use super::{RaceOptions, RacePath, RaceReport, TakenBack};
use crate::db::{self, Session};
use crate::error::load::{scratch_user_left, take_back_failure, NotTakenBack};
use crate::load::{scratch, Cleanup};
use crate::sql;

/// What a race left: its subject, and (once it raced) what to take back.
pub(super) struct Left {
    pub(super) subject: Subject,
    target: RacePath,
    /// The race's own admissions. Nothing until the race has run.
    admissions: u64,
    clips: Vec<ClipRef>,
}

impl Left {
    pub(super) fn new(opts: &RaceOptions, subject: Subject) -> Self {
        Left {
            subject,
            target: opts.target,
            admissions: 0,
            clips: Vec::new(),
        }
    }

    /// Records what the race admitted. The naive path loses updates, so
    /// there it is what the counter actually moved by (never more than
    /// admitted).
    pub(super) fn record(&mut self, opts: &RaceOptions, r: &RaceReport, clips: Vec<ClipRef>) {
        self.admissions = if opts.naive {
            (r.counter_after - r.counter_before).clamp(0, r.admitted as i64) as u64
        } else {
            r.admitted
        };
        self.clips = clips;
    }
}

impl Cleanup for Left {
    /// What was taken back from a real user; nothing for a scratch user.
    type Done = Option<TakenBack>;

    async fn clean_up(&self, db: &mut Session) -> Result<Option<TakenBack>> {
        match &self.subject {
            Subject::Scratch(id, shape) => {
                scratch::delete_users(db, shape, &[*id]).await?;
                Ok(None)
            }
            Subject::Real(id, had_usage_row) => {
                take_back(db, *id, *had_usage_row, self).await.map(Some)
            }
        }
    }

    fn cleaned(&self) -> &'static str {
        match self.subject {
            Subject::Scratch(..) => "the scratch user was removed",
            Subject::Real(..) => "what the race admitted was taken back",
        }
    }

    /// A real user's take-back that fails is its own exit code
    /// ([`crate::error::ExitKind::Restore`]): the message says what remains.
    fn explain_failure(&self, e: anyhow::Error) -> anyhow::Error {
        match self.subject {
            Subject::Scratch(id, _) => scratch_user_left(e, id),
            Subject::Real(user, _) => take_back_failure(
                e,
                NotTakenBack {
                    user,
                    admissions: self.admissions,
                    counter: self.target.counter(),
                    clips: self.clips.len(),
                },
            ),
        }
    }
}

/// In one transaction, under the row locks the enforcement itself takes:
/// deletes the clips the race inserted, and lowers the counter by the
/// race's admissions. What the application admitted meanwhile stays.
async fn take_back(
    db: &mut Session,
    id: Uuid,
    had_usage_row: bool,
    plan: &Left,
) -> Result<TakenBack> {
    let mut tx = db.begin().await?;
    let clip_race = plan.target == RacePath::Trigger;
    let (lock, update) = if clip_race {
        (sql::USAGE_ROW_LOCKED, sql::RACE_TAKE_BACK_CLIPS)
    } else {
        (sql::USER_ROW_LOCKED, sql::RACE_TAKE_BACK_SCRAPES)
    };
    let before: Option<serde_json::Value> = db::query_scalar(lock)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .context("locking the user's counter row")?;
    let mut clips_deleted = 0;
    if !plan.clips.is_empty() {
        let (tids, xids): (Vec<String>, Vec<String>) = plan.clips.iter().cloned().unzip();
        clips_deleted = db::query(sql::RACE_DELETE_CLIPS)
            .bind(id)
            .bind(tids)
            .bind(xids)
            .execute(&mut *tx)
            .await
            .context("deleting the clips the race inserted")?
            .rows_affected();
    }
    let mut also_changed = Vec::new();
    if plan.admissions > 0 {
        let after: Option<serde_json::Value> = db::query_scalar(update)
            .bind(id)
            .bind(plan.admissions as i32)
            .fetch_optional(&mut *tx)
            .await
            .context("lowering the counter by the race's admissions")?;
        if let (Some(before), Some(after)) = (&before, &after) {
            let counter = plan.target.counter();
            also_changed = differing_columns(before, after)
                .into_iter()
                .filter(|c| c != counter)
                .collect();
        }
    }
    if clip_race && !had_usage_row {
        // The trigger created the counter row; gone again unless the
        // application's clips keep it above zero.
        db::query(sql::RACE_DELETE_EMPTY_USAGE)
            .bind(id)
            .execute(&mut *tx)
            .await
            .context("removing the clip counter row the race created")?;
    }
    tx.commit().await.context("committing the take-back")?;
    Ok(TakenBack {
        admissions: plan.admissions,
        clips_deleted,
        also_changed,
    })
}

/// Keys whose values differ between two jsonb rows.
fn differing_columns(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}
