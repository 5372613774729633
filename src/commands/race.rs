//! `quota race`.

use anyhow::Result;

use super::Context;
use crate::cli::RaceArgs;
use crate::error;
use crate::interrupt::Interrupt;
use crate::output::{self, status_text_cell, Report};
use crate::race::{self, RaceOptions, RaceReport};

pub async fn run(ctx: &Context, args: RaceArgs) -> Result<()> {
    let interrupt = Interrupt::install()?;
    if args.concurrency > args.attempts {
        ctx.ui.info(&format!(
            "--concurrency {} capped to {}: one connection per attempt (raise --attempts for more)",
            args.concurrency, args.attempts
        ));
    }
    let opts = RaceOptions {
        target: args.target,
        concurrency: args.concurrency as usize,
        attempts: args.attempts as usize,
        user: args.user,
        naive: args.naive,
        headroom: args.headroom,
    };
    let report = race::run(&ctx.target, &opts, &ctx.ui, &interrupt).await?;
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

impl Report for RaceReport {
    fn to_table(&self) -> String {
        let mut t = output::table(&["race", "value"]);
        let through = match (self.naive, self.target.as_str()) {
            (false, "rpc") => "rpc: public.increment_usage_if_allowed",
            (false, _) => "trigger: INSERT INTO public.clips",
            (true, "rpc") => "rpc, naive: SELECT, check, UPDATE usage = read + 1",
            (true, _) => "trigger, naive: SELECT clips, check, UPDATE clips = read + 1",
        };
        let limit = self.limit.map_or("none".to_string(), |l| l.to_string());
        let rows = [
            ("through", through.to_string()),
            ("user", self.user.clone()),
            ("concurrency", self.concurrency.to_string()),
            ("attempts", self.attempts.to_string()),
            ("admitted", self.admitted.to_string()),
            ("refused", self.refused.to_string()),
            ("expected", self.expected.to_string()),
            (
                "counter",
                format!(
                    "{} -> {} (limit {limit})",
                    self.counter_before, self.counter_after
                ),
            ),
            ("elapsed", format!("{} ms", self.elapsed_ms)),
        ];
        for (k, v) in rows {
            t.add_row(vec![comfy_table::Cell::new(k), comfy_table::Cell::new(v)]);
        }
        let verdict = if self.over_admitted > 0 {
            "over-admitted"
        } else {
            "ok"
        };
        t.add_row(vec![
            comfy_table::Cell::new("over-admitted"),
            comfy_table::Cell::new(self.over_admitted.to_string()),
        ]);
        t.add_row(vec![
            comfy_table::Cell::new("verdict"),
            status_text_cell(verdict),
        ]);
        t.to_string()
    }
}
