use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use quota::cli::Cli;
use quota::{commands, db, exit};

fn main() -> ExitCode {
    // Passwords in DATABASE_URL or anywhere on the command line (a URL passed
    // in the wrong place ends up quoted in a usage error) are never printed.
    let mut secrets =
        db::Target::new(std::env::var("DATABASE_URL").ok(), Default::default()).secrets();
    for arg in std::env::args().skip(1) {
        secrets.extend(db::secrets_in(&arg));
        if let Some((_, value)) = arg.split_once('=') {
            secrets.extend(db::secrets_in(value));
        }
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &secrets),
    };
    let role = db::Target::new(cli.global.database_url.clone(), Default::default()).role();
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
            let mut line = describe(&err);
            if let Some(denied) = unexplained_permission_denied(&err, &line) {
                line = format!("{line}; {}", db::permission_hint(&denied, &role));
            }
            eprintln!("error: {}", db::redact(&one_line(&line), &secrets));
            ExitCode::from(exit::kind_of(&err).code())
        }
    }
}

/// Help and version print as clap does; a usage error becomes one line
/// (quoted values shortened: a 100 KB argument is not echoed back), exit 2.
fn usage_error(e: clap::Error, secrets: &[String]) -> ExitCode {
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
    eprintln!(
        "error: {}; see --help",
        db::redact(&one_line(&line), secrets)
    );
    ExitCode::from(exit::ExitKind::Usage.code())
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
    fn one_line_collapses_newlines() {
        assert_eq!(one_line("a\n  b\r\nc"), "a b c");
    }
}
