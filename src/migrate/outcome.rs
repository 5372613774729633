//! What apply, rollback and repair did (or would do, in a dry run).

use serde::Serialize;

/// One version that a command ran (or would run, with `--dry-run`).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub version: u32,
    pub name: String,
    /// The SQL, only for dry runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
}

/// What `apply`, `rollback` or `apply --repair` did.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub dry_run: bool,
    /// Versions run, in the order they ran.
    pub steps: Vec<Step>,
    /// The database version afterwards (before, for a dry run).
    pub database_version: u32,
    /// Transactions tried, including lock-timeout retries: one per version
    /// applied, reverted or repaired, plus one per retry; 0 for a dry run
    /// or when there was nothing to do.
    pub attempts: u32,
}

impl Outcome {
    /// Nothing run: a dry run's plan, or nothing to do.
    pub(crate) fn unchanged(dry_run: bool, steps: Vec<Step>, database_version: u32) -> Self {
        Outcome {
            dry_run,
            steps,
            database_version,
            attempts: 0,
        }
    }
}
