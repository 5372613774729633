//! One module per command: each passes the parsed arguments to the domain
//! module that does the work and hands the report to `output::print`.

mod bench;
mod limits;
mod metrics;
mod migrate;
// checks and debugging
mod race;
mod report;
mod sandbox;
mod user;
mod verify;

use std::time::Duration;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::db;
use crate::output::Format;
use crate::ui::Ui;

/// What every command gets: where the database is, how to print, how to talk.
pub struct Context {
    pub database: db::Database,
    pub format: Format,
    pub ui: Ui,
}

impl Context {
    pub fn from_cli(cli: &Cli) -> Self {
        Context {
            database: db::Database::new(
                cli.global.database_url.clone(),
                Duration::from_secs(cli.global.connect_timeout),
            ),
            format: cli.global.format,
            ui: Ui {
                quiet: cli.global.quiet,
                verbose: cli.global.verbose,
            },
        }
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::from_cli(&cli);
    match cli.command {
        Command::Migrate(cmd) => migrate::run(&ctx, cmd).await,
        // checks and debugging
        Command::Verify => verify::verify(&ctx).await,
        Command::Check { name } => verify::check(&ctx, name).await,
        Command::Call { user, commit } => user::call(&ctx, user, commit).await,
        Command::User { user, email } => user::show(&ctx, user, email).await,
        Command::Users { under_limit, limit } => user::list(&ctx, under_limit, limit).await,
        Command::ResetUser {
            user,
            scrapes,
            clips,
            to,
            yes,
        } => {
            let counters = crate::users::reset::Counters::pick(scrapes, clips);
            user::reset(&ctx, user, counters, to, yes).await
        }
        Command::Limits(args) => limits::run(&ctx, args).await,
        Command::Metrics(args) => metrics::run(&ctx, args).await,
        Command::Report { report } => report::run(&ctx, report).await,
        Command::Race(args) => race::run(&ctx, args).await,
        Command::Bench(args) => bench::run(&ctx, args).await,
        Command::Sandbox(args) => sandbox::run(&ctx, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "quota", &mut std::io::stdout());
            Ok(())
        }
    }
}
