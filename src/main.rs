use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use quota::cli::{Cli, Command};
use quota::exit::ExitKind;
use quota::render::{self, Format};
use quota::{commands, db, exit};

fn main() -> ExitCode {
    // Passwords in DATABASE_URL or anywhere on the command line (a URL passed
    // in the wrong place ends up quoted in a usage error) are never printed.
    let mut secrets =
        db::Target::new(std::env::var("DATABASE_URL").ok(), Default::default()).secrets();
    let from_env = std::env::var("DATABASE_URL").ok();
    for arg in std::env::args().skip(1).chain(from_env) {
        secrets.extend(db::secrets_in(&arg));
        // A password with a raw `/`, `?` or `#` is cut short by URL parsers.
        secrets.extend(
            quota::dburl::misparsed_password(&arg)
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
    if format == Format::Junit && !matches!(cli.command, Command::Verify | Command::Check { .. }) {
        let line = "--format junit is only for `quota verify` and `quota check`; use --format \
                    json or table";
        return fail(ExitKind::Usage, line, format, "quota");
    }
    let suite = if matches!(cli.command, Command::Check { .. }) {
        "quota check"
    } else {
        "quota verify"
    };
    let role = db::Target::new(cli.global.database_url.clone(), Default::default()).role();
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
            let mut line = describe(&err);
            if let Some(denied) = unexplained_permission_denied(&err, &line) {
                line = format!("{line}; {}", db::permission_hint(&denied, &role));
            }
            let line = db::redact(&one_line(&line), &secrets);
            fail(exit::kind_of(&err), &line, format, suite)
        }
    }
}

/// Ends the process for an error: the one line on stderr and, with
/// `--format json`/`junit`, one document on stdout unless the command
/// already printed its report (a failed `verify` prints its verdict), so a
/// CI step that parses stdout never gets an empty string.
fn fail(kind: ExitKind, line: &str, format: Format, suite: &str) -> ExitCode {
    eprintln!("error: {line}");
    if !render::report_printed() {
        match format {
            Format::Json => drop(render::emit(&error_json(kind, line))),
            Format::Junit => drop(render::emit(&error_junit(kind, line, suite))),
            Format::Table => {}
        }
    }
    ExitCode::from(kind.code())
}

/// `{"error": {"kind", "message", "hint", "exit_code"}}`; `line` is already
/// redacted, and the hint is taken from it.
fn error_json(kind: ExitKind, line: &str) -> String {
    let doc = serde_json::json!({
        "error": {
            "kind": kind.name(),
            "message": line,
            "hint": exit::hint_of(kind, line),
            "exit_code": kind.code(),
        }
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
}

/// A JUnit document with one errored test case: the run could not check
/// anything (no connection, bad arguments), which a test reporter must show.
fn error_junit(kind: ExitKind, line: &str, suite: &str) -> String {
    let esc = render::xml_escape;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"{suite}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n  \
         <testsuite name=\"{suite}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    \
         <testcase name=\"{suite}\" classname=\"{suite}\">\n      \
         <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>\n  </testsuite>\n</testsuites>",
        esc(line),
        kind.name(),
        esc(&format!("{line}\nhint: {}", exit::hint_of(kind, line))),
        suite = esc(suite),
    )
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
    let rendered = e.render().to_string();
    let mut parts = rendered.lines().map(str::trim).filter(|l| {
        !l.is_empty() && !l.starts_with("For more information") && !l.starts_with("Usage:")
    });
    let first = parts.next().unwrap_or("error: invalid arguments");
    let rest: Vec<&str> = parts.collect();
    let mut line = shorten_quoted(first.strip_prefix("error: ").unwrap_or(first), 60);
    if !rest.is_empty() {
        line = format!("{line} ({})", shorten_quoted(&rest.join("; "), 60));
    }
    let line = format!("{}; see --help", db::redact(&one_line(&line), secrets));
    fail(ExitKind::Usage, &line, format, "quota")
}

/// A raw "permission denied" from the server that no command explained:
/// the server's message, so `main` can add what to grant.
fn unexplained_permission_denied(err: &anyhow::Error, line: &str) -> Option<String> {
    if line.contains("GRANT") {
        return None;
    }
    err.chain()
        .find_map(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42501") => {
                Some(db.message().to_string())
            }
            _ => None,
        })
}

/// The error and its causes, outermost first, each said once (sqlx and
/// refinery repeat their source's text in their own).
fn describe(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let text = text
            .strip_prefix("error returned from database: ")
            .unwrap_or(&text);
        // refinery wraps its parts in backticks; our own hints end in one.
        let text = match text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
            Some(inner) if !inner.contains('`') => inner,
            _ => text,
        };
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// Keeps the error on one line whatever the server or a value contained.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts every '...'-quoted value longer than `max` characters.
fn shorten_quoted(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(1024));
    for (i, part) in text.split('\'').enumerate() {
        if i > 0 {
            out.push('\'');
        }
        let quoted = i % 2 == 1;
        if quoted && part.chars().count() > max {
            out.extend(part.chars().take(max));
            out.push_str(&format!("… ({} characters)", part.chars().count()));
        } else {
            out.push_str(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_cut() {
        let long = "9".repeat(500);
        let line = shorten_quoted(&format!("invalid value '{long}' for '--target <V>'"), 20);
        let cut = "9".repeat(20);
        assert_eq!(
            line,
            format!("invalid value '{cut}… (500 characters)' for '--target <V>'")
        );
    }

    #[test]
    fn causes_are_said_once() {
        let err = anyhow::anyhow!("permission denied for table t").context("reading history");
        assert_eq!(
            describe(&err),
            "reading history: permission denied for table t"
        );
        let err = anyhow::anyhow!("x").context("wrapped: x");
        assert_eq!(describe(&err), "wrapped: x");
    }

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

    #[test]
    fn error_documents_carry_kind_hint_and_code() {
        let doc: serde_json::Value = serde_json::from_str(&error_json(
            ExitKind::Connect,
            "cannot connect to h:1: refused; check the host",
        ))
        .unwrap();
        assert_eq!(doc["error"]["kind"], "connect");
        assert_eq!(doc["error"]["hint"], "check the host");
        assert_eq!(doc["error"]["exit_code"], 3);
        let xml = error_junit(ExitKind::Usage, "bad <arg>", "quota verify");
        assert!(
            xml.contains("<error message=\"bad &lt;arg&gt;\" type=\"usage\">"),
            "{xml}"
        );
    }

    #[test]
    fn one_line_collapses_newlines() {
        assert_eq!(one_line("a\n  b\r\nc"), "a b c");
    }
}
