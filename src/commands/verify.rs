//! `quota verify` and `quota check <name>`, on one database or many.

use anyhow::Result;

use super::Context;
use crate::checks::{verdict, Check};
use crate::cli::ManyArgs;
use crate::error;
use crate::fleet;
use crate::output;

pub async fn verify(ctx: &Context, many: ManyArgs) -> Result<()> {
    if !ctx.databases.is_empty() {
        let work = |d: crate::db::Database| async move { verdict::verify(&d).await };
        return finish_many(ctx, "verify", many, work).await;
    }
    finish(ctx, verdict::verify(&ctx.database).await?)
}

pub async fn check(ctx: &Context, check: Check, many: ManyArgs) -> Result<()> {
    if !ctx.databases.is_empty() {
        let work = move |d: crate::db::Database| async move { verdict::check(&d, check).await };
        return finish_many(ctx, "check", many, work).await;
    }
    finish(ctx, verdict::check(&ctx.database, check).await?)
}

/// Many databases: each verdict (annotated in GitHub Actions with its
/// database), the report of all, then the worst exit code.
async fn finish_many<F, Fut>(ctx: &Context, what: &str, many: ManyArgs, work: F) -> Result<()>
where
    F: Fn(crate::db::Database) -> Fut,
    Fut: std::future::Future<Output = Result<verdict::Verdict>> + Send + 'static,
{
    let spinner = ctx
        .ui
        .spinner(&format!("checking {} databases", ctx.databases.len()));
    let report = fleet::concurrently(&ctx.databases, many.jobs as usize, work, |v| {
        !v.failed().is_empty()
    })
    .await;
    spinner.finish_and_clear();
    for entry in &report.databases {
        if let Some(v) = &entry.report {
            output::verify::annotate_as(v, &entry.url);
        }
    }
    output::print(&report, ctx.format)?;
    report.verdict(what)
}

/// Prints the verdict (and, inside GitHub Actions, an annotation per failed
/// or warning check on stderr), then fails: exit 4 when nothing of quota is
/// installed, exit 1 when any check failed.
pub(super) fn finish(ctx: &Context, verdict: verdict::Verdict) -> Result<()> {
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
