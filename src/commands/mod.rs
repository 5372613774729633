//! One module per command: each passes the parsed arguments to the domain
//! module that does the work and hands the report to `output::print`.

mod bench;
mod init;
mod limits;
mod mapped;
mod mapped_ops;
mod metrics;
mod migrate;
mod options;
// checks and debugging
mod race;
mod report;
mod sandbox;
mod user;
mod verify;

use std::time::Duration;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command, MigrateCommand};
use crate::db;
use crate::output::Format;
use crate::ui::Ui;

/// What every command gets: where the database is, how to print, how to talk.
pub struct Context {
    pub database: db::Database,
    /// Every `--database-url` given, when more than one was (`verify`,
    /// `check`, `migrate status`, `migrate apply --all`); else empty.
    pub databases: Vec<db::Database>,
    pub format: Format,
    pub ui: Ui,
}

impl Context {
    pub fn from_cli(cli: &Cli) -> Self {
        let timeout = Duration::from_secs(cli.global.connect_timeout);
        let urls = &cli.global.database_url;
        Context {
            database: db::Database::new(urls.first().cloned(), timeout),
            databases: match urls.len() {
                0 | 1 => Vec::new(),
                _ => urls
                    .iter()
                    .map(|u| db::Database::new(Some(u.clone()), timeout))
                    .collect(),
            },
            format: cli.global.format,
            ui: Ui {
                quiet: cli.global.quiet,
                verbose: cli.global.verbose,
            },
        }
    }
}

/// Commands that run on many databases in one go.
fn takes_many(command: &Command) -> bool {
    matches!(
        command,
        Command::Verify { .. }
            | Command::Check { .. }
            | Command::Migrate(MigrateCommand::Status { .. } | MigrateCommand::Apply { .. })
    )
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::from_cli(&cli);
    if !ctx.databases.is_empty() {
        if !takes_many(&cli.command) {
            return Err(crate::error::usage(format!(
                "--database-url is given {} times; only verify, check, migrate status and \
                 migrate apply --all take more than one",
                ctx.databases.len()
            )));
        }
        crate::fleet::check_urls(&ctx.databases)?;
    }
    // `init` writes a quota.toml (it never reads one, even a broken one);
    // `sandbox` works on its own demo schema; completions need no mapping.
    let reads_mapping = !matches!(
        cli.command,
        Command::Init { .. } | Command::Sandbox(_) | Command::Completions { .. }
    );
    if reads_mapping {
        if let Some(config) = crate::mapping::file::configured(cli.global.config.as_deref())? {
            return mapped::run(&ctx, &config, cli.command).await;
        }
    }
    match cli.command {
        Command::Migrate(cmd) => migrate::run(&ctx, cmd).await,
        // checks and debugging
        Command::Verify { many } => verify::verify(&ctx, many).await,
        Command::Check { name, many } => verify::check(&ctx, name, many).await,
        Command::Call {
            user,
            commit,
            meter,
            amount,
        } => {
            mapped::default_meter_only(meter.as_deref(), amount)?;
            user::call(&ctx, user, commit).await
        }
        Command::User { user, email } => user::show(&ctx, user, email).await,
        Command::Users {
            under_limit,
            limit,
            meter,
        } => {
            if meter.is_some() {
                return Err(crate::error::usage(
                    "--meter names a meter of quota.toml (give --config PATH); without it, users lists public.users",
                ));
            }
            user::list(&ctx, under_limit, limit).await
        }
        Command::ResetUser {
            user,
            scrapes,
            clips,
            to,
            yes,
            meter,
        } => {
            let (scrapes, clips) = mapped_ops::default_reset_meters(&meter, scrapes, clips)?;
            let counters = crate::users::reset::Counters::pick(scrapes, clips);
            user::reset(&ctx, user, counters, to, yes).await
        }
        Command::Limits(args) => limits::run(&ctx, args).await,
        Command::Metrics(args) => metrics::run(&ctx, args).await,
        Command::Report { report, threshold } => report::run(&ctx, report, threshold).await,
        Command::Race(mut args) => {
            args.target =
                mapped::default_race_target(args.meter.as_deref(), args.amount, args.target)?;
            race::run(&ctx, args).await
        }
        Command::Bench(args) => bench::run(&ctx, args).await,
        Command::Sandbox(args) => sandbox::run(&ctx, args).await,
        Command::Init { output, force } => init::run(&ctx, &output, force).await,
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics when stdout fails
            // (`quota completions bash | head`); `output::emit_raw` does not.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "quota", &mut script);
            crate::output::emit_raw(&script)?;
            Ok(())
        }
    }
}
