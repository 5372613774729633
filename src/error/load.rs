//! What the database's refusals mean to `race` and `bench`: a clip the
//! trigger refused, placeholders a real schema does not accept, a missing
//! privilege on the application's tables, a clean-up that could not finish.

use uuid::Uuid;

use super::cause::{database_error, has_sqlstate, sqlstate};
use super::sqlstate as state;
use super::{new, precondition, ExitKind};
use crate::db::quote_ident;

/// True when the clip trigger refused the insert: the limit was reached.
pub(crate) fn is_clip_refused(e: &sqlx::Error) -> bool {
    has_sqlstate(e, state::CHECK_VIOLATION)
}

/// Values the application's table does not accept from quota's
/// placeholders for its required columns.
fn placeholder_refused(code: &str) -> bool {
    [
        state::NOT_NULL_VIOLATION,
        state::FOREIGN_KEY_VIOLATION,
        state::UNIQUE_VIOLATION,
        state::INVALID_TEXT_REPRESENTATION,
    ]
    .contains(&code)
}

/// The server's message, or the error itself when it is not the server's.
fn server_message(e: &sqlx::Error) -> Option<String> {
    database_error(e).map(|d| d.message().to_string())
}

/// `schema.table` of the row the server refused, when it says.
fn refusing_table(e: &sqlx::Error) -> Option<String> {
    let pg = database_error(e)?.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()?;
    Some(format!("{}.{}", pg.schema()?, pg.table()?))
}

/// A race's clip insert that failed for another reason than the limit.
pub(crate) fn clip_insert_failure(e: sqlx::Error) -> anyhow::Error {
    match sqlstate(&e) {
        Some(code) if placeholder_refused(&code) => precondition(format!(
            "the race inserts a clip with placeholders for clips' required columns and that \
                 failed ({}): give those columns defaults, or race --target rpc",
            server_message(&e).unwrap_or_default()
        )),
        _ => anyhow::Error::new(e).context("inserting a clip"),
    }
}

/// A scratch row `table` refused: what quota cannot make up, a missing
/// privilege, or (anything else) the error itself. `advice` says what to
/// do instead.
pub(crate) fn scratch_insert_failure(
    e: sqlx::Error,
    table: &str,
    role: &str,
    advice: &str,
) -> anyhow::Error {
    let detail = server_message(&e).unwrap_or_else(|| e.to_string());
    // The table the server names may be another one, written by a trigger
    // on `table` (Supabase's signup trigger inserting the profile).
    let culprit = match refusing_table(&e) {
        Some(other) if other != table => format!("{other} (written by a trigger on {table})"),
        _ => table.to_string(),
    };
    let why = match sqlstate(&e).as_deref() {
        Some(state::FOREIGN_KEY_VIOLATION) => {
            format!("{culprit} references a row quota could not create")
        }
        Some(code) if code == state::CHECK_VIOLATION || placeholder_refused(code) => {
            format!("{culprit} requires values quota cannot make up for a scratch user")
        }
        Some(state::INSUFFICIENT_PRIVILEGE) => {
            return missing_privilege_or(e, table, role);
        }
        _ => return anyhow::Error::new(e).context("could not create a scratch user"),
    };
    precondition(format!(
        "cannot create a scratch user ({detail}): {why}; {advice}"
    ))
}

/// A "permission denied" as what it is, with the grant for the role quota
/// runs as; other errors pass through.
pub(crate) fn missing_privilege_or(e: sqlx::Error, table: &str, role: &str) -> anyhow::Error {
    match server_message(&e) {
        Some(message) if has_sqlstate(&e, state::INSUFFICIENT_PRIVILEGE) => precondition(format!(
            "{message}: as the table's owner run: GRANT SELECT, INSERT, UPDATE, DELETE ON \
             {table} TO {}, or run quota as the owner (on Supabase: postgres)",
            quote_ident(role)
        )),
        _ => anyhow::Error::new(e).context(format!("working on {table}")),
    }
}

/// A scratch user that could not be removed, with the statement that does.
pub(crate) fn scratch_user_left(e: anyhow::Error, id: Uuid) -> anyhow::Error {
    e.context(format!(
        "could not remove scratch user {id}; delete it with: DELETE FROM public.users WHERE id = '{id}'"
    ))
}

/// What a race on a real user admitted and could not take back: its own
/// exit code, and what to undo by hand.
pub(crate) struct NotTakenBack<'a> {
    pub(crate) user: Uuid,
    pub(crate) admissions: u64,
    /// `usage_this_month` or `clips_this_month`.
    pub(crate) counter: &'a str,
    /// Clips the race inserted.
    pub(crate) clips: usize,
}

pub(crate) fn take_back_failure(e: anyhow::Error, left: NotTakenBack<'_>) -> anyhow::Error {
    let NotTakenBack {
        user,
        admissions,
        counter,
        clips,
    } = left;
    let clips = if clips == 0 {
        String::new()
    } else {
        format!(" and delete the {clips} clips it inserted")
    };
    new(
        ExitKind::Restore,
        format!(
            "could not take back what the race admitted for user {user} ({e:#}): subtract \
             {admissions} from its {counter} counter{clips} yourself, or check with `quota user \
             {user}`"
        ),
    )
}

/// The bench's scratch schema, tier or users could not be removed: what to
/// remove by hand.
pub(crate) fn bench_scratch_left(e: anyhow::Error, schema: &str, tier: &str) -> anyhow::Error {
    e.context(format!(
        "could not remove the bench's scratch objects: DROP SCHEMA {schema} CASCADE; DELETE \
         FROM public.clip_limits WHERE tier = '{tier}'; and users with e-mail \
         quota-scratch-*@quota.invalid"
    ))
}
