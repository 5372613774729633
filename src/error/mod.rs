//! Errors: what they mean, which exit code they end with, what to do next.
//!
//! Every failure the user can act on is wrapped in a [`Classified`] error at
//! the place that understands it (the connection code knows a refused login,
//! the migrator knows a lock timeout); `main` only maps the kind to a code.
//! All interpretation of errors lives in this module: SQLSTATEs by name
//! ([`sqlstate`]), the one walk over an error's causes ([`cause`]), the
//! one-line message ([`line`]) and every hint ([`hint`] and the per-domain
//! explanations).
//!
//! A leaf: it words the facts it is given (a role, a table's owner, the
//! application's object a message names) and never looks them up; the
//! domain that owns a fact queries it and passes it in. Besides itself it
//! uses only `names`; a test (`leaf.rs`) keeps it that way.

pub mod cause;
pub mod checks;
pub mod connect;
pub mod hint;
#[cfg(test)]
mod leaf;
pub mod line;
pub mod load;
pub mod migrate;
pub mod sqlstate;
pub mod users;

use std::fmt;

pub use cause::sqlstate;
pub use hint::{hint_of, permission_hint};

/// The documented exit codes. Keep README.md's table in step with this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// A check failed, a limit was over-admitted, a race was lost.
    Failed = 1,
    /// Bad arguments: malformed UUID, missing `--yes` without a terminal.
    Usage = 2,
    /// The database could not be reached or refused the login.
    Connect = 3,
    /// The database is not in a state the command can work on: schema
    /// contract not met, drift, lock timeout, missing privilege, unknown user.
    Precondition = 4,
    /// Anything unexpected (a database error no other kind covers).
    Internal = 5,
    /// `race --user` could not take back what the race admitted for a real
    /// user; the message says what remains to undo by hand.
    Restore = 6,
    /// Stopped by Ctrl-C / SIGTERM after cleaning up (128 + SIGINT, as shells do).
    Interrupted = 130,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The kind as JSON error documents name it (`"kind"`); stable.
    pub fn name(self) -> &'static str {
        match self {
            ExitKind::Failed => "failed",
            ExitKind::Usage => "usage",
            ExitKind::Connect => "connect",
            ExitKind::Precondition => "precondition",
            ExitKind::Internal => "internal",
            ExitKind::Restore => "restore",
            ExitKind::Interrupted => "interrupted",
        }
    }

    /// What to do when the message itself says nothing actionable.
    pub(crate) fn default_hint(self) -> &'static str {
        match self {
            ExitKind::Failed => "see the report for what failed",
            ExitKind::Usage => "see `quota --help` or `quota <command> --help`",
            ExitKind::Connect => {
                "check --database-url / DATABASE_URL (or the PG* variables), the network and that \
                 the server is running"
            }
            ExitKind::Precondition => {
                "fix what the message names and run the command again; `quota verify` shows the state"
            }
            ExitKind::Internal => "run the command again with -v; if it persists, report the message",
            ExitKind::Restore => {
                "undo by hand what the message names, then check with `quota user <uuid>`"
            }
            ExitKind::Interrupted => "run the command again; what it had started was cleaned up",
        }
    }
}

/// An error that carries the exit code it should end the process with.
#[derive(Debug)]
pub struct Classified {
    pub kind: ExitKind,
    pub message: String,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Classified {}

/// Builds an `anyhow::Error` of the given kind.
pub fn new(kind: ExitKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified {
        kind,
        message: message.into(),
    })
}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    new(ExitKind::Usage, message)
}

pub fn precondition(message: impl Into<String>) -> anyhow::Error {
    new(ExitKind::Precondition, message)
}

pub fn failed(message: impl Into<String>) -> anyhow::Error {
    new(ExitKind::Failed, message)
}

/// A statement `statement_timeout` cancelled while `doing` something: a
/// precondition, like a lock timeout (the database was too slow or busy,
/// nothing is wrong with quota); `raise` says which timeout to raise. The
/// server's error stays its cause when given.
pub fn statement_timed_out(
    cause: Option<anyhow::Error>,
    doing: &str,
    raise: &str,
) -> anyhow::Error {
    let classified = Classified {
        kind: ExitKind::Precondition,
        message: format!(
            "{doing}: canceling statement due to statement timeout; raise {raise}, or run it \
             again when the database is less busy"
        ),
    };
    match cause {
        Some(cause) => cause.context(classified),
        None => anyhow::Error::new(classified),
    }
}

/// The one line a failure is shown as: outermost context first, what to
/// grant (naming `role`) for a "permission denied" nothing explained yet,
/// on one line, every secret replaced by `***`.
pub fn final_line(err: &anyhow::Error, role: &str, secrets: &[String]) -> String {
    let mut line = line::describe(err);
    if let Some(denied) = cause::unexplained_permission_denied(err, &line) {
        line = format!("{line}; {}", permission_hint(&denied, role));
    }
    line::redact(&line::one_line(&line), secrets)
}

/// The exit kind of an error: the first classified cause wins; an
/// unclassified "permission denied" from the server is a precondition
/// (grant the privilege and run again), anything else is internal.
pub fn kind_of(err: &anyhow::Error) -> ExitKind {
    for cause in cause::chain(err.as_ref()) {
        if let Some(c) = cause.downcast_ref::<Classified>() {
            return c.kind;
        }
        // A statement timeout is the database's speed, like a lock timeout.
        if cause::is_statement_timeout(cause) {
            return ExitKind::Precondition;
        }
        // A missing privilege, table or column is the database's state,
        // not quota's fault: grant it or fix the schema, then run again.
        if cause::own_sqlstate(cause).is_some_and(|code| {
            [
                sqlstate::INSUFFICIENT_PRIVILEGE,
                sqlstate::UNDEFINED_TABLE,
                sqlstate::UNDEFINED_COLUMN,
            ]
            .contains(&code.as_str())
        }) {
            return ExitKind::Precondition;
        }
    }
    ExitKind::Internal
}
