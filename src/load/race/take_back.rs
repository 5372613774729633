//! Undoing a race: the scratch user is deleted; from a real user exactly
//! what the race admitted is taken back, and nothing the application
//! admitted meanwhile.

use anyhow::{Context, Result};
use sqlx::PgConnection;
use uuid::Uuid;

use super::fire::ClipRef;
use super::subject::{Kind, Subject};
use super::{RaceOptions, RacePath, RaceReport, TakenBack};
use crate::db::{self, Session};
use crate::error::load::{
    by_hand_scratch, scratch_user_left, take_back_failure, NotTakenBack, UndoByHand,
};
use crate::load::{cleanup_timeouts, scratch, Cleanup};
use crate::sql;

/// What a race left: its subject, and (once it raced) what to take back.
pub(super) struct Left {
    pub(super) subject: Subject,
    target: RacePath,
    /// The race's own admissions. Nothing until the race has run.
    admissions: u64,
    clips: Vec<ClipRef>,
    /// The take-back whose COMMIT was sent, by transaction id, with what it
    /// did: if its acknowledgement is lost, the retry asks the server
    /// whether it committed instead of subtracting again.
    sent: Option<(i64, TakenBack)>,
}

impl Left {
    pub(super) fn new(opts: &RaceOptions, subject: Subject) -> Self {
        Left {
            subject,
            target: opts.target,
            admissions: 0,
            clips: Vec::new(),
            sent: None,
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

    fn undo(&self, had_usage_row: bool) -> UndoByHand<'_> {
        UndoByHand {
            user: self.subject.id,
            admissions: self.admissions,
            clip_race: self.target == RacePath::Trigger,
            clip_key: &self.subject.clip_key,
            clips: &self.clips,
            drop_usage_row: self.target == RacePath::Trigger && !had_usage_row,
            sent_as: self.sent.as_ref().map(|(xid, _)| *xid),
        }
    }
}

impl Cleanup for Left {
    /// What was taken back from a real user; nothing for a scratch user.
    type Done = Option<TakenBack>;

    async fn clean_up(&mut self, db: &mut Session) -> Result<Option<TakenBack>> {
        match &self.subject.kind {
            Kind::Scratch(shape) => {
                scratch::delete_users(db, shape, &[self.subject.id]).await?;
                Ok(None)
            }
            Kind::Real { had_usage_row } => {
                let had_usage_row = *had_usage_row;
                take_back_once(db, had_usage_row, self).await.map(Some)
            }
        }
    }

    fn cleaned(&self) -> &'static str {
        match self.subject.kind {
            Kind::Scratch(..) => "the scratch user was removed",
            Kind::Real { .. } => "what the race admitted was taken back",
        }
    }

    /// A real user's take-back that fails is its own exit code
    /// ([`crate::error::ExitKind::Restore`]): the message says what remains.
    fn explain_failure(&self, e: anyhow::Error) -> anyhow::Error {
        match &self.subject.kind {
            Kind::Scratch(_) => scratch_user_left(e, self.subject.id),
            Kind::Real { had_usage_row } => take_back_failure(
                e,
                NotTakenBack {
                    user: self.subject.id,
                    admissions: self.admissions,
                    counter: self.target.counter(),
                    clips: self.clips.len(),
                },
                &self.undo(*had_usage_row).statements(),
            ),
        }
    }

    fn by_hand(&self) -> String {
        match &self.subject.kind {
            Kind::Scratch(shape) => by_hand_scratch(shape.parent(), self.subject.id),
            Kind::Real { had_usage_row } => self.undo(*had_usage_row).statements(),
        }
    }
}

/// The take-back, at most once: when an earlier attempt's COMMIT was sent
/// but its answer never came (the connection broke), that transaction is
/// looked up first; committed, it is not repeated.
async fn take_back_once(
    db: &mut Session,
    had_usage_row: bool,
    plan: &mut Left,
) -> Result<TakenBack> {
    if let Some((xid, done)) = plan.sent.clone() {
        let status = db
            .write(async |tx| earlier_attempt(tx, plan, xid).await)
            .await
            .context("checking whether the first take-back committed")?;
        match status.as_deref() {
            Some("committed") => return Ok(done),
            Some("aborted") => plan.sent = None,
            other => anyhow::bail!(
                "the first take-back (transaction {xid}) is {}: check `quota user {}` before \
                 undoing anything by hand",
                other.unwrap_or("unknown to the server"),
                plan.subject.id
            ),
        }
    }
    // The application updating the same clips in another order can make
    // the server pick this transaction as a deadlock's victim: it was
    // rolled back whole (it fails before COMMIT), so it is run again.
    let mut attempt = 1;
    loop {
        match take_back(db, had_usage_row, plan).await {
            Err(e)
                if attempt < TAKE_BACK_ATTEMPTS
                    && crate::error::cause::has_sqlstate(
                        e.as_ref(),
                        crate::error::sqlstate::DEADLOCK_DETECTED,
                    ) =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// How often a take-back chosen as a deadlock's victim is tried in all.
const TAKE_BACK_ATTEMPTS: u32 = 3;

/// Waits for the earlier attempt to end (it held the row lock the
/// take-back takes first), then asks the server how it ended.
async fn earlier_attempt(tx: &mut PgConnection, plan: &Left, xid: i64) -> Result<Option<String>> {
    cleanup_timeouts(&mut *tx).await?;
    lock_counter_row(&mut *tx, plan).await?;
    Ok(db::query_scalar(sql::XACT_STATUS)
        .bind(xid)
        .fetch_one(&mut *tx)
        .await?)
}

/// Locks the raced counter's row, as the enforcement itself does; returns
/// it as jsonb (`None`: no such row).
async fn lock_counter_row(tx: &mut PgConnection, plan: &Left) -> Result<Option<serde_json::Value>> {
    let lock = if plan.target == RacePath::Trigger {
        sql::USAGE_ROW_LOCKED
    } else {
        sql::USER_ROW_LOCKED
    };
    db::query_scalar(lock)
        .bind(plan.subject.id)
        .fetch_optional(tx)
        .await
        .context("locking the user's counter row")
}

/// In one transaction, under the row locks the enforcement itself takes:
/// deletes the clips the race inserted (found by primary key), and lowers
/// the counter by the race's admissions. What the application admitted
/// meanwhile stays. The transaction id is recorded before COMMIT.
async fn take_back(db: &mut Session, had_usage_row: bool, plan: &mut Left) -> Result<TakenBack> {
    let id: Uuid = plan.subject.id;
    let mut tx = db.begin().await?;
    cleanup_timeouts(&mut tx).await?;
    let clip_race = plan.target == RacePath::Trigger;
    let update = if clip_race {
        sql::RACE_TAKE_BACK_CLIPS
    } else {
        sql::RACE_TAKE_BACK_SCRAPES
    };
    let before = lock_counter_row(&mut tx, plan).await?;
    let mut clips_deleted = 0;
    if !plan.clips.is_empty() {
        let delete = sql::RACE_DELETE_CLIPS.replace("{clip_key}", &plan.subject.clip_key);
        clips_deleted = db::query(&delete)
            .bind(id)
            .bind(&plan.clips)
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
    let xid: i64 = db::query_scalar(sql::XACT_ID)
        .fetch_one(&mut *tx)
        .await
        .context("reading the take-back's transaction id")?;
    let done = TakenBack {
        admissions: plan.admissions,
        clips_inserted: plan.clips.len() as u64,
        clips_deleted,
        also_changed,
    };
    plan.sent = Some((xid, done.clone()));
    tx.commit().await.context("committing the take-back")?;
    Ok(done)
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
