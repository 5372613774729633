//! Exit codes and the error classification behind them.
//!
//! Every failure the user can act on is wrapped in a [`Classified`] error at
//! the place that understands it (the connection code knows a refused login,
//! the migrator knows a lock timeout); `main` only maps the kind to a code.

use std::fmt;

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
pub fn error(kind: ExitKind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Classified {
        kind,
        message: message.into(),
    })
}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    error(ExitKind::Usage, message)
}

pub fn precondition(message: impl Into<String>) -> anyhow::Error {
    error(ExitKind::Precondition, message)
}

pub fn failed(message: impl Into<String>) -> anyhow::Error {
    error(ExitKind::Failed, message)
}

/// The exit kind of an error: the first classified cause wins; an
/// unclassified "permission denied" from the server is a precondition
/// (grant the privilege and run again), anything else is internal.
pub fn kind_of(err: &anyhow::Error) -> ExitKind {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Classified>() {
            return c.kind;
        }
        if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
            if db.code().as_deref() == Some("42501") {
                return ExitKind::Precondition;
            }
        }
    }
    ExitKind::Internal
}

/// The SQLSTATE of the first database error in the chain, if any.
pub fn sqlstate(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(err);
    while let Some(c) = cause {
        if let Some(sqlx::Error::Database(db)) = c.downcast_ref::<sqlx::Error>() {
            return db.code().map(|c| c.into_owned());
        }
        cause = c.source();
    }
    None
}
