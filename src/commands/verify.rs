//! `quota verify` and `quota check <name>`.

use std::io::IsTerminal;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::checks::{self, Check, CheckResult};
use crate::exit;
use crate::render::{self, status_cell, Report};

/// What `verify` and `check` print: `{"passed": bool, "checks": [...]}`.
#[derive(Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub checks: Vec<CheckResult>,
}

impl Report for Verdict {
    fn to_table(&self) -> String {
        let mut t = render::table(&["check", "status", "detail", "hint"]);
        // Details are long: wrap them on a pipe too, where the width is unknown.
        if !std::io::stdout().is_terminal() {
            t.set_width(140);
        }
        for c in &self.checks {
            t.add_row(vec![
                comfy_table::Cell::new(c.name),
                status_cell(c.status.as_str()),
                comfy_table::Cell::new(&c.detail),
                comfy_table::Cell::new(&c.hint),
            ]);
        }
        let failed = self.checks.iter().filter(|c| c.failed()).count();
        let verdict = if failed == 0 {
            "all checks passed".to_string()
        } else {
            format!("{failed} of {} checks failed", self.checks.len())
        };
        format!("{t}\n{verdict}")
    }
}

pub async fn verify(ctx: &Context) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    // One transaction for all checks, rolled back: the security check calls
    // the function as hostile callers would, and nothing of that may stay.
    let mut tx = db.begin().await?;
    let results = checks::run_all(&mut tx).await?;
    tx.rollback().await?;
    finish(ctx, results)
}

pub async fn check(ctx: &Context, check: Check) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let mut tx = db.begin().await?;
    let result = checks::run_one(&mut tx, check).await?;
    tx.rollback().await?;
    finish(ctx, vec![result])
}

/// Prints the verdict, then fails (exit 1) when any check failed.
fn finish(ctx: &Context, checks: Vec<CheckResult>) -> Result<()> {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name)
        .collect();
    let verdict = Verdict {
        passed: failed.is_empty(),
        checks,
    };
    render::print(&verdict, ctx.format)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(exit::failed(format!("check failed: {}", failed.join(", "))))
    }
}
