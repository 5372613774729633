//! The race itself: every connection opened first, released together by a
//! barrier, each making its share of the attempts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::sync::Barrier;

use super::subject::{self, Subject};
use super::{RaceOptions, RacePath, RaceReport};
use crate::db::literal::{render, Lit};
use crate::db::{self, Session};
use crate::error::{self, load::clip_insert_failure};
use crate::interrupt::Interrupt;
use crate::load::naive::{self, app_clip_limit, NAIVE_WORK};
use crate::load::{allowed, connect_all, spawn_each, UserStatements};
use crate::sql;
use crate::ui::Ui;

/// A clip row the race inserted: its (ctid, xmin) as text.
pub(super) type ClipRef = (String, String);

/// What a race did; the first attempt's error is returned after the undo.
pub(super) struct Outcome {
    pub(super) report: RaceReport,
    /// Clips inserted, to delete afterwards on a real user.
    pub(super) clips: Vec<ClipRef>,
    pub(super) error: Option<anyhow::Error>,
}

/// Reads the counter, races, reads it again.
pub(super) async fn race(
    control: &mut Session,
    database: &db::Database,
    opts: &RaceOptions,
    subject: &Subject,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<Outcome> {
    let id = subject.id();
    let (before, insert_clip) = {
        let mut tx = control.read_only().await?;
        let before = subject::read_counter(&mut tx, opts, id).await?;
        // Only the trigger race inserts clips, and needs their placeholders.
        let clips = match subject {
            Subject::Scratch(_, shape) => shape.clips.clone(),
            Subject::Real(..) if opts.target == RacePath::Trigger && !opts.naive => {
                subject::clip_shape(&mut tx).await?.clips
            }
            Subject::Real(..) => Default::default(),
        };
        (before, clips.fill(sql::RACE_INSERT_CLIP))
    };
    let concurrency = opts.concurrency.clamp(1, opts.attempts.max(1));
    let conns = connect_all(database, concurrency).await?;
    interrupt.check("nothing was raced")?;
    let bar = ui.bar(
        opts.attempts as u64,
        &format!("racing {}", opts.target.as_str()),
    );
    let started = Instant::now();
    let statements = Arc::new(Statements {
        naive: opts.naive,
        target: opts.target,
        insert_clip: render(&insert_clip, &[Lit::Uuid(id)]),
        user: UserStatements::new(id),
    });
    let tallies = fire(conns, opts.attempts, statements, &bar, interrupt).await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let after = {
        let mut tx = control.read_only().await?;
        subject::read_counter(&mut tx, opts, id).await?
    };

    let mut total = Tally::default();
    for t in tallies {
        total.admitted += t.admitted;
        total.refused += t.refused;
        total.clips.extend(t.clips);
        if total.error.is_none() {
            total.error = t.error;
        }
    }
    let expected = before.headroom().min(opts.attempts as u64);
    let report = RaceReport {
        target: opts.target,
        naive: opts.naive,
        concurrency,
        attempts: opts.attempts,
        admitted: total.admitted,
        refused: total.refused,
        expected,
        over_admitted: total.admitted.saturating_sub(expected),
        counter_before: before.value,
        counter_after: after.value,
        limit: before.limit,
        user: match subject {
            Subject::Scratch(..) => "scratch".into(),
            Subject::Real(id, _) => id.to_string(),
        },
        elapsed_ms: elapsed.as_millis() as u64,
        taken_back: None,
    };
    Ok(Outcome {
        report,
        clips: total.clips,
        error: total.error,
    })
}

/// The race's statements, the user's id rendered in.
struct Statements {
    naive: bool,
    target: RacePath,
    insert_clip: String,
    user: UserStatements,
}

#[derive(Default)]
struct Tally {
    admitted: u64,
    refused: u64,
    clips: Vec<ClipRef>,
    error: Option<anyhow::Error>,
}

enum Attempt {
    Admitted(Option<ClipRef>),
    Refused,
}

/// Releases all connections at once; each makes its share of `attempts`.
/// The first error or a Ctrl-C stops the others after their current attempt.
async fn fire(
    conns: Vec<Session>,
    attempts: usize,
    statements: Arc<Statements>,
    bar: &indicatif::ProgressBar,
    interrupt: &Interrupt,
) -> Vec<Tally> {
    let n = conns.len();
    let barrier = Arc::new(Barrier::new(n));
    let stop = Arc::new(AtomicBool::new(false));
    let tallies = spawn_each(conns, |i, mut conn| {
        let share = attempts / n + usize::from(i < attempts % n);
        let (barrier, stop, bar) = (barrier.clone(), stop.clone(), bar.clone());
        let (statements, interrupt) = (statements.clone(), interrupt.clone());
        async move {
            let mut tally = Tally::default();
            barrier.wait().await;
            for _ in 0..share {
                if stop.load(Ordering::Relaxed) || interrupt.is_set() {
                    break;
                }
                match attempt(&mut conn, &statements).await {
                    Ok(Attempt::Admitted(clip)) => {
                        tally.admitted += 1;
                        tally.clips.extend(clip);
                    }
                    Ok(Attempt::Refused) => tally.refused += 1,
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        tally.error = Some(e);
                        break;
                    }
                }
                bar.inc(1);
            }
            tally
        }
    })
    .await;
    tallies
        .into_iter()
        .map(|t| {
            t.unwrap_or_else(|e| Tally {
                error: Some(anyhow::anyhow!("a race connection task failed: {e}")),
                ..Tally::default()
            })
        })
        .collect()
}

async fn attempt(conn: &mut Session, st: &Statements) -> Result<Attempt> {
    use sqlx::Row;
    let admitted = match (st.naive, st.target) {
        (false, RacePath::Rpc) => {
            let rows = conn
                .simple(&st.user.call)
                .await
                .context("calling public.increment_usage_if_allowed")?;
            allowed(rows.first())?
        }
        (false, RacePath::Trigger) => match conn.simple(&st.insert_clip).await {
            Ok(rows) => {
                let row = rows.first().context("the clip insert returned no row")?;
                return Ok(Attempt::Admitted(Some((row.try_get(0)?, row.try_get(1)?))));
            }
            Err(e) if error::load::is_clip_refused(&e) => false,
            Err(e) => return Err(clip_insert_failure(e)),
        },
        (true, target) => {
            let counter = match target {
                RacePath::Rpc => naive::Counter::Scrapes,
                RacePath::Trigger => naive::Counter::Clips(app_clip_limit),
            };
            let work = naive::Work::Pause(NAIVE_WORK);
            naive::read_check_write(conn, &st.user, counter, work)
                .await?
                .ok_or_else(|| error::precondition(format!("no user with id {}", st.user.id)))?
        }
    };
    Ok(if admitted {
        Attempt::Admitted(None)
    } else {
        Attempt::Refused
    })
}
