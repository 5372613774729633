//! Names as SQL spells them: [`quote_ident`], and the tables quota itself
//! reads and writes. A leaf: it uses nothing else of the crate, so `error`
//! (which words hints naming these) and the domain modules share it.

/// The history table refinery keeps, in a schema of its own that PostgREST
/// does not expose (see `migrate::history`); schema-qualified so that a
/// role's search_path cannot put a second copy somewhere else.
pub const HISTORY_TABLE: &str = "quota.schema_history";

/// Where quota kept its history before it had a schema of its own; `migrate
/// apply`, `rollback` and `--repair` move it to [`HISTORY_TABLE`].
pub const LEGACY_HISTORY_TABLE: &str = "public.quota_schema_history";

/// The tables quota reads and writes, schema-qualified.
pub const QUOTA_TABLES: &[&str] = &[
    "public.users",
    "public.user_usage",
    "public.clips",
    "public.clip_limits",
    HISTORY_TABLE,
    LEGACY_HISTORY_TABLE,
];

/// A role name as SQL shows it: quoted unless plainly lower-case.
pub fn quote_ident(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
