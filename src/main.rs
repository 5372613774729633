use std::process::ExitCode;

use clap::Parser;

use quota::cli::Cli;
use quota::{commands, db, exit};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let secrets = db::Target::new(cli.global.database_url.clone(), Default::default()).secrets();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::ExitKind::Internal.code());
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, outermost context first, never a password.
            eprintln!("error: {}", db::redact(&format!("{err:#}"), &secrets));
            ExitCode::from(exit::kind_of(&err).code())
        }
    }
}
