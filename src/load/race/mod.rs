//! `quota race`: fire concurrent admission attempts at one user over real
//! connections and count what got through.
//!
//! All connections are opened first and released together by a barrier, so
//! the attempts really contend for the user's row. The normal mode goes
//! through the installed enforcement (the RPC, or an INSERT into
//! `public.clips` that fires the trigger) and must admit exactly the
//! headroom the user had. `--naive` runs plain read-then-write application
//! code instead, to show the over-admission the migrations prevent.

mod fire;
mod subject;
mod take_back;

use anyhow::Result;
use serde::Serialize;
use uuid::Uuid;

use super::{run_then_clean_up, Enforcement, Loaded};
use crate::db;
use crate::interrupt::Interrupt;
use crate::ui::Ui;
use take_back::Left;

/// The path a race goes through: the function (`rpc`) or the trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum RacePath {
    /// `public.increment_usage_if_allowed(uuid)`
    Rpc,
    /// `INSERT INTO public.clips` through `enforce_clip_limit_trigger`
    Trigger,
}

impl RacePath {
    pub fn as_str(self) -> &'static str {
        match self {
            RacePath::Rpc => "rpc",
            RacePath::Trigger => "trigger",
        }
    }

    fn enforcement(self) -> Enforcement {
        match self {
            RacePath::Rpc => Enforcement::Function,
            RacePath::Trigger => Enforcement::Trigger,
        }
    }

    /// The counter the race moves.
    fn counter(self) -> &'static str {
        match self {
            RacePath::Rpc => "usage_this_month",
            RacePath::Trigger => "clips_this_month",
        }
    }
}

/// How a race runs. Its defaults are the one set `quota race` and `quota
/// sandbox` use (`cli.rs` takes them from here).
#[derive(Clone, Debug, PartialEq)]
pub struct RaceOptions {
    pub target: RacePath,
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

impl RaceOptions {
    pub const DEFAULT_TARGET: RacePath = RacePath::Rpc;
    pub const DEFAULT_CONCURRENCY: u32 = 16;
    pub const DEFAULT_ATTEMPTS: u32 = 64;
}

impl Default for RaceOptions {
    fn default() -> Self {
        RaceOptions {
            target: Self::DEFAULT_TARGET,
            concurrency: Self::DEFAULT_CONCURRENCY as usize,
            attempts: Self::DEFAULT_ATTEMPTS as usize,
            user: None,
            naive: false,
            headroom: None,
        }
    }
}

/// The outcome; its JSON is part of the documented output.
#[derive(Clone, Debug, Serialize)]
pub struct RaceReport {
    pub target: RacePath,
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
    /// Clips the race inserted (a trigger race's admissions).
    pub clips_inserted: u64,
    /// Clips the race inserted and deleted again, found by primary key:
    /// fewer than inserted means some were gone or changed beyond
    /// recognition (the verdict says so).
    pub clips_deleted: u64,
    /// Other columns the application's own triggers changed during the
    /// take-back (e.g. `updated_at`); names only, never values.
    pub also_changed: Vec<String>,
}

/// Whether a race admitted more than the user had room for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RaceVerdict {
    Ok,
    OverAdmitted,
    /// The take-back found fewer race clips than the race admitted.
    TakeBackMismatch,
}

impl std::fmt::Display for RaceVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RaceVerdict::Ok => "ok",
            RaceVerdict::OverAdmitted => "over-admitted",
            RaceVerdict::TakeBackMismatch => "take-back-mismatch",
        })
    }
}

impl RaceReport {
    /// Increments the counter lost to concurrent overwrites (naive mode).
    pub fn lost_updates(&self) -> i64 {
        self.admitted as i64 - (self.counter_after - self.counter_before)
    }

    pub(crate) fn verdict(&self) -> RaceVerdict {
        if self.over_admitted > 0 {
            RaceVerdict::OverAdmitted
        } else if self.take_back_mismatch().is_some() {
            RaceVerdict::TakeBackMismatch
        } else {
            RaceVerdict::Ok
        }
    }

    /// A trigger race on a real user inserts one clip per admission and
    /// deletes exactly those again: any difference between admissions,
    /// clips inserted and clips deleted is reported, never passed as ok.
    fn take_back_mismatch(&self) -> Option<String> {
        let tb = self.taken_back.as_ref()?;
        if self.naive || self.target != RacePath::Trigger {
            return None;
        }
        (tb.clips_inserted != self.admitted || tb.clips_deleted != tb.clips_inserted).then(|| {
            format!(
                "took back {} admissions but found {} of the {} clips the race inserted (the \
                 others were deleted or re-keyed meanwhile): check `quota user {}`",
                tb.admissions, tb.clips_deleted, tb.clips_inserted, self.user
            )
        })
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
        if let Some(why) = self.take_back_mismatch() {
            return Some(why);
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

/// Runs one race and always undoes what it did to the database: scratch
/// users are deleted; on a real user the race's own admissions and clips are
/// taken back, even on error or Ctrl-C (which ends with an "interrupted"
/// error once cleaned up).
pub async fn run(
    database: &db::Database,
    opts: &RaceOptions,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<RaceReport> {
    let mut control = database.connect().await?;
    let subject = subject::prepare(&mut control, opts, ui).await?;
    let mut left = Left::new(opts, subject);
    let (mut report, taken_back) = run_then_clean_up(
        database,
        &mut control,
        interrupt,
        &mut left,
        async |control, left: &mut Left| {
            let outcome = fire::race(control, database, opts, &left.subject, ui, interrupt).await?;
            left.record(opts, &outcome.report, outcome.clips);
            Ok(Loaded {
                value: outcome.report,
                stopped_by: outcome.error,
            })
        },
    )
    .await?;
    report.taken_back = taken_back;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(admitted: u64, expected: u64, before: i64, after: i64) -> RaceReport {
        RaceReport {
            target: RacePath::Rpc,
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
        assert_eq!(report(4, 4, 6, 10).verdict(), RaceVerdict::Ok);
    }

    #[test]
    fn over_under_and_lost_updates_are_violations() {
        assert!(report(5, 4, 6, 11)
            .violation()
            .unwrap()
            .contains("over-admitted 1"));
        assert_eq!(report(5, 4, 6, 11).verdict(), RaceVerdict::OverAdmitted);
        assert!(report(3, 4, 6, 9)
            .violation()
            .unwrap()
            .contains("room for 4"));
        assert!(report(4, 4, 6, 8)
            .violation()
            .unwrap()
            .contains("moved by 2"));
    }
}
