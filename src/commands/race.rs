//! `quota race`.

use anyhow::Result;

use super::Context;
use crate::cli::RaceArgs;
use crate::error;
use crate::interrupt::Interrupt;
use crate::load::race::{self, RaceOptions, RaceReport};
use crate::output;

pub async fn run(ctx: &Context, args: RaceArgs) -> Result<()> {
    let interrupt = Interrupt::install()?;
    if args.concurrency > args.attempts {
        ctx.ui.info(&format!(
            "--concurrency {} capped to {}: one connection per attempt (raise --attempts for more)",
            args.concurrency, args.attempts
        ));
    }
    let opts = RaceOptions::from(args);
    let report = race::run(&ctx.database, &opts, &ctx.ui, &interrupt).await?;
    output::print(&report, ctx.format)?;
    conclude(ctx, &report)
}

/// Normal mode: any violation exits 1. Naive mode: over-admission is the
/// point, so it is announced loudly and exits 0.
pub fn conclude(ctx: &Context, report: &RaceReport) -> Result<()> {
    if let Some(why) = report.violation() {
        return Err(error::failed(format!(
            "race on {} {why}",
            report.target.as_str()
        )));
    }
    if report.expected >= report.attempts as u64 {
        ctx.ui.warn(&format!(
            "the user had room for all {n} attempts, so none could be refused: this race cannot \
             show an over-admission; rerun with --attempts above the headroom (e.g. --attempts {})",
            cannot_refuse_suggestion(report),
            n = report.attempts,
        ));
    }
    if report.naive && report.over_admitted > 0 {
        ctx.ui.warn(&format!(
            "the naive read-then-write path OVER-ADMITTED {} ({} admitted, room for {}; {} \
             increments lost): this is the race the installed enforcement prevents",
            report.over_admitted,
            report.admitted,
            report.expected,
            report.lost_updates()
        ));
    }
    Ok(())
}

/// Attempts that leave some to be refused: twice the room the user had.
fn cannot_refuse_suggestion(report: &RaceReport) -> u64 {
    let room = report.limit.map_or(report.expected, |l| {
        (l - report.counter_before).max(0) as u64
    });
    room.max(report.expected).saturating_mul(2).max(2)
}
