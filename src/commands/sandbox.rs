//! `quota sandbox [--keep]`.

use anyhow::Result;

use super::Context;
use crate::cli::SandboxArgs;
use crate::error;
use crate::interrupt::Interrupt;
use crate::output;
use crate::sandbox;

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
