//! The one walk over an error's causes. Everything that asks "was this a
//! database error, and which one?" goes through here, so that the answer
//! is the same whether the error came straight from sqlx or was wrapped in
//! context on the way up.

use std::error::Error;

use sqlx::error::DatabaseError;

use super::sqlstate as state;

/// `err` and each of its sources, outermost first.
pub fn chain<'a>(
    err: &'a (dyn Error + 'static),
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(err), |&c| c.source())
}

/// The first database error (the server's answer) in the chain.
pub fn database_error<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a dyn DatabaseError> {
    chain(err).find_map(|c| match c.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => Some(db.as_ref()),
        _ => None,
    })
}

/// The SQLSTATE of the first database error in the chain, if any.
pub fn sqlstate(err: &(dyn Error + 'static)) -> Option<String> {
    database_error(err).and_then(|db| db.code().map(|c| c.into_owned()))
}

/// The SQLSTATE of this one error, when it is itself a database error.
pub(crate) fn own_sqlstate(err: &(dyn Error + 'static)) -> Option<String> {
    match err.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// True when `err` is a database error with SQLSTATE `code`.
pub fn has_sqlstate(err: &(dyn Error + 'static), code: &str) -> bool {
    sqlstate(err).as_deref() == Some(code)
}

/// True when the server cancelled a statement because `statement_timeout`
/// expired (not a cancel request): the database was too slow or busy.
pub fn is_statement_timeout(err: &(dyn Error + 'static)) -> bool {
    database_error(err).is_some_and(|db| {
        db.code().as_deref() == Some(state::QUERY_CANCELED)
            && db.message().contains("statement timeout")
    })
}

/// True when the error means the connection to the server went away (server
/// crash, `pg_terminate_backend`, network): the server rolled back whatever
/// transaction was open.
pub fn is_connection_lost(err: &(dyn Error + 'static)) -> bool {
    let Some(first) = chain(err).find_map(|c| c.downcast_ref::<sqlx::Error>()) else {
        return false;
    };
    match first {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            [
                state::ADMIN_SHUTDOWN,
                state::CRASH_SHUTDOWN,
                state::CANNOT_CONNECT_NOW,
            ]
            .contains(&c.as_ref())
                || c.starts_with(state::CONNECTION_EXCEPTION_CLASS)
        }),
        _ => false,
    }
}

/// The server's message of a "permission denied" that nothing along the way
/// explained (no GRANT in `line`), so the caller can add what to grant.
pub fn unexplained_permission_denied(err: &anyhow::Error, line: &str) -> Option<String> {
    if line.contains("GRANT") {
        return None;
    }
    let err: &(dyn Error + 'static) = err.as_ref();
    chain(err).find_map(|c| {
        (own_sqlstate(c).as_deref() == Some(state::INSUFFICIENT_PRIVILEGE))
            .then(|| c.downcast_ref::<sqlx::Error>())
            .flatten()
            .and_then(|e| e.as_database_error())
            .map(|db| db.message().to_string())
    })
}
