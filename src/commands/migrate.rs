//! `quota migrate apply | status | rollback`.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::cli::{LockArgs, MigrateCommand};
use crate::migrate::limits::{self, EditedLimit};
use crate::migrate::{self, ApplyOptions, LockPolicy, Outcome, RollbackOptions, Status};
use crate::output::{self, status_text_cell, Report};

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
    let mut db = ctx.target.connect().await?;
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
    let mut db = ctx.target.connect().await?;
    let spinner = ctx.ui.spinner("repairing migrations");
    let opts = migrate::repair::RepairOptions { dry_run, policy };
    let outcome = migrate::repair::repair(&mut db, opts, &ctx.ui).await;
    spinner.finish_and_clear();
    output::print(&OutcomeView::new("repair", outcome?), ctx.format)
}

async fn status(ctx: &Context) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let mut tx = db.read_only().await?;
    let status = migrate::status(&mut tx).await?;
    tx.commit().await?;
    output::print(&status, ctx.format)
}

async fn rollback(ctx: &Context, opts: RollbackOptions, yes: bool) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    if !opts.dry_run {
        // The history moves to its own schema first (under the lock).
        migrate::history::prepare(&mut db, opts.policy, &ctx.ui).await?;
    }
    // The plan and the limits it drops are read under the migration lock,
    // so a concurrent rollback cannot change them half-way through.
    let mut tx = if opts.dry_run {
        db.read_only().await?
    } else {
        migrate::planning_transaction(&mut db, opts.policy, &ctx.ui).await?
    };
    let status = migrate::status(&mut tx).await?;
    let plan = migrate::rollback_plan(&status, opts.target)?;
    let discarded = limits::discarded_by(&mut tx, &plan).await?;
    tx.commit().await?;
    warn_past_target(ctx, "rollback", status.database_version, opts.target);
    if opts.dry_run || plan.is_empty() {
        let outcome = Outcome {
            dry_run: opts.dry_run,
            steps: plan,
            database_version: status.database_version,
            attempts: 0,
        };
        let view = OutcomeView::new("rollback", outcome).discarding(discarded);
        return output::print(&view, ctx.format);
    }
    let names: Vec<String> = plan
        .iter()
        .map(|s| format!("V{}__{}", s.version, s.name))
        .collect();
    let question = format!(
        "Revert {} on {}{}?",
        names.join(", "),
        ctx.target.describe(),
        limits::warning(&discarded)
    );
    if !ctx.ui.confirm(&question, yes)? {
        return Err(crate::error::usage(
            "rollback cancelled; nothing was changed",
        ));
    }
    // Each revert takes the migration lock and reverts the newest version
    // recorded then, so concurrent rollbacks never revert one twice.
    let outcome = migrate::rollback(&mut db, &plan, opts.policy, &ctx.ui).await?;
    let view = OutcomeView::new("rollback", outcome).discarding(discarded);
    output::print(&view, ctx.format)
}

impl Report for Status {
    fn to_table(&self) -> String {
        let mut t = output::table(&["version", "name", "state", "applied on"]);
        for m in &self.migrations {
            t.add_row(vec![
                comfy_table::Cell::new(format!("V{}", m.version)),
                comfy_table::Cell::new(&m.name),
                status_text_cell(m.state.as_str()),
                comfy_table::Cell::new(m.applied_on.as_deref().map_or("-".into(), to_seconds)),
            ]);
        }
        format!(
            "{t}\ndatabase at V{}, newest V{}",
            self.database_version, self.latest_version
        )
    }
}

/// `2026-11-22T05:49:29.446664741Z` → `2026-11-22 05:49:29Z`: people read
/// seconds; JSON keeps the full timestamp.
fn to_seconds(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(head) if rfc3339.ends_with('Z') => format!("{}Z", head.replace('T', " ")),
        _ => rfc3339.to_string(),
    }
}

/// An apply/rollback outcome with the command it came from.
#[derive(Serialize)]
struct OutcomeView {
    command: &'static str,
    #[serde(flatten)]
    outcome: Outcome,
    /// Rollback only: edited clip limits the reverts drop (would drop, in a
    /// dry run); `[]` when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    discarded_limits: Option<Vec<EditedLimit>>,
}

impl OutcomeView {
    fn new(command: &'static str, outcome: Outcome) -> Self {
        OutcomeView {
            command,
            outcome,
            discarded_limits: None,
        }
    }

    fn discarding(self, limits: Vec<EditedLimit>) -> Self {
        OutcomeView {
            discarded_limits: Some(limits),
            ..self
        }
    }

    /// One line naming the edited limits dropped, or nothing.
    fn limits_line(&self, verb: &str) -> String {
        match self.discarded_limits.as_deref() {
            Some(l) if !l.is_empty() => {
                let list: Vec<String> = l.iter().map(|e| e.to_string()).collect();
                format!(
                    "public.clip_limits {verb} with limits edited since install: {}",
                    list.join(", ")
                )
            }
            _ => String::new(),
        }
    }
}

impl Report for OutcomeView {
    fn to_table(&self) -> String {
        let o = &self.outcome;
        if o.dry_run {
            let warning = self.limits_line("would be dropped");
            let sql = dry_run_sql(self.command, o);
            if warning.is_empty() {
                return sql;
            }
            // A SQL comment, so the output stays runnable.
            return format!("-- WARNING: {warning}\n{sql}");
        }
        if o.steps.is_empty() {
            return format!(
                "nothing to {}: database at V{}",
                self.command, o.database_version
            );
        }
        let verb = match self.command {
            "apply" => "applied",
            "repair" => "re-applied",
            _ => "reverted",
        };
        let mut t = output::table(&["version", "name", "result"]);
        for s in &o.steps {
            t.add_row(vec![
                format!("V{}", s.version),
                s.name.clone(),
                verb.to_string(),
            ]);
        }
        let dropped = self.limits_line("was dropped");
        let dropped = if dropped.is_empty() {
            dropped
        } else {
            format!("\n{dropped}")
        };
        format!("{t}\ndatabase at V{}{dropped}", o.database_version)
    }
}

/// The SQL a dry run would execute, one transaction per version.
fn dry_run_sql(command: &str, o: &Outcome) -> String {
    if o.steps.is_empty() {
        return format!(
            "-- nothing to {command}: database at V{}",
            o.database_version
        );
    }
    let mut out = format!(
        "-- dry run: {command} from V{}; nothing was changed\n",
        o.database_version
    );
    for s in &o.steps {
        let action = match command {
            "apply" | "repair" => "migration",
            _ => "revert",
        };
        out.push_str(&format!(
            "\n-- {action} V{}__{}\nBEGIN;\n{}\nCOMMIT;\n",
            s.version,
            s.name,
            s.sql.as_deref().unwrap_or("").trim_end()
        ));
    }
    out
}
