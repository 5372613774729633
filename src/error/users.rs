//! What failures of `call`, `user`, `users`, `reset-user` and `report`
//! mean: quota's objects or the contract's tables missing, a missing
//! privilege, a user that does not exist or is hidden from the role.
//! Which table or column is the application's (not quota's) is the
//! contract's to say: the caller passes it in (`users::explain`).

use uuid::Uuid;

use super::sqlstate;

/// One line for a database error while `doing` something with users'
/// counters: quota's objects or a contract table missing, no privilege;
/// otherwise the server's message with what was being done. `application`
/// is the application's table or column the server's message names, if any
/// (`contract::object_named_by`).
pub fn explain(e: sqlx::Error, doing: &str, application: Option<String>) -> anyhow::Error {
    let Some(db) = e.as_database_error() else {
        return anyhow::Error::new(e).context(doing.to_string());
    };
    let msg = db.message().to_string();
    if super::cause::is_statement_timeout(&e) {
        return super::statement_timed_out(
            Some(anyhow::Error::new(e)),
            doing,
            "the statement_timeout set for the role quota connects as (or its database)",
        );
    }
    match db.code().as_deref() {
        Some(sqlstate::UNDEFINED_TABLE | sqlstate::UNDEFINED_COLUMN) if application.is_some() => {
            application_object_missing(doing, &msg, application)
        }
        Some(
            sqlstate::UNDEFINED_FUNCTION | sqlstate::UNDEFINED_TABLE | sqlstate::UNDEFINED_COLUMN,
        ) => super::precondition(format!(
            "{doing}: {msg}; is quota installed here? run `quota check schema` and `quota \
                 migrate apply`"
        )),
        Some(sqlstate::INSUFFICIENT_PRIVILEGE) => super::precondition(format!(
            "{doing}: {msg}; connect as a role that has the privilege (on Supabase: postgres or \
             service_role)"
        )),
        _ => anyhow::Error::new(e).context(doing.to_string()),
    }
}

/// quota is (or may be) installed, but the application's table or column
/// it works on (`object`, which `message` names) is gone: restoring it is
/// the fix, never `migrate apply` (which refuses a schema that does not fit
/// the contract).
pub(crate) fn application_object_missing(
    doing: &str,
    message: &str,
    object: Option<String>,
) -> anyhow::Error {
    let object = object.unwrap_or_else(|| "a table".to_string());
    super::precondition(format!(
        "{doing}: {message}: {}",
        restore_application_object(&object)
    ))
}

/// What to say about the application's `object` (`public.user_usage`)
/// gone from an installed database.
pub(crate) fn restore_application_object(object: &str) -> String {
    format!(
        "{object} is the application's, and quota never creates it; restore it, then run `quota \
         check schema`"
    )
}

/// The error of a call whose function said the user does not exist
/// (`no_data_found`), else [`explain`].
pub fn explain_call(
    e: sqlx::Error,
    user: Uuid,
    doing: &str,
    application: Option<String>,
) -> anyhow::Error {
    match super::sqlstate(&e).as_deref() {
        Some(sqlstate::NO_DATA_FOUND) => no_user(user),
        _ => explain(e, doing, application),
    }
}

/// No row with this id in `public.users`.
pub fn no_user(user: Uuid) -> anyhow::Error {
    super::precondition(format!("no user with id {user} in public.users"))
}

/// No row with this id visible to `role`, whose view of `public.users` row
/// level security filters: the user may exist.
pub fn hidden_user(user: Uuid, role: &str) -> anyhow::Error {
    super::precondition(format!(
        "no user with id {user} is visible in public.users: row level security filters it for role \
         {role}; connect as the table's owner (on Supabase: postgres) or a role with BYPASSRLS"
    ))
}

/// No row of `public.users` has the e-mail address given (it is not
/// repeated: an address is personal data).
pub fn no_email(hidden: bool) -> anyhow::Error {
    let tail = if hidden {
        "; row level security filters public.users for the role quota connects as, so connect as \
         the table's owner (on Supabase: postgres) or a role with BYPASSRLS"
    } else {
        "; check the address, or find the user's id in your application"
    };
    super::precondition(format!(
        "no user in public.users has that e-mail address{tail}"
    ))
}

/// Several users match the e-mail address ignoring case, none exactly.
pub fn several_emails() -> anyhow::Error {
    super::precondition(
        "several users in public.users have that e-mail address when case is ignored, none \
         exactly as given; give the address exactly as stored, or the user's id",
    )
}
