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
    fn default_hint(self) -> &'static str {
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

/// Clauses of an error line that start with one of these say what to do.
const ACTION_WORDS: &[&str] = &[
    "run ",
    "rerun ",
    "re-run ",
    "check ",
    "use ",
    "let ",
    "wait ",
    "give ",
    "grant ",
    "as the ",
    "as postgres ",
    "see ",
    "set ",
    "unset ",
    "install ",
    "retry ",
    "restore ",
    "roll ",
    "raise ",
    "percent-encode ",
    "point ",
    "remove ",
    "pass ",
    "add ",
    "create ",
    "start ",
    "try ",
    "fix ",
    "or ",
    "ask ",
    "connect ",
    "drop ",
    "end ",
    "stop ",
    "edit ",
    "upgrade ",
    "enable ",
];

/// The actionable part of a one-line error: from the first place that
/// starts with an action word to the end, else a default for the kind. The
/// project's messages say "what happened; what to do", so candidates are the
/// starts of `; `-separated clauses after the first, and sentence starts
/// after `? ` or `. ` anywhere ("is quota installed here? run …").
pub fn hint_of(kind: ExitKind, line: &str) -> String {
    let mut starts: Vec<usize> = Vec::new();
    for sep in ["; ", "? ", ". "] {
        starts.extend(line.match_indices(sep).map(|(i, _)| i + sep.len()));
    }
    starts.sort_unstable();
    let first_action = starts.into_iter().find(|&i| {
        let lower = line[i..].to_lowercase();
        ACTION_WORDS.iter().any(|w| lower.starts_with(w))
    });
    match first_action {
        Some(i) => line[i..].to_string(),
        None => kind.default_hint().to_string(),
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
            // A missing privilege, table or column is the database's state,
            // not quota's fault: grant it or fix the schema, then run again.
            if matches!(db.code().as_deref(), Some("42501" | "42P01" | "42703")) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_is_the_actionable_tail_or_a_default() {
        assert_eq!(
            hint_of(
                ExitKind::Connect,
                "cannot connect to h:5432: password authentication failed; check the password"
            ),
            "check the password"
        );
        assert_eq!(
            hint_of(
                ExitKind::Precondition,
                "gave up: x; blocking: pid 1 (y); let that finish; or raise --retries"
            ),
            "let that finish; or raise --retries"
        );
        assert_eq!(
            hint_of(ExitKind::Usage, "invalid database URL"),
            ExitKind::Usage.default_hint()
        );
        assert_eq!(
            hint_of(
                ExitKind::Precondition,
                "reading: relation x does not exist; is quota installed here? run `quota migrate apply`"
            ),
            "run `quota migrate apply`"
        );
        // The first clause is what happened, never the hint.
        assert_eq!(
            hint_of(ExitKind::Internal, "run failed"),
            ExitKind::Internal.default_hint()
        );
    }
}
