//! Commands on a mapping from quota.toml: each resolves the file against the
//! database once (`mapped::State::read`) and works on that value.

use anyhow::Result;

use super::Context;
use crate::checks::verdict::Verdict;
use crate::checks::Check;
use crate::cli::{Command, MigrateCommand};
use crate::error;
use crate::mapped::{self, State};
use crate::mapping::file::Config;
use crate::meters::Meter;
use crate::output;

/// Runs `command` on the mapping `config`.
pub async fn run(ctx: &Context, config: &Config, command: Command) -> Result<()> {
    if !ctx.databases.is_empty() {
        return many(ctx, config, command).await;
    }
    match command {
        Command::Migrate(MigrateCommand::Apply {
            dry_run,
            repair,
            target,
            all,
            lock,
        }) => {
            if target.is_some() || all {
                return Err(error::usage(
                    "with quota.toml, `migrate apply` installs the file's meters; --target and --all are for the default mapping",
                ));
            }
            let mut db = ctx.database.connect().await?;
            let state = read(&mut db, config).await?;
            let policy = crate::migrate::LockPolicy::from(lock);
            let report =
                mapped::install::apply(&mut db, &state, repair, dry_run, &policy, &ctx.ui).await?;
            output::print(&report, ctx.format)
        }
        Command::Migrate(MigrateCommand::Status { .. }) => {
            let mut db = ctx.database.connect().await?;
            let state = read(&mut db, config).await?;
            let report = mapped::StatusReport::new(&state)?;
            output::print(&report, ctx.format)
        }
        Command::Migrate(MigrateCommand::Rollback {
            meter,
            target,
            dry_run,
            yes,
            lock,
        }) => rollback(ctx, config, meter, target, dry_run, yes, lock).await,
        Command::Verify { .. } => verify(ctx, config, None).await,
        Command::Check { name, .. } => verify(ctx, config, Some(name)).await,
        Command::Call {
            user,
            commit,
            meter,
            amount,
        } => {
            let mut db = ctx.database.connect().await?;
            let state = read(&mut db, config).await?;
            let meter = state.pick(meter.as_deref(), |m| {
                m.declared.kind() == crate::mapping::Kind::Rpc
            })?;
            let report = mapped::call::call(&mut db, meter, user, amount, commit).await?;
            output::print(&report, ctx.format)
        }
        Command::Race(args) => race(ctx, config, args).await,
        Command::User { .. }
        | Command::Users { .. }
        | Command::ResetUser { .. }
        | Command::Report { .. }
        | Command::Limits(_)
        | Command::Metrics(_) => super::mapped_ops::run(ctx, config, command).await,
        Command::Bench(args) => bench(ctx, config, args).await,
        // `migrate export` writes the default mapping's versions; a
        // mapping's meters are rendered against a database's catalog.
        _ => Err(error::usage(format!(
            "migrate export --supabase writes the default mapping's versions and does not read \
             {} yet; install a mapping's meters with `quota migrate apply`",
            config.path.display()
        ))),
    }
}

/// The default mapping takes no --meter but scrapes, and one unit at a time.
pub fn default_meter_only(meter: Option<&str>, amount: i32) -> Result<()> {
    if meter.is_some_and(|m| m != "scrapes") {
        return Err(error::usage(
            "--meter names a rpc meter of quota.toml, and there is none (give --config PATH); \
             the default mapping's rpc meter is scrapes",
        ));
    }
    if amount != 1 {
        return Err(error::usage(
            "--amount needs a meter of quota.toml; the default mapping's function admits one unit per call",
        ));
    }
    Ok(())
}

/// The default mapping's meters by name: scrapes (the RPC), clips (the
/// trigger); one unit per attempt.
pub fn default_race_target(
    meter: Option<&str>,
    amount: i32,
    target: crate::load::race::RacePath,
) -> Result<crate::load::race::RacePath> {
    use crate::load::race::RacePath;
    if amount != 1 {
        return Err(error::usage(
            "--amount needs a meter of quota.toml; the default mapping charges one unit per attempt",
        ));
    }
    match meter.map(Meter::named).transpose()? {
        None => Ok(target),
        Some(Meter::Scrapes) => Ok(RacePath::Rpc),
        Some(Meter::Clips) => Ok(RacePath::Trigger),
    }
}

/// `bench --meter` without quota.toml: the default mapping's meters, each
/// against its floor (`--user` needs a meter of quota.toml).
pub fn default_bench_meter(meter: &str) -> Result<Vec<crate::load::bench::Scenario>> {
    use crate::load::bench::Scenario;
    Ok(match Meter::named(meter)? {
        Meter::Scrapes => vec![Scenario::UpdateFloor, Scenario::Function],
        Meter::Clips => vec![Scenario::InsertFloor, Scenario::Trigger],
    })
}

async fn bench(ctx: &Context, config: &Config, args: crate::cli::BenchArgs) -> Result<()> {
    if args.users.is_empty() {
        return Err(error::usage(
            "with quota.toml, give the subjects to bench on: --user UUID (repeatable, one client \
             each; their counters and limits are written back afterwards)",
        ));
    }
    let mut subjects = args.users.clone();
    let mut seen = std::collections::HashSet::new();
    subjects.retain(|s| seen.insert(*s));
    if subjects.len() > args.clients as usize {
        ctx.ui.warn(&format!(
            "benching on the first {} subjects given (--clients {}: one client each)",
            args.clients, args.clients
        ));
        subjects.truncate(args.clients as usize);
    }
    let mut db = ctx.database.connect().await?;
    let state = read(&mut db, config).await?;
    let meter = state.pick(args.meter.as_deref(), |_| true)?;
    let Some(installed) = state.installed(meter.name()) else {
        return Err(error::precondition(format!(
            "meter {} is not installed; run `quota migrate apply`",
            meter.name()
        )));
    };
    if let mapped::MeterState::Drifted(changes) = mapped::drift(installed, meter)? {
        return Err(error::precondition(format!(
            "meter {} is installed from another mapping ({}); run `quota migrate apply --repair` first",
            meter.name(),
            changes.join("; ")
        )));
    }
    drop(db);
    let interrupt = crate::interrupt::Interrupt::install()?;
    let opts = crate::load::bench::BenchOptions::from(args);
    let report =
        mapped::bench::bench(&ctx.database, meter, &subjects, &opts, &ctx.ui, &interrupt).await?;
    output::print(&report, ctx.format)
}

async fn read(db: &mut crate::db::Session, config: &Config) -> Result<State> {
    db.read(async |tx| State::read(tx, config).await).await
}

/// `verify`, `check` and `migrate status` on many databases, each with the
/// same mapping; the others take one database.
async fn many(ctx: &Context, config: &Config, command: Command) -> Result<()> {
    let (what, jobs, only) =
        match command {
            Command::Verify { many } => ("verify", many.jobs, None),
            Command::Check { name, many } => ("check", many.jobs, Some(name)),
            Command::Migrate(MigrateCommand::Status { many }) => {
                let work = |d: crate::db::Database| {
                    let config = config.clone();
                    async move {
                        let mut db = d.connect().await?;
                        let state = read(&mut db, &config).await?;
                        mapped::StatusReport::new(&state)
                    }
                };
                let report =
                    crate::fleet::concurrently(&ctx.databases, many.jobs as usize, work, |_| false)
                        .await;
                output::print(&report, ctx.format)?;
                return report.verdict("migrate status");
            }
            Command::Migrate(MigrateCommand::Apply {
                dry_run,
                repair: false,
                target: None,
                all: true,
                lock,
            }) => {
                let policy = crate::migrate::LockPolicy::from(lock);
                let work = async |d: &crate::db::Database| {
                    ctx.ui.info(&format!("applying to {}", d.label()));
                    let mut db = d.connect().await?;
                    let state = read(&mut db, config).await?;
                    mapped::install::apply(&mut db, &state, false, dry_run, &policy, &ctx.ui).await
                };
                let report = crate::fleet::one_by_one(&ctx.databases, work, |_| false).await;
                output::print(&report, ctx.format)?;
                return report.verdict("migrate apply");
            }
            _ => return Err(error::usage(
                "with quota.toml, only verify, check, migrate status and migrate apply --all take \
                 more than one --database-url (apply: without --repair or --target)",
            )),
        };
    let work = |d: crate::db::Database| {
        let config = config.clone();
        async move { verdict(&d, &config, only).await }
    };
    let report = crate::fleet::concurrently(&ctx.databases, jobs as usize, work, |v| {
        !v.failed().is_empty()
    })
    .await;
    for entry in &report.databases {
        if let Some(v) = &entry.report {
            output::verify::annotate_as(v, &entry.url);
        }
    }
    output::print(&report, ctx.format)?;
    report.verdict(what)
}

/// Every check (or one) of the mapping on one database, in one transaction
/// rolled back (the guard probe calls the functions).
async fn verdict(
    database: &crate::db::Database,
    config: &Config,
    only: Option<Check>,
) -> Result<Verdict> {
    let mut db = database.connect().await?;
    let started = std::time::Instant::now();
    let mut tx = db.begin().await?;
    let state = State::read(&mut tx, config).await?;
    let checks = match only {
        Some(check) => vec![mapped::checks::run(&mut tx, &state, check).await?],
        None => mapped::checks::run_all(&mut tx, &state).await?,
    };
    tx.rollback().await?;
    let suite = if only.is_some() {
        "quota check"
    } else {
        "quota verify"
    };
    let mut verdict = Verdict::new(suite, checks, started.elapsed());
    verdict.nothing_installed = state.installed.is_empty() && only != Some(Check::Schema);
    Ok(verdict)
}

async fn verify(ctx: &Context, config: &Config, only: Option<Check>) -> Result<()> {
    super::verify::finish(ctx, verdict(&ctx.database, config, only).await?)
}

async fn rollback(
    ctx: &Context,
    config: &Config,
    meters: Vec<String>,
    target: Option<u32>,
    dry_run: bool,
    yes: bool,
    lock: crate::cli::LockArgs,
) -> Result<()> {
    let everything = match (target, meters.is_empty()) {
        (Some(0), true) => true,
        (None, false) => false,
        _ => {
            return Err(error::usage(
                "with quota.toml, give --meter NAME (repeatable) or --target 0 (every meter)",
            ))
        }
    };
    let mut db = ctx.database.connect().await?;
    let installed = db.read(async |tx| mapped::history::read(tx).await).await?;
    let chosen: Vec<_> = if everything {
        installed
    } else {
        let mut chosen = Vec::new();
        for name in &meters {
            match installed.iter().find(|i| i.meter.name() == name) {
                Some(i) => chosen.push(i.clone()),
                None => {
                    return Err(error::usage(format!(
                        "meter {name} is not installed; `quota migrate status` lists the installed ones"
                    )))
                }
            }
        }
        chosen
    };
    let _ = config;
    if !dry_run && !chosen.is_empty() {
        let names: Vec<&str> = chosen.iter().map(|i| i.meter.name()).collect();
        let action = format!(
            "remove meter {} (function, trigger, period marker, limits) from {}",
            names.join(", "),
            ctx.database.describe()
        );
        if !ctx.ui.confirm(&action, yes)? {
            return Err(error::usage("rollback cancelled; nothing was changed"));
        }
    }
    let policy = crate::migrate::LockPolicy::from(lock);
    let report = mapped::install::rollback(&mut db, &chosen, dry_run, &policy, &ctx.ui).await?;
    output::print(&report, ctx.format)
}

async fn race(ctx: &Context, config: &Config, args: crate::cli::RaceArgs) -> Result<()> {
    if args.naive {
        return Err(error::usage("--naive is for the default mapping"));
    }
    let interrupt = crate::interrupt::Interrupt::install()?;
    let mut db = ctx.database.connect().await?;
    let state = read(&mut db, config).await?;
    let meter = state.pick(args.meter.as_deref(), |_| true)?;
    if let crate::mapping::Charge::Trigger {
        amount_column: None,
        ..
    } = meter.declared.charge
    {
        if args.amount != 1 {
            return Err(error::usage(format!(
                "meter {} charges 1 per row (no amount_column); --amount must be 1",
                meter.name()
            )));
        }
    }
    if state.installed(meter.name()).is_none() {
        return Err(error::precondition(format!(
            "meter {} is not installed; run `quota migrate apply`",
            meter.name()
        )));
    }
    let plan = mapped::race::RacePlan {
        subject: args.user,
        headroom: args.headroom.unwrap_or(args.attempts / 2),
        attempts: args.attempts,
        concurrency: args.concurrency,
        amount: args.amount,
    };
    let report = mapped::race::race(&ctx.database, meter, plan, &ctx.ui, &interrupt).await?;
    output::print(&report, ctx.format)?;
    if report.over_admitted > 0 {
        return Err(error::failed(format!(
            "over-admission: {} admitted, the headroom allowed {}",
            report.admitted, report.expected
        )));
    }
    if report.errors > 0 {
        return Err(error::precondition(format!(
            "{} of {} attempts failed with an error (see above)",
            report.errors, report.attempts
        )));
    }
    Ok(())
}
