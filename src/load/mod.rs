//! Load on the enforcement: what `race` and `bench` share.
//!
//! Both put scratch rows (or a real user's admissions) into the database,
//! fire statements at it over many connections at once, and must leave
//! nothing behind: [`run_then_clean_up`] is that skeleton. Both fire the
//! installed RPC and the naive read-check-write ([`naive`]) as one
//! simple-protocol message per operation ([`UserStatements`]), so a
//! transaction pooler in front of the database changes nothing.

pub mod bench;
pub(crate) mod naive;
pub mod race;
mod run;
pub(crate) mod scratch;

use anyhow::Result;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::contract::Problem;
use crate::db::{self, literal};
use crate::error;
use crate::sql;

pub(crate) use run::{connect_all, run_then_clean_up, spawn_each, Cleanup, Loaded};

/// The installed enforcement a load goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enforcement {
    /// `public.increment_usage_if_allowed(uuid)`.
    Function,
    /// `enforce_clip_limit_trigger` on `public.clips`.
    Trigger,
}

impl Enforcement {
    /// How a message names it when it is missing.
    fn describe(self) -> &'static str {
        match self {
            Enforcement::Function => "public.increment_usage_if_allowed(uuid)",
            Enforcement::Trigger => "an enabled enforce_clip_limit_trigger on public.clips",
        }
    }
}

/// What to do when the enforcement is not installed.
pub(crate) const APPLY_FIRST: &str = "run `quota migrate apply` first (it checks the schema \
                                      contract first: `quota check schema`)";

/// Fails as a precondition unless all of `needed` is installed; `explain`
/// turns the first missing one's name into the message.
pub(crate) async fn require_installed(
    conn: &mut PgConnection,
    needed: &[Enforcement],
    explain: impl FnOnce(&str) -> String,
) -> Result<()> {
    let (function, trigger): (bool, bool) = db::query_as(sql::RACE_INSTALLED)
        .fetch_one(&mut *conn)
        .await?;
    let missing = needed.iter().find(|e| match e {
        Enforcement::Function => !function,
        Enforcement::Trigger => !trigger,
    });
    if let Some(e) = missing {
        return Err(error::precondition(explain(e.describe())));
    }
    // Installed, but an application's table or column dropped since.
    let gone = crate::contract::inspect(conn)
        .await?
        .into_iter()
        .find_map(|p| match p {
            Problem::MissingTable { table } => Some(format!("public.{table}")),
            Problem::MissingColumn { table, column, .. } => {
                Some(format!("public.{table}.{column}"))
            }
            _ => None,
        });
    match gone {
        Some(object) => Err(error::precondition(format!(
            "{object} is missing: {}",
            error::users::restore_application_object(&object)
        ))),
        None => Ok(()),
    }
}

/// The statements every load sends for one user, with its id rendered in:
/// each is one simple-protocol message (one round trip, safe through a
/// transaction pooler, like the application's own autocommit calls).
pub(crate) struct UserStatements {
    pub(crate) id: Uuid,
    /// One admission through the installed RPC.
    pub(crate) call: String,
    /// The naive path's read of the scrape counter and limit.
    pub(crate) naive_read_usage: String,
    /// The naive path's read of the clip counter and tier.
    pub(crate) naive_read_clips: String,
}

impl UserStatements {
    pub(crate) fn new(id: Uuid) -> Self {
        let with_id = |sql: &str| literal::render(sql, &[literal::Lit::Uuid(id)]);
        UserStatements {
            id,
            call: with_id(sql::RACE_CALL_FUNCTION),
            naive_read_usage: with_id(sql::NAIVE_READ_USAGE),
            naive_read_clips: with_id(sql::NAIVE_READ_CLIPS),
        }
    }
}

/// The RPC's answer: whether it admitted (no row admits nothing).
pub(crate) fn allowed(row: Option<&sqlx::postgres::PgRow>) -> Result<bool> {
    Ok(row
        .map(|r| r.try_get("allowed"))
        .transpose()?
        .unwrap_or(false))
}

/// How long a clean-up waits for a row lock an application session holds
/// (idle in transaction) before it fails and says what remains.
const CLEANUP_LOCK_TIMEOUT: &str = "5s";
/// The bound on any clean-up statement.
const CLEANUP_STATEMENT_TIMEOUT: &str = "60s";

/// Bounds the clean-up transaction on `tx` (SET LOCAL: nothing outlives it).
pub(crate) async fn cleanup_timeouts(tx: &mut PgConnection) -> Result<()> {
    db::query(sql::CLEANUP_TIMEOUTS)
        .bind(CLEANUP_LOCK_TIMEOUT)
        .bind(CLEANUP_STATEMENT_TIMEOUT)
        .execute(tx)
        .await?;
    Ok(())
}
