//! `quota race`: fire concurrent admission attempts at one user over real
//! connections and count what got through.
//!
//! All connections are opened first and released together by a barrier, so
//! the attempts really contend for the user's row. The normal mode goes
//! through the installed enforcement (the RPC, or an INSERT into
//! `public.clips` that fires the trigger) and must admit exactly the
//! headroom the user had. `--naive` runs the guides' old read-then-write
//! code instead, to show the over-admission the migrations prevent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{Executor, PgConnection};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::db;
use crate::exit::{self, sqlstate};
use crate::interrupt::{self, Interrupt};
use crate::scratch::{self, ScratchUser, UserSnapshot};
use crate::ui::Ui;

const INSTALLED: &str = include_str!("../sql/queries/race_installed.sql");
const CALL_FUNCTION: &str = include_str!("../sql/queries/race_call_function.sql");
const INSERT_CLIP: &str = include_str!("../sql/queries/race_insert_clip.sql");
const DELETE_CLIPS: &str = include_str!("../sql/queries/race_delete_clips.sql");
const COUNTER_FUNCTION: &str = include_str!("../sql/queries/race_counter_function.sql");
const COUNTER_TRIGGER: &str = include_str!("../sql/queries/race_counter_trigger.sql");
const NAIVE_READ_USAGE: &str = include_str!("../sql/queries/naive_read_usage.sql");
const NAIVE_WRITE_USAGE: &str = include_str!("../sql/queries/naive_write_usage.sql");
const NAIVE_READ_CLIPS: &str = include_str!("../sql/queries/naive_read_clips.sql");
const NAIVE_WRITE_CLIPS: &str = include_str!("../sql/queries/naive_write_clips.sql");

/// The guide's "(business logic)" between the read and the write of the
/// naive path; the window in which concurrent requests read the same value.
pub const NAIVE_WORK: Duration = Duration::from_millis(10);

/// The clip limits hard-coded in the guide's application code (free / pro).
const GUIDE_FREE_CLIPS: i32 = 50;
const GUIDE_PRO_CLIPS: i32 = 1000;

/// The scrape limit of a scratch user racing the RPC.
const SCRATCH_SCRAPE_LIMIT: i32 = 1000;

/// What the race goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RaceTarget {
    /// `public.increment_usage_if_allowed(uuid)`
    Rpc,
    /// `INSERT INTO public.clips` through `enforce_clip_limit_trigger`
    Trigger,
}

impl RaceTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            RaceTarget::Rpc => "rpc",
            RaceTarget::Trigger => "trigger",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RaceOptions {
    pub target: RaceTarget,
    /// Connections racing at once.
    pub concurrency: usize,
    /// Attempts in all, spread over the connections.
    pub attempts: usize,
    /// A real user (restored afterwards) instead of a scratch user.
    pub user: Option<Uuid>,
    pub naive: bool,
    /// Admissions a scratch user has left (default: half the attempts).
    pub headroom: Option<u32>,
}

/// The outcome; its JSON is part of the documented output.
#[derive(Clone, Debug, Serialize)]
pub struct RaceReport {
    pub target: RaceTarget,
    pub naive: bool,
    pub concurrency: usize,
    pub attempts: usize,
    pub admitted: u64,
    pub refused: u64,
    /// What a correct enforcement admits: the headroom, at most `attempts`.
    pub expected: u64,
    pub over_admitted: u64,
    pub counter_before: i64,
    pub counter_after: i64,
    pub limit: Option<i64>,
    /// `"scratch"` or the raced user's id.
    pub user: String,
    pub elapsed_ms: u64,
}

impl RaceReport {
    /// Increments the counter lost to concurrent overwrites (naive mode).
    pub fn lost_updates(&self) -> i64 {
        self.admitted as i64 - (self.counter_after - self.counter_before)
    }

    /// Why a normal-mode race failed, if it did: more or fewer admissions
    /// than the headroom, or a counter that moved by something else.
    pub fn violation(&self) -> Option<String> {
        if self.naive {
            return None;
        }
        if self.over_admitted > 0 {
            return Some(format!(
                "over-admitted {} of {} attempts ({} admitted, {} expected)",
                self.over_admitted, self.attempts, self.admitted, self.expected
            ));
        }
        if self.admitted != self.expected {
            return Some(format!(
                "admitted {} but the user had room for {}",
                self.admitted, self.expected
            ));
        }
        if self.lost_updates() != 0 {
            return Some(format!(
                "the counter moved by {} for {} admissions",
                self.counter_after - self.counter_before,
                self.admitted
            ));
        }
        None
    }
}

/// Who is raced, and how to undo it.
enum Subject {
    Scratch(Uuid),
    Real(UserSnapshot),
}

impl Subject {
    fn id(&self) -> Uuid {
        match self {
            Subject::Scratch(id) => *id,
            Subject::Real(s) => s.id,
        }
    }
}

/// Counter and limit of the raced user.
#[derive(Clone, Copy, Debug)]
struct Counter {
    value: i64,
    limit: Option<i64>,
}

impl Counter {
    /// Admissions left; a missing or negative limit admits nothing.
    fn headroom(self) -> u64 {
        match self.limit {
            Some(l) if l >= 0 => (l - self.value).max(0) as u64,
            _ => 0,
        }
    }
}

/// Runs one race and always undoes what it did to the database: scratch
/// users are deleted, a real user's rows are restored, even on error or
/// Ctrl-C (which ends with an "interrupted" error once cleaned up).
pub async fn run(
    target: &db::Target,
    opts: &RaceOptions,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<RaceReport> {
    let mut control = target.connect().await?;
    require_installed(&mut control, opts).await?;
    let subject = prepare_subject(&mut control, opts, ui).await?;
    let outcome = race_subject(&mut control, target, opts, &subject, ui, interrupt).await;
    let clips = outcome
        .as_ref()
        .map(|o| o.clips.clone())
        .unwrap_or_default();
    // Undo first, whatever happened; a failed undo is the error that matters most.
    undo(target, &mut control, &subject, &clips).await?;
    let outcome = outcome?;
    if let Some(e) = outcome.error {
        return Err(e);
    }
    if interrupt.is_set() {
        return Err(interrupt::interrupted(match subject {
            Subject::Scratch(_) => "the scratch user was removed",
            Subject::Real(_) => "the user's rows were restored",
        }));
    }
    Ok(outcome.report)
}

async fn require_installed(conn: &mut PgConnection, opts: &RaceOptions) -> Result<()> {
    if opts.naive {
        return Ok(());
    }
    let (function, trigger): (bool, bool) = sqlx::query_as(INSTALLED).fetch_one(conn).await?;
    let missing = match opts.target {
        RaceTarget::Rpc if !function => "public.increment_usage_if_allowed(uuid)",
        RaceTarget::Trigger if !trigger => "an enabled enforce_clip_limit_trigger on public.clips",
        _ => return Ok(()),
    };
    Err(exit::precondition(format!(
        "{missing} is not installed: run `quota migrate apply` first (or race the guide's old \
         code path with --naive)"
    )))
}

/// Creates the scratch user with the requested headroom, or snapshots the
/// real one.
async fn prepare_subject(conn: &mut PgConnection, opts: &RaceOptions, ui: &Ui) -> Result<Subject> {
    if let Some(id) = opts.user {
        return Ok(Subject::Real(scratch::snapshot(conn, id).await?));
    }
    let wanted = opts.headroom.unwrap_or((opts.attempts / 2) as u32) as i32;
    let spec = match opts.target {
        RaceTarget::Rpc => {
            let limit = SCRATCH_SCRAPE_LIMIT.max(wanted);
            ScratchUser {
                usage: limit - wanted,
                limit,
                tier: "free".into(),
                clips: None,
            }
        }
        RaceTarget::Trigger => {
            let limit = free_clip_limit(conn, opts.naive).await?;
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
    let advice = "race a real user instead with --user <uuid> (its rows are restored exactly \
                  afterwards)";
    Ok(Subject::Scratch(
        scratch::create_user(conn, &spec, advice).await?,
    ))
}

/// The free tier's clip limit: from `public.clip_limits`, or the guide's
/// hard-coded 50 for the naive path (which predates that table).
async fn free_clip_limit(conn: &mut PgConnection, naive: bool) -> Result<i32> {
    if naive {
        return Ok(GUIDE_FREE_CLIPS);
    }
    let limit: Option<i32> =
        sqlx::query_scalar("SELECT monthly_limit FROM public.clip_limits WHERE tier = 'free'")
            .fetch_optional(conn)
            .await?;
    limit.ok_or_else(|| {
        exit::precondition(
            "public.clip_limits has no 'free' row, so every clip is refused; run \
             `quota migrate apply` or restore the row",
        )
    })
}

async fn read_counter(conn: &mut PgConnection, opts: &RaceOptions, id: Uuid) -> Result<Counter> {
    let row: Option<(i64, Option<i64>)> = match (opts.naive, opts.target) {
        (false, RaceTarget::Rpc) => fetch_counter(conn, COUNTER_FUNCTION, id).await?,
        (false, RaceTarget::Trigger) => fetch_counter(conn, COUNTER_TRIGGER, id).await?,
        (true, RaceTarget::Rpc) => naive_read_usage(conn, id)
            .await?
            .map(|(u, l)| (u as i64, l.map(i64::from))),
        (true, RaceTarget::Trigger) => naive_read_clips(conn, id)
            .await?
            .map(|(c, tier)| (c as i64, Some(guide_clip_limit(&tier) as i64))),
    };
    let (value, limit) = row.ok_or_else(|| {
        exit::precondition(format!(
            "user {id} disappeared from public.users during the race"
        ))
    })?;
    Ok(Counter { value, limit })
}

async fn fetch_counter(
    conn: &mut PgConnection,
    sql: &'static str,
    id: Uuid,
) -> Result<Option<(i64, Option<i64>)>> {
    let row: Option<(i32, Option<i32>)> = sqlx::query_as(sql).bind(id).fetch_optional(conn).await?;
    Ok(row.map(|(c, l)| (c as i64, l.map(i64::from))))
}

struct Outcome {
    report: RaceReport,
    /// Clips inserted for a real user, to delete afterwards.
    clips: Vec<ClipRef>,
    /// An attempt's error, returned after the undo.
    error: Option<anyhow::Error>,
}

async fn race_subject(
    control: &mut PgConnection,
    target: &db::Target,
    opts: &RaceOptions,
    subject: &Subject,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<Outcome> {
    let id = subject.id();
    let before = read_counter(control, opts, id).await?;
    let concurrency = opts.concurrency.clamp(1, opts.attempts.max(1));
    let conns = open_connections(target, opts, concurrency, interrupt).await?;
    let bar = ui.bar(
        opts.attempts as u64,
        &format!("racing {}", opts.target.as_str()),
    );
    let started = Instant::now();
    let tallies = fire(conns, opts, id, &bar, interrupt).await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let after = read_counter(control, opts, id).await?;

    let mut total = Tally::default();
    let mut error = None;
    for t in tallies {
        total.admitted += t.admitted;
        total.refused += t.refused;
        total.clips.extend(t.clips);
        if error.is_none() {
            error = t.error;
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
            Subject::Scratch(_) => "scratch".into(),
            Subject::Real(s) => s.id.to_string(),
        },
        elapsed_ms: elapsed.as_millis() as u64,
    };
    Ok(Outcome {
        report,
        clips: total.clips,
        error,
    })
}

/// Opens every connection before the race and prepares its statements,
/// so the first attempt is no slower than the last.
async fn open_connections(
    target: &db::Target,
    opts: &RaceOptions,
    n: usize,
    interrupt: &Interrupt,
) -> Result<Vec<PgConnection>> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..n {
        let target = target.clone();
        let statements = statements(opts);
        opening.spawn(async move {
            let mut conn = target.connect().await?;
            for sql in statements {
                conn.prepare(sql)
                    .await
                    .with_context(|| format!("could not prepare the race statement {sql}"))?;
            }
            anyhow::Ok(conn)
        });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(joined) = opening.join_next().await {
        conns.push(joined.context("a connection task failed")??);
        interrupt.check("nothing was raced")?;
    }
    Ok(conns)
}

fn statements(opts: &RaceOptions) -> Vec<&'static str> {
    match (opts.naive, opts.target) {
        (false, RaceTarget::Rpc) => vec![CALL_FUNCTION],
        (false, RaceTarget::Trigger) => vec![INSERT_CLIP],
        (true, RaceTarget::Rpc) => vec![NAIVE_READ_USAGE, NAIVE_WRITE_USAGE],
        (true, RaceTarget::Trigger) => vec![NAIVE_READ_CLIPS, NAIVE_WRITE_CLIPS],
    }
}

/// A clip row the race inserted: its (ctid, xmin) as text.
type ClipRef = (String, String);

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

/// Releases all connections at once; each makes its share of the attempts.
/// The first error or a Ctrl-C stops the others after their current attempt.
async fn fire(
    conns: Vec<PgConnection>,
    opts: &RaceOptions,
    id: Uuid,
    bar: &indicatif::ProgressBar,
    interrupt: &Interrupt,
) -> Vec<Tally> {
    let n = conns.len();
    let barrier = Arc::new(Barrier::new(n));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(n);
    for (i, mut conn) in conns.into_iter().enumerate() {
        let share = opts.attempts / n + usize::from(i < opts.attempts % n);
        let (barrier, stop, bar) = (barrier.clone(), stop.clone(), bar.clone());
        let (naive, target) = (opts.naive, opts.target);
        let interrupt = interrupt.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            barrier.wait().await;
            for _ in 0..share {
                if stop.load(Ordering::Relaxed) || interrupt.is_set() {
                    break;
                }
                match attempt(&mut conn, naive, target, id).await {
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
        }));
    }
    let mut tallies = Vec::with_capacity(n);
    for t in tasks {
        tallies.push(t.await.unwrap_or_else(|e| Tally {
            error: Some(anyhow::anyhow!("a race connection task failed: {e}")),
            ..Tally::default()
        }));
    }
    tallies
}

async fn attempt(
    conn: &mut PgConnection,
    naive: bool,
    target: RaceTarget,
    id: Uuid,
) -> Result<Attempt> {
    match (naive, target) {
        (false, RaceTarget::Rpc) => {
            let allowed: bool = sqlx::query_scalar(CALL_FUNCTION)
                .bind(id)
                .fetch_one(conn)
                .await
                .context("calling public.increment_usage_if_allowed")?;
            Ok(if allowed {
                Attempt::Admitted(None)
            } else {
                Attempt::Refused
            })
        }
        (false, RaceTarget::Trigger) => {
            match sqlx::query_as::<_, ClipRef>(INSERT_CLIP)
                .bind(id)
                .fetch_one(conn)
                .await
            {
                Ok(clip) => Ok(Attempt::Admitted(Some(clip))),
                Err(e) if sqlstate(&e).as_deref() == Some("23514") => Ok(Attempt::Refused),
                Err(e) => Err(explain_clip_insert_failure(e)),
            }
        }
        (true, RaceTarget::Rpc) => naive_usage_attempt(conn, id).await,
        (true, RaceTarget::Trigger) => naive_clip_attempt(conn, id).await,
    }
}

fn explain_clip_insert_failure(e: sqlx::Error) -> anyhow::Error {
    match sqlstate(&e).as_deref() {
        Some("23502") | Some("23503") | Some("23505") | Some("22P02") => {
            exit::precondition(format!(
                "the race inserts `INSERT INTO public.clips (user_id) VALUES (...)` and that \
                 failed ({}): give clips' other required columns defaults, or race --target rpc",
                e.as_database_error().map(|d| d.message()).unwrap_or("")
            ))
        }
        _ => anyhow::Error::new(e).context("inserting a clip"),
    }
}

async fn naive_read_usage(conn: &mut PgConnection, id: Uuid) -> Result<Option<(i32, Option<i32>)>> {
    Ok(sqlx::query_as(NAIVE_READ_USAGE)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

async fn naive_read_clips(conn: &mut PgConnection, id: Uuid) -> Result<Option<(i32, String)>> {
    Ok(sqlx::query_as(NAIVE_READ_CLIPS)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

fn guide_clip_limit(tier: &str) -> i32 {
    if tier == "pro" {
        GUIDE_PRO_CLIPS
    } else {
        GUIDE_FREE_CLIPS
    }
}

/// The guide's "Before" code: SELECT the user, check in the client, do the
/// work, UPDATE usage to what was read plus one.
async fn naive_usage_attempt(conn: &mut PgConnection, id: Uuid) -> Result<Attempt> {
    let (usage, limit) = naive_read_usage(conn, id)
        .await?
        .ok_or_else(|| exit::precondition(format!("no user with id {id}")))?;
    match limit {
        Some(limit) if usage < limit => {}
        _ => return Ok(Attempt::Refused),
    }
    tokio::time::sleep(NAIVE_WORK).await;
    sqlx::query(NAIVE_WRITE_USAGE)
        .bind(id)
        .bind(usage + 1)
        .execute(conn)
        .await?;
    Ok(Attempt::Admitted(None))
}

/// The guide's application pre-check for clips (hard-coded 50/1000), then
/// the increment it needed, as read-then-write on `user_usage`.
async fn naive_clip_attempt(conn: &mut PgConnection, id: Uuid) -> Result<Attempt> {
    let (clips, tier) = naive_read_clips(conn, id)
        .await?
        .ok_or_else(|| exit::precondition(format!("no user with id {id}")))?;
    if clips >= guide_clip_limit(&tier) {
        return Ok(Attempt::Refused);
    }
    tokio::time::sleep(NAIVE_WORK).await;
    sqlx::query(NAIVE_WRITE_CLIPS)
        .bind(id)
        .bind(clips + 1)
        .execute(conn)
        .await?;
    Ok(Attempt::Admitted(None))
}

/// Deletes the scratch user, or deletes the real user's race clips and
/// restores their rows. Uses a fresh connection if the control connection
/// broke during the race.
async fn undo(
    target: &db::Target,
    control: &mut PgConnection,
    subject: &Subject,
    clips: &[ClipRef],
) -> Result<()> {
    if undo_on(control, subject, clips).await.is_ok() {
        return Ok(());
    }
    let mut fresh = target.connect().await?;
    undo_on(&mut fresh, subject, clips).await.with_context(|| match subject {
        Subject::Scratch(id) => format!(
            "could not remove scratch user {id}; delete it with: DELETE FROM public.users WHERE id = '{id}'"
        ),
        Subject::Real(s) => format!(
            "could not restore user {}; its rows before the race were users={} user_usage={}",
            s.id,
            s.user,
            s.usage.as_ref().map(|u| u.to_string()).unwrap_or_else(|| "none".into())
        ),
    })
}

async fn undo_on(conn: &mut PgConnection, subject: &Subject, clips: &[ClipRef]) -> Result<()> {
    match subject {
        Subject::Scratch(id) => scratch::delete_users(conn, &[*id]).await,
        Subject::Real(snapshot) => {
            if !clips.is_empty() {
                let (tids, xids): (Vec<String>, Vec<String>) = clips.iter().cloned().unzip();
                sqlx::query(DELETE_CLIPS)
                    .bind(snapshot.id)
                    .bind(tids)
                    .bind(xids)
                    .execute(&mut *conn)
                    .await
                    .context("could not delete the clips the race inserted")?;
            }
            scratch::restore(conn, snapshot).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(admitted: u64, expected: u64, before: i64, after: i64) -> RaceReport {
        RaceReport {
            target: RaceTarget::Rpc,
            naive: false,
            concurrency: 4,
            attempts: 8,
            admitted,
            refused: 8 - admitted,
            expected,
            over_admitted: admitted.saturating_sub(expected),
            counter_before: before,
            counter_after: after,
            limit: Some(10),
            user: "scratch".into(),
            elapsed_ms: 1,
        }
    }

    #[test]
    fn exact_admission_is_no_violation() {
        assert_eq!(report(4, 4, 6, 10).violation(), None);
    }

    #[test]
    fn over_under_and_lost_updates_are_violations() {
        assert!(report(5, 4, 6, 11)
            .violation()
            .unwrap()
            .contains("over-admitted 1"));
        assert!(report(3, 4, 6, 9)
            .violation()
            .unwrap()
            .contains("room for 4"));
        assert!(report(4, 4, 6, 8)
            .violation()
            .unwrap()
            .contains("moved by 2"));
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
