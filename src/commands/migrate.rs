//! `quota migrate apply | status | rollback`.

use anyhow::Result;

use super::Context;
use crate::cli::MigrateCommand;
use crate::db::Database;
use crate::fleet;
use crate::migrate::repair::{self, RepairOptions};
use crate::migrate::rollback::{self, RollbackPlan};
use crate::migrate::{self, ApplyOptions, LockPolicy, RollbackOptions};
use crate::migrate::{export, limits};
use crate::output::{self, migrate::OutcomeView};

pub async fn run(ctx: &Context, cmd: MigrateCommand) -> Result<()> {
    match cmd {
        MigrateCommand::Apply { repair: true, .. } if !ctx.databases.is_empty() => Err(
            crate::error::usage("--repair runs on one database at a time; give one --database-url"),
        ),
        MigrateCommand::Apply { all: false, .. } if !ctx.databases.is_empty() => {
            Err(crate::error::usage(format!(
                "migrate apply was given {} databases; add --all to apply to each in turn \
                 (it stops at the first failure)",
                ctx.databases.len()
            )))
        }
        MigrateCommand::Apply {
            dry_run,
            repair: true,
            lock,
            ..
        } => repair(ctx, dry_run, LockPolicy::from(lock)).await,
        MigrateCommand::Apply {
            dry_run,
            target,
            lock,
            ..
        } if !ctx.databases.is_empty() => {
            apply_all(ctx, dry_run, target, LockPolicy::from(lock)).await
        }
        MigrateCommand::Apply {
            dry_run,
            target,
            lock,
            ..
        } => apply(ctx, dry_run, target, LockPolicy::from(lock)).await,
        MigrateCommand::Status { many } if !ctx.databases.is_empty() => {
            let work =
                |d: Database| async move { migrate::read_status(&mut d.connect().await?).await };
            let report =
                fleet::concurrently(&ctx.databases, many.jobs as usize, work, |_| false).await;
            output::print(&report, ctx.format)?;
            report.verdict("migrate status")
        }
        MigrateCommand::Status { .. } => status(ctx).await,
        MigrateCommand::Export { supabase, after } => {
            let opts = export::ExportOptions {
                dir: supabase,
                after,
            };
            output::print(&export::export(&opts)?, ctx.format)
        }
        MigrateCommand::Rollback { ref meter, .. } if !meter.is_empty() => {
            Err(crate::error::usage(
                "--meter names a meter of quota.toml, and there is none (give --config PATH); \
             the default mapping rolls back by version (--target V)",
            ))
        }
        MigrateCommand::Rollback {
            target,
            dry_run,
            yes,
            lock,
            ..
        } => {
            let opts = RollbackOptions {
                target,
                dry_run,
                policy: LockPolicy::from(lock),
            };
            rollback(ctx, opts, yes).await
        }
    }
}

async fn apply(
    ctx: &Context,
    dry_run: bool,
    target: Option<u32>,
    policy: LockPolicy,
) -> Result<()> {
    let outcome = apply_to(ctx, &ctx.database, dry_run, target, policy).await?;
    output::print(&OutcomeView::new("apply", outcome), ctx.format)
}

/// `apply --all`: each database in turn, stopping at the first failure.
async fn apply_all(
    ctx: &Context,
    dry_run: bool,
    target: Option<u32>,
    policy: LockPolicy,
) -> Result<()> {
    let work = async |d: &Database| {
        ctx.ui.info(&format!("applying to {}", d.label()));
        let outcome = apply_to(ctx, d, dry_run, target, policy).await?;
        Ok(OutcomeView::new("apply", outcome))
    };
    let report = fleet::one_by_one(&ctx.databases, work, |_| false).await;
    output::print(&report, ctx.format)?;
    report.verdict("migrate apply")
}

async fn apply_to(
    ctx: &Context,
    database: &Database,
    dry_run: bool,
    target: Option<u32>,
    policy: LockPolicy,
) -> Result<migrate::Outcome> {
    let mut db = database.connect().await?;
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
    Ok(outcome)
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
    let action = format!(
        "revert {} on {}{}",
        names.join(", "),
        ctx.database.describe(),
        limits::warning(&plan.discarded)
    );
    if !ctx.ui.confirm(&action, yes)? {
        return Err(crate::error::usage(
            "rollback cancelled; nothing was changed",
        ));
    }
    Ok(())
}
