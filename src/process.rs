//! The process around a command: arguments in; a report on stdout, or one
//! error line on stderr (never a password) and the documented exit code.

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::ExitKind;
use crate::output::{self, Format};
use crate::{commands, db, error};

/// Parses the command line, runs the command, and ends as documented.
pub fn main() -> ExitCode {
    // Passwords in DATABASE_URL or anywhere on the command line (a URL passed
    // in the wrong place ends up quoted in a usage error) are never printed.
    let mut secrets =
        db::Database::new(std::env::var("DATABASE_URL").ok(), Default::default()).secrets();
    let from_env = std::env::var("DATABASE_URL").ok();
    for arg in std::env::args().skip(1).chain(from_env) {
        secrets.extend(db::secrets_in(&arg));
        // A password with a raw `/`, `?` or `#` is cut short by URL parsers.
        secrets.extend(
            error::connect::misparsed_password(&arg)
                .filter(|p| p.len() >= 3)
                .map(str::to_string),
        );
        if let Some((_, value)) = arg.split_once('=') {
            secrets.extend(db::secrets_in(value));
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &secrets, requested_format(std::env::args())),
    };
    let format = cli.global.format;
    if format == Format::Junit
        && !matches!(cli.command, Command::Verify { .. } | Command::Check { .. })
    {
        let line = "--format junit is only for `quota verify` and `quota check`; use --format \
                    json or table";
        return fail(ExitKind::Usage, line, format, "quota");
    }
    let suite = if matches!(cli.command, Command::Check { .. }) {
        "quota check"
    } else {
        "quota verify"
    };
    let role =
        db::Database::new(cli.global.database_url.first().cloned(), Default::default()).role();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let line = format!("cannot start the async runtime: {e}");
            return fail(ExitKind::Internal, &line, format, suite);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, outermost context first, never a password.
            let line = error::final_line(&err, &role, &secrets);
            fail(error::kind_of(&err), &line, format, suite)
        }
    }
}

/// Ends the process for an error: the one line on stderr and, with
/// `--format json`/`junit`, one document on stdout unless the command
/// already printed its report (a failed `verify` prints its verdict), so a
/// CI step that parses stdout never gets an empty string.
fn fail(kind: ExitKind, line: &str, format: Format, suite: &str) -> ExitCode {
    eprintln!("error: {line}");
    if !output::report_printed() {
        if let Some(doc) = output::error::document(kind, line, format, suite) {
            drop(output::emit(&doc));
        }
    }
    ExitCode::from(kind.code())
}

/// `--format` as given on a command line clap could not parse, so a usage
/// error can still be a JSON document when JSON was asked for.
fn requested_format(args: impl Iterator<Item = String>) -> Format {
    let mut format = Format::Table;
    let mut args = args.skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--format") {
            Some("") => args.next(),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None => None,
        };
        match value.as_deref() {
            Some("json") => format = Format::Json,
            Some("junit") => format = Format::Junit,
            Some("table") => format = Format::Table,
            _ => {}
        }
    }
    format
}

/// Help and version print as clap does; a usage error becomes one line
/// (quoted values shortened: a 100 KB argument is not echoed back), exit 2.
fn usage_error(e: clap::Error, secrets: &[String], format: Format) -> ExitCode {
    if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        e.exit();
    }
    let mut rendered = e.render().to_string();
    if e.kind() == ErrorKind::ArgumentConflict {
        // clap names a counted flag `--verbose...`; the user typed `--verbose`.
        rendered = rendered.replace("...'", "'");
    }
    let mut parts = rendered.lines().map(str::trim).filter(|l| {
        !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
    });
    let first = parts.next().unwrap_or("error: invalid arguments");
    let rest: Vec<&str> = parts.collect();
    let mut line = error::line::shorten_quoted(first.strip_prefix("error: ").unwrap_or(first), 60);
    if !rest.is_empty() {
        line = format!(
            "{line} ({})",
            error::line::shorten_quoted(&rest.join("; "), 60)
        );
    }
    let line = format!(
        "{}; see --help",
        error::line::redact(&error::line::one_line(&line), secrets)
    );
    fail(ExitKind::Usage, &line, format, "quota")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_found_on_an_unparsable_command_line() {
        let args = |a: &[&str]| {
            std::iter::once("quota".to_string())
                .chain(a.iter().map(|s| s.to_string()))
                .collect::<Vec<_>>()
                .into_iter()
        };
        assert_eq!(
            requested_format(args(&["user", "x", "--format", "json"])),
            Format::Json
        );
        assert_eq!(
            requested_format(args(&["--format=junit", "nope"])),
            Format::Junit
        );
        assert_eq!(requested_format(args(&["user", "--format"])), Format::Table);
    }
}
