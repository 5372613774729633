//! What the database's refusals mean to `race` and `bench`: a clip the
//! trigger refused, placeholders a real schema does not accept, a missing
//! privilege on the application's tables, a clean-up that could not finish.

use uuid::Uuid;

use super::cause::{database_error, has_sqlstate, sqlstate};
use super::sqlstate as state;
use super::{new, precondition, ExitKind};
use crate::names::quote_ident;

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
/// do instead; `application` is the application's table or column the
/// server's message names, if any (`contract::object_named_by`).
pub(crate) fn scratch_insert_failure(
    e: sqlx::Error,
    application: Option<String>,
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
        Some(state::UNDEFINED_TABLE | state::UNDEFINED_COLUMN) if application.is_some() => {
            return super::users::application_object_missing(
                "could not create a scratch user",
                &detail,
                application,
            );
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

pub(crate) fn take_back_failure(
    e: anyhow::Error,
    left: NotTakenBack<'_>,
    by_hand: &str,
) -> anyhow::Error {
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
             {admissions} from its {counter} counter{clips} yourself, by running: {by_hand} then \
             check with `quota user {user}`"
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

/// Reading the raced user failed: the server's error (a missing privilege,
/// a lost connection) as it is, never "no such user", which only an empty
/// answer means.
pub(crate) fn subject_unreadable(e: anyhow::Error, user: Uuid) -> anyhow::Error {
    e.context(format!(
        "could not read user {user} and its counter to race it (nothing was raced)"
    ))
}

/// A further Ctrl-C abandoned a blocked clean-up: exit 130 at once, with
/// the statements that remove by hand what remains.
pub(crate) fn clean_up_abandoned(by_hand: &str) -> anyhow::Error {
    new(
        ExitKind::Interrupted,
        format!("interrupted again: the clean-up was abandoned; to finish it, run: {by_hand}"),
    )
}

/// What a race on a real user still has to take back, as SQL a person can
/// run (values are quota's own: a UUID, numbers, primary keys as row text).
pub(crate) struct UndoByHand<'a> {
    pub(crate) user: Uuid,
    pub(crate) admissions: u64,
    pub(crate) clip_race: bool,
    /// `ROW(c."id")::text` over clips' primary key.
    pub(crate) clip_key: &'a str,
    pub(crate) clips: &'a [String],
    /// The race created the user's `user_usage` row.
    pub(crate) drop_usage_row: bool,
    /// The transaction id of a take-back whose COMMIT was sent unanswered.
    pub(crate) sent_as: Option<i64>,
}

impl UndoByHand<'_> {
    /// One transaction of statements, on one line; with a COMMIT that was
    /// sent unanswered, the check that comes first.
    pub(crate) fn statements(&self) -> String {
        let user = self.user;
        let mut sql = vec!["BEGIN".to_string()];
        if !self.clips.is_empty() {
            sql.push(format!(
                "DELETE FROM public.clips AS c WHERE c.user_id = '{user}' AND {}",
                clips_condition(self.clip_key, self.clips)
            ));
        }
        if self.admissions > 0 {
            let n = self.admissions;
            sql.push(if self.clip_race {
                format!(
                    "UPDATE public.user_usage SET clips_this_month = GREATEST(clips_this_month \
                     - {n}, 0) WHERE user_id = '{user}'"
                )
            } else {
                format!(
                    "UPDATE public.users SET usage_this_month = GREATEST(usage_this_month - \
                     {n}, 0) WHERE id = '{user}'"
                )
            });
        }
        if self.drop_usage_row {
            sql.push(format!(
                "DELETE FROM public.user_usage WHERE user_id = '{user}' AND clips_this_month = 0"
            ));
        }
        sql.push("COMMIT".to_string());
        let statements = format!("{};", sql.join("; "));
        match self.sent_as {
            Some(xid) => format!(
                "first check SELECT txid_status({xid}); if it says committed, nothing remains, \
                 otherwise run {statements}"
            ),
            None => statements,
        }
    }
}

/// Which clips are the race's: for a one-column integer key (an identity
/// `id`), runs of consecutive keys as ranges (every number in a range is a
/// race clip's, so the condition stays exact and the line short); otherwise
/// the keys as row text.
fn clips_condition(clip_key: &str, clips: &[String]) -> String {
    let column = clip_key
        .strip_prefix("ROW(")
        .and_then(|k| k.strip_suffix(")::text"))
        .filter(|c| !c.contains("\", c."));
    let numbers: Option<Vec<i64>> = clips
        .iter()
        .map(|k| k.strip_prefix('(')?.strip_suffix(')')?.parse().ok())
        .collect();
    let (Some(column), Some(mut numbers)) = (column, numbers) else {
        let keys: Vec<String> = clips
            .iter()
            .map(|k| format!("'{}'", k.replace('\'', "''")))
            .collect();
        return format!("{clip_key} IN ({})", keys.join(", "));
    };
    numbers.sort_unstable();
    numbers.dedup();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(n) => *end = n,
            _ => runs.push((n, n)),
        }
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                format!("{column} = {a}")
            } else {
                format!("{column} BETWEEN {a} AND {b}")
            }
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

/// The statements that delete a scratch user and what hangs off it;
/// `parent` is the table `users.id` references and its key column, quoted
/// (`Shape::parent`).
pub(crate) fn by_hand_scratch(parent: Option<(&str, &str)>, id: Uuid) -> String {
    let mut sql = vec!["BEGIN".to_string()];
    sql.extend(delete_scratch_users(parent, &[id]));
    sql.push("COMMIT".to_string());
    format!("{};", sql.join("; "))
}

/// The statements that remove the bench's scratch schema, tier and users.
pub(crate) fn by_hand_bench(
    schema: &str,
    tier: &str,
    parent: Option<(&str, &str)>,
    users: &[Uuid],
) -> String {
    let mut sql = vec![
        "BEGIN".to_string(),
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
    ];
    sql.extend(delete_scratch_users(parent, users));
    sql.push(format!(
        "DELETE FROM public.clip_limits WHERE tier = '{}'",
        tier.replace('\'', "''")
    ));
    sql.push("COMMIT".to_string());
    format!("{};", sql.join("; "))
}

fn delete_scratch_users(parent: Option<(&str, &str)>, ids: &[Uuid]) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = vec![
        format!("DELETE FROM public.clips WHERE user_id IN ({list})"),
        format!("DELETE FROM public.user_usage WHERE user_id IN ({list})"),
        format!("DELETE FROM public.users WHERE id IN ({list})"),
    ];
    if let Some((table, column)) = parent {
        sql.push(format!("DELETE FROM {table} WHERE {column} IN ({list})"));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_clips_by_hand_are_exact_ranges_of_integer_keys() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            clips_condition("ROW(c.\"id\")::text", &keys(&["(7)", "(5)", "(6)", "(9)"])),
            "(c.\"id\" BETWEEN 5 AND 7 OR c.\"id\" = 9)"
        );
        assert_eq!(
            clips_condition("ROW(c.\"a\", c.\"b\")::text", &keys(&["(1,x)"])),
            "ROW(c.\"a\", c.\"b\")::text IN ('(1,x)')"
        );
        assert_eq!(
            clips_condition("ROW(c.\"id\")::text", &keys(&["(o'k)"])),
            "ROW(c.\"id\")::text IN ('(o''k)')"
        );
    }
}
