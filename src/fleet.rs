//! Many databases in one run (`--database-url` given more than once):
//! `verify`, `check` and `migrate status` look at them concurrently, at
//! most `--jobs` at a time; `migrate apply --all` changes them one at a
//! time and stops at the first failure. One entry per database, in the
//! order given, named by its URL without the password; the run ends with
//! the worst entry's exit code, the highest of them (5 unexpected, then 4
//! precondition, 3 cannot connect, 1 check failed, 0), so a database that
//! could not be looked at outranks a failed check.

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;

use crate::db::Database;

/// How many databases `concurrently` works on at once unless `--jobs` says.
pub const DEFAULT_JOBS: u32 = 4;
use crate::error::{self, ExitKind};

/// How one database's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The command succeeded (exit 0).
    Ok,
    /// The command ran and reported a failure (a failed check): exit 1.
    Failed,
    /// The command could not run to the end (no connection, a refusal).
    Error,
    /// Not attempted: `migrate apply --all` stopped at an earlier failure.
    NotRun,
}

/// Why one database's run failed, as the error document says it.
#[derive(Clone, Debug, Serialize)]
pub struct EntryError {
    pub kind: &'static str,
    pub message: String,
    pub hint: String,
    pub exit_code: u8,
}

/// One database's result: the command's own report, or its error.
#[derive(Clone, Debug, Serialize)]
pub struct Entry<R> {
    /// The URL without its password.
    pub url: String,
    pub outcome: Outcome,
    pub exit_code: u8,
    pub report: Option<R>,
    pub error: Option<EntryError>,
}

/// The report of a command run on many databases.
#[derive(Clone, Debug, Serialize)]
pub struct Fleet<R> {
    /// The worst entry's exit code.
    pub exit_code: u8,
    pub databases: Vec<Entry<R>>,
}

impl<R> Fleet<R> {
    /// Entries given in order: the worst exit code computed.
    fn new(databases: Vec<Entry<R>>) -> Self {
        Fleet {
            exit_code: databases.iter().map(|e| e.exit_code).max().unwrap_or(0),
            databases,
        }
    }

    /// The error the run ends with when any database did not end with 0:
    /// the worst exit code, naming each database that did not.
    pub fn verdict(&self, what: &str) -> Result<()> {
        let bad: Vec<String> = self
            .databases
            .iter()
            .filter(|e| e.exit_code != 0 || e.outcome == Outcome::NotRun)
            .map(|e| format!("{} ({})", e.url, describe(e)))
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        let kind = kind_of_code(self.exit_code);
        Err(error::new(
            kind,
            format!(
                "{what} did not succeed on {} of {} databases: {}",
                bad.len(),
                self.databases.len(),
                bad.join(", ")
            ),
        ))
    }
}

fn describe<R>(e: &Entry<R>) -> String {
    match (&e.error, e.outcome) {
        (_, Outcome::NotRun) => "not attempted".to_string(),
        (Some(err), _) => format!("{}, exit {}", err.kind, err.exit_code),
        (None, _) => format!("failed, exit {}", e.exit_code),
    }
}

fn kind_of_code(code: u8) -> ExitKind {
    [
        ExitKind::Failed,
        ExitKind::Usage,
        ExitKind::Connect,
        ExitKind::Precondition,
        ExitKind::Internal,
        ExitKind::Restore,
        ExitKind::Interrupted,
    ]
    .into_iter()
    .find(|k| k.code() == code)
    .unwrap_or(ExitKind::Internal)
}

/// Secrets of every database, so no entry's message or name shows any.
fn secrets(databases: &[Database]) -> Vec<String> {
    databases.iter().flat_map(Database::secrets).collect()
}

/// Every URL must parse before anything runs: a malformed one is a usage
/// error (exit 2) that names its position, not its text.
pub fn check_urls(databases: &[Database]) -> Result<()> {
    for (i, d) in databases.iter().enumerate() {
        if let Err(e) = d.options() {
            let line = error::final_line(&e, "", &secrets(databases));
            return Err(error::usage(format!(
                "--database-url number {}: {line}; nothing was run",
                i + 1
            )));
        }
    }
    Ok(())
}

fn entry<R>(
    d: &Database,
    secrets: &[String],
    result: Result<R>,
    failed: impl Fn(&R) -> bool,
) -> Entry<R> {
    let url = error::line::redact(&d.label(), secrets);
    match result {
        Ok(report) => {
            let failed = failed(&report);
            Entry {
                url,
                outcome: if failed { Outcome::Failed } else { Outcome::Ok },
                exit_code: if failed { ExitKind::Failed.code() } else { 0 },
                report: Some(report),
                error: None,
            }
        }
        Err(e) => {
            let kind = error::kind_of(&e);
            let message = error::final_line(&e, &d.role(), secrets);
            Entry {
                url,
                outcome: Outcome::Error,
                exit_code: kind.code(),
                report: None,
                error: Some(EntryError {
                    kind: kind.name(),
                    hint: error::hint_of(kind, &message),
                    message,
                    exit_code: kind.code(),
                }),
            }
        }
    }
}

/// Runs `work` on every database, at most `jobs` at a time; `failed` says
/// whether a report is a failure (exit 1). Entries in the order given.
pub async fn concurrently<R, F, Fut>(
    databases: &[Database],
    jobs: usize,
    work: F,
    failed: impl Fn(&R) -> bool,
) -> Fleet<R>
where
    R: Send + 'static,
    F: Fn(Database) -> Fut,
    Fut: std::future::Future<Output = Result<R>> + Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, d) in databases.iter().enumerate() {
        let permits = Arc::clone(&permits);
        let run = work(d.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, run.await)
        });
    }
    let mut results: Vec<Option<Result<R>>> = databases.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        // A task that panicked leaves its slot empty: reported below as an
        // unexpected error of that database, the others keep their results.
        if let Ok((i, r)) = joined {
            results[i] = Some(r);
        }
    }
    let secrets = secrets(databases);
    let entries = databases
        .iter()
        .zip(results)
        .map(|(d, r)| {
            let r = r.unwrap_or_else(|| {
                Err(anyhow::anyhow!(
                    "the run on this database stopped unexpectedly"
                ))
            });
            entry(d, &secrets, r, &failed)
        })
        .collect();
    Fleet::new(entries)
}

/// Runs `work` on each database in turn, stopping at the first that fails
/// (error or failed report); the rest are `not_run`.
pub async fn one_by_one<R>(
    databases: &[Database],
    mut work: impl AsyncFnMut(&Database) -> Result<R>,
    failed: impl Fn(&R) -> bool,
) -> Fleet<R> {
    let secrets = secrets(databases);
    let mut entries: Vec<Entry<R>> = Vec::new();
    for d in databases {
        if entries.iter().any(|e| e.exit_code != 0) {
            entries.push(Entry {
                url: error::line::redact(&d.label(), &secrets),
                outcome: Outcome::NotRun,
                exit_code: 0,
                report: None,
                error: None,
            });
            continue;
        }
        let result = work(d).await;
        entries.push(entry(d, &secrets, result, &failed));
    }
    Fleet::new(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(code: u8) -> Entry<()> {
        Entry {
            url: "u".into(),
            outcome: Outcome::Ok,
            exit_code: code,
            report: None,
            error: None,
        }
    }

    #[test]
    fn the_worst_exit_code_is_the_highest() {
        assert_eq!(Fleet::new(vec![e(0), e(1), e(0)]).exit_code, 1);
        assert_eq!(Fleet::new(vec![e(1), e(3), e(4)]).exit_code, 4);
        assert_eq!(Fleet::new(vec![e(3), e(1)]).exit_code, 3);
        assert_eq!(kind_of_code(3), ExitKind::Connect);
        assert!(Fleet::new(vec![e(0), e(0)]).verdict("verify").is_ok());
    }

    #[test]
    fn labels_have_no_password() {
        let d = Database::new(
            Some("postgres://u:s3cret@h:5433/db?sslmode=require&password=other".into()),
            Default::default(),
        );
        assert_eq!(d.label(), "postgres://u@h:5433/db?sslmode=require");
    }
}
