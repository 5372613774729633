//! `quota verify` and `quota check <name>`.

use anyhow::Result;

use super::Context;
use crate::checks::{verdict, Check};
use crate::error;
use crate::output;

pub async fn verify(ctx: &Context) -> Result<()> {
    finish(ctx, verdict::verify(&ctx.database).await?)
}

pub async fn check(ctx: &Context, check: Check) -> Result<()> {
    finish(ctx, verdict::check(&ctx.database, check).await?)
}

/// Prints the verdict (and, inside GitHub Actions, an annotation per failed
/// or warning check on stderr), then fails: exit 4 when nothing of quota is
/// installed, exit 1 when any check failed.
fn finish(ctx: &Context, verdict: verdict::Verdict) -> Result<()> {
    output::verify::annotate(&verdict);
    output::print(&verdict, ctx.format)?;
    if verdict.nothing_installed {
        return Err(error::checks::not_installed());
    }
    let failed = verdict.failed();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(error::failed(format!(
            "check failed: {}",
            failed.join(", ")
        )))
    }
}
