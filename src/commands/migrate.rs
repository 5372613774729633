//! `quota migrate apply | status | rollback`.

use std::time::Duration;

use anyhow::Result;

use super::Context;
use crate::cli::{LockArgs, MigrateCommand};
use crate::migrate::repair::{self, RepairOptions};
use crate::migrate::rollback::{self, RollbackPlan};
use crate::migrate::{self, ApplyOptions, LockPolicy, RollbackOptions};
use crate::migrate::{export, limits};
use crate::output::{self, migrate::OutcomeView};

pub async fn run(ctx: &Context, cmd: MigrateCommand) -> Result<()> {
    match cmd {
        MigrateCommand::Apply {
            dry_run,
            repair: true,
            lock,
            ..
        } => repair(ctx, dry_run, policy(lock)).await,
        MigrateCommand::Apply {
            dry_run,
            target,
            lock,
            ..
        } => apply(ctx, dry_run, target, policy(lock)).await,
        MigrateCommand::Status => status(ctx).await,
        MigrateCommand::Export { supabase, after } => {
            let opts = export::ExportOptions {
                dir: supabase,
                after,
            };
            output::print(&export::export(&opts)?, ctx.format)
        }
        MigrateCommand::Rollback {
            target,
            dry_run,
            yes,
            lock,
        } => {
            let opts = RollbackOptions {
                target,
                dry_run,
                policy: policy(lock),
            };
            rollback(ctx, opts, yes).await
        }
    }
}

fn policy(args: LockArgs) -> LockPolicy {
    LockPolicy {
        lock_timeout: Duration::from_millis(args.lock_timeout),
        retries: args.retries,
        lock_wait: Duration::from_secs(args.lock_wait),
    }
}

async fn apply(
    ctx: &Context,
    dry_run: bool,
    target: Option<u32>,
    policy: LockPolicy,
) -> Result<()> {
    let mut db = ctx.database.connect().await?;
    let spinner = ctx.ui.spinner("applying migrations");
    let outcome = migrate::apply(
        &mut db,
        ApplyOptions {
            dry_run,
            target,
            policy,
        },
        &ctx.ui,
    )
    .await;
    spinner.finish_and_clear();
    let outcome = outcome?;
    warn_past_target(ctx, "apply", outcome.database_version, target);
    output::print(&OutcomeView::new("apply", outcome), ctx.format)
}

/// The database is already past `--target` in this command's direction.
fn warn_past_target(ctx: &Context, command: &str, database_version: u32, target: Option<u32>) {
    if let Some(note) = migrate::advice::past_target(command, database_version, target) {
        ctx.ui.warn(&note);
    }
}

/// `apply --repair`: re-runs the applied versions to undo hand edits.
async fn repair(ctx: &Context, dry_run: bool, policy: LockPolicy) -> Result<()> {
    let mut db = ctx.database.connect().await?;
    let spinner = ctx.ui.spinner("repairing migrations");
    let outcome = repair::repair(&mut db, RepairOptions { dry_run, policy }, &ctx.ui).await;
    spinner.finish_and_clear();
    output::print(&OutcomeView::new("repair", outcome?), ctx.format)
}

async fn status(ctx: &Context) -> Result<()> {
    let mut db = ctx.database.connect().await?;
    let status = migrate::read_status(&mut db).await?;
    output::print(&status, ctx.format)
}

async fn rollback(ctx: &Context, opts: RollbackOptions, yes: bool) -> Result<()> {
    let mut db = ctx.database.connect().await?;
    let plan = rollback::plan(&mut db, opts, &ctx.ui).await?;
    warn_past_target(ctx, "rollback", plan.database_version, opts.target);
    if opts.dry_run || plan.steps.is_empty() {
        let view = OutcomeView::new("rollback", plan.unchanged(opts.dry_run));
        return output::print(&view.discarding(plan.discarded), ctx.format);
    }
    confirm(ctx, &plan, yes)?;
    let outcome = migrate::rollback(&mut db, &plan.steps, opts.policy, &ctx.ui).await?;
    let view = OutcomeView::new("rollback", outcome).discarding(plan.discarded);
    output::print(&view, ctx.format)
}

/// Asks before reverting (or takes `--yes`), naming the versions, the
/// database and the edited limits the reverts drop.
fn confirm(ctx: &Context, plan: &RollbackPlan, yes: bool) -> Result<()> {
    let names: Vec<String> = plan
        .steps
        .iter()
        .map(|s| format!("V{}__{}", s.version, s.name))
        .collect();
    let question = format!(
        "Revert {} on {}{}?",
        names.join(", "),
        ctx.database.describe(),
        limits::warning(&plan.discarded)
    );
    if !ctx.ui.confirm(&question, yes)? {
        return Err(crate::error::usage(
            "rollback cancelled; nothing was changed",
        ));
    }
    Ok(())
}
