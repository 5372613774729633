//! The race itself: every connection opened first, released together by a
//! barrier, each making its share of the attempts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
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
use crate::ui::Ui;

/// A clip row the race inserted: its primary key as row text (see
/// `race_insert_clip.sql`), which the application's updates leave alone.
pub(super) type ClipRef = String;

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
    let id = subject.id;
    // Every transaction here ends explicitly (Session::read): a dropped one
    // would keep its snapshot open on the control connection for the whole
    // race, holding back vacuum on the very row being hammered.
    let before = control
        .read(async |tx| subject::read_counter(tx, opts, id).await)
        .await?;
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
        insert_clip: render(&subject.insert_clip, &[Lit::Uuid(id)]),
        user: UserStatements::new(id),
    });
    let tallies = fire(conns, opts.attempts, statements, &bar, interrupt).await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let after = control
        .read(async |tx| subject::read_counter(tx, opts, id).await)
        .await?;

    let total = tallies;
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
        user: if subject.is_real() {
            id.to_string()
        } else {
            "scratch".into()
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

/// What all connections admitted, recorded as each answer arrives: a task
/// that panics or is cancelled afterwards cannot take its admissions out of
/// the tally (the take-back subtracts exactly these).
#[derive(Default)]
struct Tally {
    admitted: u64,
    refused: u64,
    clips: Vec<ClipRef>,
    /// The first error (or panic) of any connection.
    error: Option<anyhow::Error>,
}

#[derive(Default)]
struct SharedTally(Mutex<Tally>);

impl SharedTally {
    fn with<T>(&self, f: impl FnOnce(&mut Tally) -> T) -> T {
        // A panic elsewhere never happens while the lock is held (only
        // these pushes run under it), but a poisoned tally is still whole.
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut t)
    }

    fn fail(&self, e: anyhow::Error) {
        self.with(|t| {
            t.error.get_or_insert(e);
        });
    }
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
) -> Tally {
    let n = conns.len();
    let barrier = Arc::new(Barrier::new(n));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(SharedTally::default());
    let joined = spawn_each(conns, |i, mut conn| {
        let share = attempts / n + usize::from(i < attempts % n);
        let (barrier, stop, bar) = (barrier.clone(), stop.clone(), bar.clone());
        let (statements, interrupt, tally) = (statements.clone(), interrupt.clone(), tally.clone());
        async move {
            barrier.wait().await;
            for _ in 0..share {
                if stop.load(Ordering::Relaxed) || interrupt.is_set() {
                    break;
                }
                match attempt(&mut conn, &statements).await {
                    Ok(Attempt::Admitted(clip)) => tally.with(|t| {
                        t.admitted += 1;
                        t.clips.extend(clip);
                    }),
                    Ok(Attempt::Refused) => tally.with(|t| t.refused += 1),
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        tally.fail(e);
                        break;
                    }
                }
                bar.inc(1);
            }
        }
    })
    .await;
    settle(joined, &tally)
}

/// The tally once every task has ended: a task that panicked is the
/// race's error, and what it recorded before stays counted.
fn settle(joined: Vec<Result<(), tokio::task::JoinError>>, tally: &SharedTally) -> Tally {
    for j in joined {
        if let Err(e) = j {
            tally.fail(anyhow::anyhow!(
                "a race connection task failed ({e}); what it had admitted is still taken back"
            ));
        }
    }
    tally.with(std::mem::take)
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
                let key: Option<String> = row.try_get(0)?;
                return Ok(Attempt::Admitted(key));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_keeps_its_admissions_in_the_tally() {
        let tally = Arc::new(SharedTally::default());
        let joined = spawn_each(vec![(); 3], |i, ()| {
            let tally = tally.clone();
            async move {
                tally.with(|t| {
                    t.admitted += 2;
                    t.clips.push(format!("({i})"));
                });
                assert!(i != 1, "a race task panicking on purpose");
            }
        })
        .await;
        let total = settle(joined, &tally);
        assert_eq!(total.admitted, 6);
        assert_eq!(total.clips.len(), 3);
        let error = total.error.expect("the panic is the race's error");
        assert!(format!("{error}").contains("still taken back"), "{error}");
    }
}
