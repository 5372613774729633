//! What must hold before anything is installed: the application's schema
//! fits the contract, and the history is one this build can vouch for.

use anyhow::Result;
use sqlx::PgConnection;

use super::status::StatusReport;
use crate::contract;
use crate::error;

/// Refuses when the application's schema does not fit the contract.
pub async fn require_contract(conn: &mut PgConnection) -> Result<()> {
    let mut problems = contract::inspect(conn).await?;
    problems.retain(|p| !p.is_warning());
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    Err(error::precondition(format!(
        "the schema does not fit the contract, nothing was installed: {}; see `quota check schema`",
        list.join("; ")
    )))
}

/// Refuses to change a database a newer quota upgraded (its history records
/// a version this build does not embed), before anything else is said about
/// the history: nothing drifted, this binary is too old.
pub(crate) fn refuse_ahead(status: &StatusReport) -> Result<()> {
    if status.is_ahead() {
        return Err(error::migrate::database_ahead(
            status.database_version,
            status.latest_version,
        ));
    }
    Ok(())
}

/// Refuses a rollback when a table of the contract is missing: the reverts
/// work on those tables, and checking first means no version is reverted
/// before one fails (a newer version's revert may not need the table).
pub async fn require_tables(conn: &mut PgConnection) -> Result<()> {
    let missing: Vec<String> = contract::inspect(conn)
        .await?
        .iter()
        .filter(|p| matches!(p, contract::Problem::MissingTable { .. }))
        .map(|p| p.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(error::precondition(format!(
        "nothing was reverted: {}; restore it and rerun, see `quota check schema`",
        missing.join("; ")
    )))
}

/// Refuses to apply on a database whose history this build cannot vouch for.
pub(crate) fn refuse_troubles(status: &StatusReport) -> Result<()> {
    let troubles = status.troubles();
    if troubles.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = troubles
        .iter()
        .map(|t| format!("V{}__{} ({})", t.version, t.name, t.state))
        .collect();
    Err(error::precondition(format!(
        "the migration history does not match this build: {}; drifted means the recorded checksum \
         differs from the embedded file (history edited, or applied by another build): \
         `quota migrate apply --repair` re-runs this build's file and re-records it; unknown means \
         a newer quota applied it: use that version; see `quota migrate status`",
        names.join(", ")
    )))
}
