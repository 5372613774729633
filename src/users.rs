//! Users as the application's tables hold them: how to say that one is
//! missing, and why it may only look missing.

use crate::sql;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{db, error};

/// No row with this id in `public.users`.
pub(crate) fn no_user(user: Uuid) -> anyhow::Error {
    error::precondition(format!("no user with id {user} in public.users"))
}

/// "No such user", or, where row level security filters `public.users` for
/// the role quota runs as, that the user may only be hidden from it.
pub(crate) async fn no_user_seen_by(conn: &mut PgConnection, user: Uuid) -> anyhow::Error {
    let hidden: Option<bool> = db::query_scalar(sql::RLS_HIDES_USERS)
        .fetch_optional(&mut *conn)
        .await
        .ok()
        .flatten();
    if hidden != Some(true) {
        return no_user(user);
    }
    let role: String = db::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|_| "the role quota runs as".to_string());
    error::precondition(format!(
        "no user with id {user} is visible in public.users: row level security filters it for role \
         {role}; connect as the table's owner (on Supabase: postgres) or a role with BYPASSRLS"
    ))
}
