//! `quota sandbox [--keep]`.

use anyhow::Result;
use comfy_table::Cell;

use super::Context;
use crate::cli::SandboxArgs;
use crate::error;
use crate::interrupt::Interrupt;
use crate::output::{self, status_text_cell, Report};
use crate::sandbox::{self, SandboxReport};

pub async fn run(ctx: &Context, args: SandboxArgs) -> Result<()> {
    let interrupt = Interrupt::install()?;
    let report = sandbox::run(args.keep, &ctx.ui, &interrupt).await?;
    output::print(&report, ctx.format)?;
    if !report.passed {
        return Err(error::failed(
            "the sandbox found a problem: see the failed rows above",
        ));
    }
    Ok(())
}

impl Report for SandboxReport {
    fn to_table(&self) -> String {
        let mut t = output::table(&["step", "status", "detail"]);
        let server = self.postgres.split(" on ").next().unwrap_or(&self.postgres);
        t.add_row(vec![
            Cell::new("postgres"),
            status_text_cell("ok"),
            Cell::new(format!("{server}, throwaway")),
        ]);
        t.add_row(vec![
            Cell::new("migrate apply"),
            status_text_cell("ok"),
            Cell::new(format!(
                "{} -> database at V{}",
                if self.migrations_applied.is_empty() {
                    "nothing to apply".to_string()
                } else {
                    self.migrations_applied.join(", ")
                },
                self.database_version
            )),
        ]);
        for c in &self.verify.checks {
            t.add_row(vec![
                Cell::new(format!("verify {}", c.name)),
                status_text_cell(c.status.as_str()),
                Cell::new(&c.detail),
            ]);
        }
        for r in &self.races {
            let verdict = if r.violation().is_some() {
                "fail"
            } else {
                "pass"
            };
            t.add_row(vec![
                Cell::new(format!("race {}", r.target.as_str())),
                status_text_cell(verdict),
                Cell::new(format!(
                    "{} of {} admitted ({} expected), {} over-admitted; {} connections",
                    r.admitted, r.attempts, r.expected, r.over_admitted, r.concurrency
                )),
            ]);
        }
        for r in &self.naive_races {
            t.add_row(vec![
                Cell::new(format!("race {} --naive", r.target.as_str())),
                status_text_cell(if r.over_admitted > 0 {
                    "over-admitted"
                } else {
                    "ok"
                }),
                Cell::new(format!(
                    "{} of {} admitted ({} expected), {} over-admitted: what the migrations prevent",
                    r.admitted, r.attempts, r.expected, r.over_admitted
                )),
            ]);
        }
        let tail = match &self.kept {
            Some(k) => format!(
                "sandbox kept running:\n  DATABASE_URL={}\n  stop it with: {}",
                k.url, k.stop
            ),
            None => "sandbox torn down".to_string(),
        };
        format!("{t}\n{tail}")
    }
}
