//! Where each version stands: the history compared with the embedded
//! migrations (`quota migrate status`, and what apply, rollback and repair
//! plan from).

use anyhow::Result;
use refinery::Migration;
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use super::embedded;
use super::history as history_table;
use crate::db::Session;
use crate::error;

/// Where one embedded or recorded version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but from a file whose checksum differs from the embedded one.
    Drifted,
    /// Recorded in the database, unknown to this build (a newer quota
    /// applied it): the database is ahead of this binary.
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Drifted => "drifted",
            // JSON keeps "unknown" (serde); people read what it means.
            State::Unknown => "newer than this binary",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `quota migrate status`.
#[derive(Clone, Debug, Serialize)]
pub struct VersionStatus {
    pub version: u32,
    pub name: String,
    pub state: State,
    /// RFC 3339, when applied.
    pub applied_on: Option<String>,
    /// refinery's checksum of the embedded file (of the recorded one for `unknown`).
    pub checksum: String,
}

/// The report of `quota migrate status`: every version, in order.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// Highest applied version, 0 when nothing is applied.
    pub database_version: u32,
    /// Highest version this build knows.
    pub latest_version: u32,
    pub migrations: Vec<VersionStatus>,
}

impl StatusReport {
    /// A newer quota upgraded the database past what this build embeds.
    pub fn is_ahead(&self) -> bool {
        self.database_version > self.latest_version
    }

    pub fn pending(&self) -> impl Iterator<Item = &VersionStatus> {
        self.migrations.iter().filter(|m| m.state == State::Pending)
    }

    /// Versions this build cannot vouch for: drifted or unknown.
    pub(crate) fn troubles(&self) -> Vec<&VersionStatus> {
        self.migrations
            .iter()
            .filter(|m| matches!(m.state, State::Drifted | State::Unknown))
            .collect()
    }
}

/// Reads the history; empty when the history table does not exist yet.
pub async fn history(conn: &mut PgConnection) -> Result<Vec<Migration>> {
    // Until `apply` moves it, an older install's history is in its old place.
    let Some(name) = history_table::locate(conn).await? else {
        return Ok(Vec::new());
    };
    // Under a savepoint: when the read fails, the caller's transaction is
    // rolled back to it and stays usable, so the hint can look up the role
    // to name (on an aborted transaction that lookup fails too).
    let mut savepoint = conn.begin().await?;
    match history_table::read(&mut savepoint, name).await {
        Ok(applied) => {
            savepoint.commit().await?;
            Ok(applied)
        }
        Err(e) => {
            savepoint.rollback().await?;
            let me = super::roles::current_role_if_denied(conn, &e).await;
            Err(error::migrate::history_unreadable(e, me))
        }
    }
}

/// Compares the history with the embedded migrations, in the caller's transaction.
pub async fn status(conn: &mut PgConnection) -> Result<StatusReport> {
    Ok(compare(&history(conn).await?))
}

/// [`status`] in a read-only transaction of its own.
pub async fn read_status(db: &mut Session) -> Result<StatusReport> {
    let mut tx = db.read_only().await?;
    let status = status(&mut tx).await?;
    tx.commit().await?;
    Ok(status)
}

/// Where each version stands, given the history's rows `applied`.
pub(crate) fn compare(applied: &[Migration]) -> StatusReport {
    let embedded = embedded::migrations();
    let mut rows: Vec<VersionStatus> = embedded
        .iter()
        .map(|m| {
            let record = applied.iter().find(|a| a.version() == m.version());
            let state = match record {
                None => State::Pending,
                Some(a) if a.checksum() == m.checksum() => State::Applied,
                Some(_) => State::Drifted,
            };
            VersionStatus {
                version: m.version(),
                name: m.name().to_string(),
                state,
                applied_on: record.and_then(|a| a.applied_on()).map(format_time),
                checksum: m.checksum().to_string(),
            }
        })
        .collect();
    for a in applied
        .iter()
        .filter(|a| !embedded.iter().any(|m| m.version() == a.version()))
    {
        rows.push(VersionStatus {
            version: a.version(),
            name: a.name().to_string(),
            state: State::Unknown,
            applied_on: a.applied_on().map(format_time),
            checksum: a.checksum().to_string(),
        });
    }
    rows.sort_by_key(|r| r.version);
    StatusReport {
        database_version: applied.iter().map(|a| a.version()).max().unwrap_or(0),
        latest_version: embedded::latest_version(),
        migrations: rows,
    }
}

fn format_time(t: &time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}
