//! `quota race`: fire concurrent admission attempts at one user over real
//! connections and count what got through.
//!
//! All connections are opened first and released together by a barrier, so
//! the attempts really contend for the user's row. The normal mode goes
//! through the installed enforcement (the RPC, or an INSERT into
//! `public.clips` that fires the trigger) and must admit exactly the
//! headroom the user had. `--naive` runs the guides' old read-then-write
//! code instead, to show the over-admission the migrations prevent.

use crate::sql;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::PgConnection;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::db::literal::{render, Lit};
use crate::db::{self, Session};
use crate::error::{self, sqlstate};
use crate::interrupt::{self, Interrupt};
use crate::scratch::{self, ScratchUser, Shape};
use crate::ui::Ui;

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
    /// A real user (what the race admitted is taken back afterwards)
    /// instead of a scratch user.
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
    /// For a real user: what was taken back afterwards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_back: Option<TakenBack>,
}

/// What a race on a real user took back: its own admissions, and nothing
/// the application admitted meanwhile.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TakenBack {
    /// Subtracted from the counter (the race's own admissions).
    pub admissions: u64,
    /// Clips the race inserted and deleted again.
    pub clips_deleted: u64,
    /// Other columns the application's own triggers changed during the
    /// take-back (e.g. `updated_at`); names only, never values.
    pub also_changed: Vec<String>,
}

impl RaceReport {
    /// Increments the counter lost to concurrent overwrites (naive mode).
    pub fn lost_updates(&self) -> i64 {
        self.admitted as i64 - (self.counter_after - self.counter_before)
    }

    /// Why a normal-mode race failed, if it did: more admissions than the
    /// headroom; on a scratch user (which nothing else touches) also fewer,
    /// or a counter that moved by something else. On a real user the
    /// application may admit meanwhile, so only an over-admission counts.
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
        if self.taken_back.is_some() || self.user != "scratch" {
            return None;
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
    Scratch(Uuid, Box<Shape>),
    /// A real user, and whether it had a `user_usage` row before the race.
    Real(Uuid, bool),
}

impl Subject {
    fn id(&self) -> Uuid {
        match self {
            Subject::Scratch(id, _) => *id,
            Subject::Real(id, _) => *id,
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
/// users are deleted; on a real user the race's own admissions and clips are
/// taken back, even on error or Ctrl-C (which ends with an "interrupted"
/// error once cleaned up).
pub async fn run(
    target: &db::Target,
    opts: &RaceOptions,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<RaceReport> {
    let mut control = target.connect().await?;
    let subject = prepare_subject(&mut control, opts, ui).await?;
    let outcome = race_subject(&mut control, target, opts, &subject, ui, interrupt).await;
    // Undo first, whatever happened; a failed undo is the error that matters most.
    let taken_back = undo(target, &mut control, opts, &subject, outcome.as_ref().ok()).await?;
    let mut outcome = outcome?;
    if let Some(e) = outcome.error {
        return Err(e);
    }
    if interrupt.is_set() {
        return Err(interrupt::interrupted(match subject {
            Subject::Scratch(..) => "the scratch user was removed",
            Subject::Real(..) => "what the race admitted was taken back",
        }));
    }
    outcome.report.taken_back = taken_back;
    Ok(outcome.report)
}

async fn require_installed(conn: &mut PgConnection, opts: &RaceOptions) -> Result<()> {
    if opts.naive {
        return Ok(());
    }
    let (function, trigger): (bool, bool) =
        db::query_as(sql::RACE_INSTALLED).fetch_one(conn).await?;
    let missing = match opts.target {
        RaceTarget::Rpc if !function => "public.increment_usage_if_allowed(uuid)",
        RaceTarget::Trigger if !trigger => "an enabled enforce_clip_limit_trigger on public.clips",
        _ => return Ok(()),
    };
    Err(error::precondition(format!(
        "{missing} is not installed: run `quota migrate apply` first (it checks the schema \
         contract first: `quota check schema`), or race the unsafe read-then-write path with --naive"
    )))
}

const SCRATCH_ADVICE: &str = "or race a real user instead with --user <uuid> (what the race \
                              admits is taken back afterwards)";

/// Checks what the race needs, then creates the scratch user with the
/// requested headroom, or checks that the real one exists.
async fn prepare_subject(db: &mut Session, opts: &RaceOptions, ui: &Ui) -> Result<Subject> {
    let mut tx = db.read_only().await?;
    require_installed(&mut tx, opts).await?;
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

/// The free tier's clip limit: from `public.clip_limits`, or the guide's
/// hard-coded 50 for the naive path (which predates that table).
async fn free_clip_limit(conn: &mut PgConnection, naive: bool) -> Result<i32> {
    if naive {
        return Ok(GUIDE_FREE_CLIPS);
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

async fn read_counter(conn: &mut PgConnection, opts: &RaceOptions, id: Uuid) -> Result<Counter> {
    let row: Option<(i64, Option<i64>)> = match (opts.naive, opts.target) {
        (false, RaceTarget::Rpc) => fetch_counter(conn, sql::RACE_COUNTER_FUNCTION, id).await?,
        (false, RaceTarget::Trigger) => fetch_counter(conn, sql::RACE_COUNTER_TRIGGER, id).await?,
        (true, RaceTarget::Rpc) => naive_read_usage(conn, id)
            .await?
            .map(|(u, l)| (u as i64, l.map(i64::from))),
        (true, RaceTarget::Trigger) => naive_read_clips(conn, id)
            .await?
            .map(|(c, tier)| (c as i64, Some(guide_clip_limit(&tier) as i64))),
    };
    let (value, limit) = row.ok_or_else(|| {
        error::precondition(format!(
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
    let row: Option<(i32, Option<i32>)> = db::query_as(sql).bind(id).fetch_optional(conn).await?;
    Ok(row.map(|(c, l)| (c as i64, l.map(i64::from))))
}

struct Outcome {
    report: RaceReport,
    /// Clips inserted, to delete afterwards on a real user.
    clips: Vec<ClipRef>,
    /// An attempt's error, returned after the undo.
    error: Option<anyhow::Error>,
}

async fn race_subject(
    control: &mut Session,
    target: &db::Target,
    opts: &RaceOptions,
    subject: &Subject,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<Outcome> {
    let id = subject.id();
    let (before, insert_clip) = {
        let mut tx = control.read_only().await?;
        let before = read_counter(&mut tx, opts, id).await?;
        // Only the trigger race inserts clips, and needs their placeholders.
        let clips = match subject {
            Subject::Scratch(_, shape) => shape.clips.clone(),
            Subject::Real(..) if opts.target == RaceTarget::Trigger && !opts.naive => {
                Shape::discover(&mut tx, "or race --target rpc")
                    .await?
                    .clips
            }
            Subject::Real(..) => Default::default(),
        };
        (before, clips.fill(sql::RACE_INSERT_CLIP))
    };
    let concurrency = opts.concurrency.clamp(1, opts.attempts.max(1));
    let conns = open_connections(target, concurrency, interrupt).await?;
    let bar = ui.bar(
        opts.attempts as u64,
        &format!("racing {}", opts.target.as_str()),
    );
    let started = Instant::now();
    let statements = Statements::new(opts, id, &insert_clip);
    let tallies = fire(conns, opts, statements, &bar, interrupt).await;
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    let after = {
        let mut tx = control.read_only().await?;
        read_counter(&mut tx, opts, id).await?
    };

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
            Subject::Scratch(..) => "scratch".into(),
            Subject::Real(id, _) => id.to_string(),
        },
        elapsed_ms: elapsed.as_millis() as u64,
        taken_back: None,
    };
    Ok(Outcome {
        report,
        clips: total.clips,
        error,
    })
}

/// Opens every connection before the race, so the first attempt is no
/// slower than the last.
async fn open_connections(
    target: &db::Target,
    n: usize,
    interrupt: &Interrupt,
) -> Result<Vec<Session>> {
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..n {
        let target = target.clone();
        opening.spawn(async move { target.connect().await });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(joined) = opening.join_next().await {
        conns.push(joined.context("a connection task failed")??);
        interrupt.check("nothing was raced")?;
    }
    Ok(conns)
}

/// The race's statements with the user's id rendered in: each attempt is
/// one simple-protocol message (one round trip, safe through a transaction
/// pooler, like the application's own autocommit calls).
struct Statements {
    naive: bool,
    target: RaceTarget,
    id: Uuid,
    call: String,
    insert_clip: String,
    read_usage: String,
    read_clips: String,
}

impl Statements {
    fn new(opts: &RaceOptions, id: Uuid, insert_clip: &str) -> Arc<Self> {
        let with_id = |sql: &str| render(sql, &[Lit::Uuid(id)]);
        Arc::new(Statements {
            naive: opts.naive,
            target: opts.target,
            id,
            call: with_id(sql::RACE_CALL_FUNCTION),
            insert_clip: with_id(insert_clip),
            read_usage: with_id(sql::NAIVE_READ_USAGE),
            read_clips: with_id(sql::NAIVE_READ_CLIPS),
        })
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
    conns: Vec<Session>,
    opts: &RaceOptions,
    statements: Arc<Statements>,
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
        let statements = statements.clone();
        let interrupt = interrupt.clone();
        tasks.push(tokio::spawn(async move {
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

async fn attempt(conn: &mut Session, st: &Statements) -> Result<Attempt> {
    use sqlx::Row;
    match (st.naive, st.target) {
        (false, RaceTarget::Rpc) => {
            let rows = conn
                .simple(&st.call)
                .await
                .context("calling public.increment_usage_if_allowed")?;
            let allowed: bool = match rows.first() {
                Some(row) => row.try_get(0)?,
                None => false,
            };
            Ok(if allowed {
                Attempt::Admitted(None)
            } else {
                Attempt::Refused
            })
        }
        (false, RaceTarget::Trigger) => match conn.simple(&st.insert_clip).await {
            Ok(rows) => {
                let row = rows.first().context("the clip insert returned no row")?;
                Ok(Attempt::Admitted(Some((row.try_get(0)?, row.try_get(1)?))))
            }
            Err(e) if sqlstate(&e).as_deref() == Some(error::sqlstate::CHECK_VIOLATION) => {
                Ok(Attempt::Refused)
            }
            Err(e) => Err(explain_clip_insert_failure(e)),
        },
        (true, RaceTarget::Rpc) => naive_usage_attempt(conn, st).await,
        (true, RaceTarget::Trigger) => naive_clip_attempt(conn, st).await,
    }
}

fn explain_clip_insert_failure(e: sqlx::Error) -> anyhow::Error {
    match sqlstate(&e).as_deref() {
        Some(error::sqlstate::NOT_NULL_VIOLATION)
        | Some(error::sqlstate::FOREIGN_KEY_VIOLATION)
        | Some(error::sqlstate::UNIQUE_VIOLATION)
        | Some(error::sqlstate::INVALID_TEXT_REPRESENTATION) => error::precondition(format!(
            "the race inserts a clip with placeholders for clips' required columns and that \
                 failed ({}): give those columns defaults, or race --target rpc",
            e.as_database_error().map(|d| d.message()).unwrap_or("")
        )),
        _ => anyhow::Error::new(e).context("inserting a clip"),
    }
}

async fn naive_read_usage(conn: &mut PgConnection, id: Uuid) -> Result<Option<(i32, Option<i32>)>> {
    Ok(db::query_as(sql::NAIVE_READ_USAGE)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

async fn naive_read_clips(conn: &mut PgConnection, id: Uuid) -> Result<Option<(i32, String)>> {
    Ok(db::query_as(sql::NAIVE_READ_CLIPS)
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// The first row of a simple-protocol read, if any.
async fn read_one<T>(
    conn: &mut Session,
    sql: &str,
    decode: impl Fn(&sqlx::postgres::PgRow) -> Result<T, sqlx::Error>,
) -> Result<Option<T>> {
    let rows = conn.simple(sql).await?;
    Ok(rows.first().map(decode).transpose()?)
}

fn guide_clip_limit(tier: &str) -> i32 {
    if tier == "pro" {
        GUIDE_PRO_CLIPS
    } else {
        GUIDE_FREE_CLIPS
    }
}

/// The guide's "Before" code: SELECT the user, check in the client, do the
/// work, UPDATE usage to what was read plus one (autocommit statements, as
/// the guide's application sends them).
async fn naive_usage_attempt(conn: &mut Session, st: &Statements) -> Result<Attempt> {
    use sqlx::Row;
    let read = read_one(conn, &st.read_usage, |r| {
        Ok((r.try_get::<i32, _>(0)?, r.try_get::<Option<i32>, _>(1)?))
    })
    .await?;
    let (usage, limit) =
        read.ok_or_else(|| error::precondition(format!("no user with id {}", st.id)))?;
    match limit {
        Some(limit) if usage < limit => {}
        _ => return Ok(Attempt::Refused),
    }
    tokio::time::sleep(NAIVE_WORK).await;
    let write = render(
        sql::NAIVE_WRITE_USAGE,
        &[Lit::Uuid(st.id), Lit::Int(i64::from(usage) + 1)],
    );
    conn.simple(&write).await?;
    Ok(Attempt::Admitted(None))
}

/// The guide's application pre-check for clips (hard-coded 50/1000), then
/// the increment it needed, as read-then-write on `user_usage`.
async fn naive_clip_attempt(conn: &mut Session, st: &Statements) -> Result<Attempt> {
    use sqlx::Row;
    let read = read_one(conn, &st.read_clips, |r| {
        Ok((r.try_get::<i32, _>(0)?, r.try_get::<String, _>(1)?))
    })
    .await?;
    let (clips, tier) =
        read.ok_or_else(|| error::precondition(format!("no user with id {}", st.id)))?;
    if clips >= guide_clip_limit(&tier) {
        return Ok(Attempt::Refused);
    }
    tokio::time::sleep(NAIVE_WORK).await;
    let write = render(
        sql::NAIVE_WRITE_CLIPS,
        &[Lit::Uuid(st.id), Lit::Int(i64::from(clips) + 1)],
    );
    conn.simple(&write).await?;
    Ok(Attempt::Admitted(None))
}

/// Deletes the scratch user, or takes back from the real user exactly what
/// the race admitted. Uses a fresh connection if the control connection
/// broke during the race. A real user's take-back that fails is its own
/// exit code ([`error::ExitKind::Restore`]): the message says what remains.
async fn undo(
    target: &db::Target,
    control: &mut Session,
    opts: &RaceOptions,
    subject: &Subject,
    outcome: Option<&Outcome>,
) -> Result<Option<TakenBack>> {
    let plan = TakeBack::plan(opts, outcome);
    let first = undo_on(control, subject, &plan).await;
    let second = match first {
        Ok(done) => return Ok(done),
        Err(_) => match target.connect().await {
            Ok(mut fresh) => undo_on(&mut fresh, subject, &plan).await,
            Err(e) => Err(e),
        },
    };
    second.map_err(|e| match subject {
        Subject::Scratch(id, _) => e.context(format!(
            "could not remove scratch user {id}; delete it with: DELETE FROM public.users WHERE id = '{id}'"
        )),
        Subject::Real(id, _) => error::new(
            error::ExitKind::Restore,
            format!(
                "could not take back what the race admitted for user {id} ({:#}): subtract {} \
                 from its {} counter{} yourself, or check with `quota user {id}`",
                e,
                plan.admissions,
                match opts.target {
                    RaceTarget::Rpc => "usage_this_month",
                    RaceTarget::Trigger => "clips_this_month",
                },
                if plan.clips.is_empty() {
                    String::new()
                } else {
                    format!(" and delete the {} clips it inserted", plan.clips.len())
                }
            ),
        ),
    })
}

/// What to take back from a real user.
struct TakeBack {
    /// Which counter the race moved: the clip counter for the trigger.
    clips_counter: bool,
    admissions: u64,
    clips: Vec<ClipRef>,
}

impl TakeBack {
    /// The race's own admissions. The naive path loses updates, so there it
    /// is what the counter actually moved by (never more than admitted).
    fn plan(opts: &RaceOptions, outcome: Option<&Outcome>) -> TakeBack {
        let clips_counter = opts.target == RaceTarget::Trigger;
        let Some(o) = outcome else {
            return TakeBack {
                clips_counter,
                admissions: 0,
                clips: Vec::new(),
            };
        };
        let r = &o.report;
        let admissions = if opts.naive {
            (r.counter_after - r.counter_before).clamp(0, r.admitted as i64) as u64
        } else {
            r.admitted
        };
        TakeBack {
            clips_counter,
            admissions,
            clips: o.clips.clone(),
        }
    }
}

async fn undo_on(
    db: &mut Session,
    subject: &Subject,
    plan: &TakeBack,
) -> Result<Option<TakenBack>> {
    match subject {
        Subject::Scratch(id, shape) => {
            scratch::delete_users(db, shape, &[*id]).await?;
            Ok(None)
        }
        Subject::Real(id, had_usage_row) => {
            take_back(db, *id, *had_usage_row, plan).await.map(Some)
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
    plan: &TakeBack,
) -> Result<TakenBack> {
    let mut tx = db.begin().await?;
    let clip_race = plan.clips_counter;
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
            let counter = if clip_race {
                "clips_this_month"
            } else {
                "usage_this_month"
            };
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
            taken_back: None,
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
