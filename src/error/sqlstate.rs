//! The SQLSTATEs quota acts on, by their PostgreSQL names (Appendix A of
//! the PostgreSQL manual). Match on these, never on the five characters.

/// `42501`: a missing privilege, or a guard refusing another user's id.
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
/// `42P01`: a table or view that does not exist.
pub const UNDEFINED_TABLE: &str = "42P01";
/// `42703`: a column that does not exist.
pub const UNDEFINED_COLUMN: &str = "42703";
/// `42883`: a function that does not exist (with these argument types).
pub const UNDEFINED_FUNCTION: &str = "42883";
/// `42P07`: an object that already exists.
pub const DUPLICATE_TABLE: &str = "42P07";
/// `23503`: a foreign key without its referenced row.
pub const FOREIGN_KEY_VIOLATION: &str = "23503";
/// `23502`: a required column left NULL.
pub const NOT_NULL_VIOLATION: &str = "23502";
/// `23505`: a unique constraint already holding the value.
pub const UNIQUE_VIOLATION: &str = "23505";
/// `23514`: a check constraint refusing the row.
pub const CHECK_VIOLATION: &str = "23514";
/// `55P03`: `lock_timeout` expired or `NOWAIT` could not lock.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";
/// `40P01`: chosen as the victim of a deadlock.
pub const DEADLOCK_DETECTED: &str = "40P01";
/// `28P01`: wrong password.
pub const INVALID_PASSWORD: &str = "28P01";
/// `28000`: the server refused the login (pg_hba.conf, no such role).
pub const INVALID_AUTHORIZATION: &str = "28000";
/// `3D000`: no such database.
pub const INVALID_CATALOG_NAME: &str = "3D000";
/// `53300`: `max_connections` reached.
pub const TOO_MANY_CONNECTIONS: &str = "53300";
/// `57014`: a statement cancelled (`statement_timeout`, a cancel request).
pub const QUERY_CANCELED: &str = "57014";
/// `57P01`: `pg_terminate_backend` or a fast shutdown.
pub const ADMIN_SHUTDOWN: &str = "57P01";
/// `57P02`: the server crashed.
pub const CRASH_SHUTDOWN: &str = "57P02";
/// `57P03`: the server is starting up or shutting down.
pub const CANNOT_CONNECT_NOW: &str = "57P03";
/// Class `08`: connection exceptions.
pub const CONNECTION_EXCEPTION_CLASS: &str = "08";
/// `22P02`: text that is not a value of the column's type.
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
/// `P0002`: `RAISE ... USING ERRCODE = 'no_data_found'`: the user has no row.
pub const NO_DATA_FOUND: &str = "P0002";
