//! `user`, `users`, `reset-user`, `report`, `limits` and `metrics` on a
//! mapping from quota.toml: the file resolved once per command, read-only
//! commands in one read-only transaction.

use anyhow::Result;
use uuid::Uuid;

use super::Context;
use crate::cli::{Command, LimitsCommand, MetricsArgs, ReportCommand};
use crate::error;
use crate::mapped::{monitor, subjects, State};
use crate::mapping::file::Config;
use crate::metrics::{serve, ScrapeOptions};
use crate::output::{self, Format};

/// Runs one of the commands above on `config`.
pub async fn run(ctx: &Context, config: &Config, command: Command) -> Result<()> {
    match command {
        Command::User { user, email } => {
            let Some(user) = user else {
                return Err(error::usage(format!(
                    "with quota.toml, --email cannot name a subject soundly: an e-mail belongs to an \
                     auth user, while a meter's subjects are rows of its own table (given {email:?}); give the \
                     subject's id, e.g. from `quota users --meter NAME`",
                    email = email.unwrap_or_default()
                )));
            };
            let mut db = ctx.database.connect().await?;
            let report = db
                .read(async |tx| {
                    let state = State::read(tx, config).await?;
                    subjects::view(tx, &state, user).await
                })
                .await?;
            output::print(&report, ctx.format)
        }
        Command::Users {
            under_limit,
            limit,
            meter,
        } => {
            let mut db = ctx.database.connect().await?;
            let report = db
                .read(async |tx| {
                    let state = State::read(tx, config).await?;
                    let names: Vec<String> = meter.into_iter().collect();
                    let chosen = subjects::chosen(&state, &names)?;
                    let Some(target) = chosen.first() else {
                        return Err(error::usage("quota.toml declares no meter"));
                    };
                    let Some(m) = target.meter else {
                        return Err(error::precondition(format!(
                            "meter {} is not installed; run `quota migrate apply`",
                            target.name
                        )));
                    };
                    subjects::list(tx, m, under_limit, limit).await
                })
                .await?;
            output::print(&report, ctx.format)
        }
        Command::ResetUser {
            user,
            scrapes,
            clips,
            to,
            yes,
            meter,
        } => {
            if scrapes || clips {
                return Err(error::usage(
                    "--scrapes and --clips are the default mapping's; with quota.toml give --meter NAME (repeatable)",
                ));
            }
            reset(ctx, config, user, &meter, to, yes).await
        }
        Command::Report { report, threshold } => {
            let threshold = threshold.unwrap_or(crate::meters::DEFAULT_NEAR_THRESHOLD);
            let mut db = ctx.database.connect().await?;
            match report.unwrap_or(ReportCommand::Summary { threshold }) {
                ReportCommand::AtLimit => {
                    let r = db.read(async |tx| {
                        let state = State::read(tx, config).await?;
                        monitor::subjects(tx, &state, None).await
                    });
                    output::print(&r.await?, ctx.format)
                }
                ReportCommand::NearLimit { threshold } => {
                    let r = db.read(async |tx| {
                        let state = State::read(tx, config).await?;
                        monitor::subjects(tx, &state, Some(threshold)).await
                    });
                    output::print(&r.await?, ctx.format)
                }
                ReportCommand::Summary { threshold } => {
                    let r = db.read(async |tx| {
                        let state = State::read(tx, config).await?;
                        monitor::summary(tx, &state, threshold).await
                    });
                    output::print(&r.await?, ctx.format)
                }
            }
        }
        Command::Limits(args) => {
            let mut db = ctx.database.connect().await?;
            match args.set {
                None => {
                    let only = args.meter.as_deref();
                    let r = db.read(async |tx| {
                        let state = State::read(tx, config).await?;
                        monitor::limits(tx, &state, only).await
                    });
                    output::print(&r.await?, ctx.format)
                }
                Some(LimitsCommand::Set {
                    tier, limit, meter, ..
                }) => {
                    let state = db.read(async |tx| State::read(tx, config).await).await?;
                    monitor::refuse_set(&state, meter.as_deref(), &tier, limit)
                }
            }
        }
        Command::Metrics(args) => metrics(ctx, config, args).await,
        _ => Err(error::usage("not a command on mapped meters")),
    }
}

/// `reset-user` on a mapping: the meters chosen and the subject checked
/// first (an unknown subject asks nothing and changes nothing), then the
/// confirmation, then one transaction.
async fn reset(
    ctx: &Context,
    config: &Config,
    user: Uuid,
    meters: &[String],
    to: i64,
    yes: bool,
) -> Result<()> {
    let mut db = ctx.database.connect().await?;
    let chosen = db
        .read(async |tx| {
            let state = State::read(tx, config).await?;
            subjects::reset_plan(tx, &state, user, meters).await
        })
        .await?;
    let names: Vec<String> = chosen
        .iter()
        .map(|m| {
            let c = &m.declared.counter;
            format!("{} ({}.{})", m.name(), c.table, c.column)
        })
        .collect();
    let action = format!(
        "set meter {} of subject {user} to {to} for this period on {}",
        names.join(", "),
        ctx.database.describe()
    );
    if !ctx.ui.confirm(&action, yes)? {
        return Err(error::usage("reset cancelled; nothing was changed"));
    }
    let report = subjects::reset(&mut db, &chosen, user, to).await?;
    output::print(&report, ctx.format)
}

async fn metrics(ctx: &Context, config: &Config, args: MetricsArgs) -> Result<()> {
    let opts = ScrapeOptions::from(&args);
    let Some(addr) = args.listen else {
        return output::print(
            &monitor::scrape(&ctx.database, config, opts).await?,
            ctx.format,
        );
    };
    if ctx.format != Format::Table {
        return Err(error::usage(
            "--listen serves OpenMetrics text; leave out --format",
        ));
    }
    let secrets = ctx.database.secrets();
    let scrape = async || match monitor::scrape(&ctx.database, config, opts).await {
        Ok(m) => Ok(output::metrics::render(&m)),
        Err(e) => Err(anyhow::anyhow!(error::line::shown(&e, &secrets))),
    };
    serve::serve(addr, &ctx.ui, scrape).await
}

/// `reset-user --meter scrapes|clips` without quota.toml: the flags they mean.
pub fn default_reset_meters(meters: &[String], scrapes: bool, clips: bool) -> Result<(bool, bool)> {
    let (mut s, mut c) = (scrapes, clips);
    for m in meters {
        match crate::meters::Meter::named(m)? {
            crate::meters::Meter::Scrapes => s = true,
            crate::meters::Meter::Clips => c = true,
        }
    }
    Ok((s, c))
}
