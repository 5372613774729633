//! `quota user --email ADDRESS`: the user with this e-mail address, by id.
//! Exact matches win; otherwise a match ignoring case and surrounding
//! blanks. No e-mail address ever leaves this module: several matches are
//! an error that names how many, never whose.

use anyhow::Result;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{db, error, sql};

/// The id of the one user with `email`.
pub(crate) async fn find(conn: &mut PgConnection, email: &str) -> Result<Uuid> {
    let rows: Vec<(Uuid, bool)> = db::query_as(sql::USER_BY_EMAIL)
        .bind(email)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| super::explain(e, "looking the user up by e-mail"))?;
    let exact: Vec<Uuid> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
    let candidates: Vec<Uuid> = if exact.is_empty() {
        rows.iter().map(|r| r.0).collect()
    } else {
        exact
    };
    match candidates.as_slice() {
        [one] => Ok(*one),
        [] => {
            let hidden: Option<bool> = db::query_scalar(sql::RLS_HIDES_USERS)
                .fetch_optional(&mut *conn)
                .await
                .ok()
                .flatten();
            Err(error::users::no_email(hidden == Some(true)))
        }
        _ => Err(error::users::several_emails()),
    }
}
