//! `quota`: installs, verifies and rolls back database-level usage-limit
//! enforcement in PostgreSQL and Supabase.
//!
//! `process` runs the binary: `cli` parses, `commands` wires a command to
//! its domain module (`migrate`, `checks`, `users`, `monitor`, `load`,
//! `sandbox`), `output` renders the report, `error` says what a failure
//! means and which exit code it ends with. `db` is the only place that
//! connects; `sql` holds every SQL text. ARCHITECTURE.md has the rules.
//!
//! The library exports only what the binary and the integration tests use.

pub mod cluster;
pub mod process;

pub(crate) mod checks;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod contract;
pub(crate) mod db;
pub(crate) mod error;
pub(crate) mod fleet;
pub(crate) mod init;
pub(crate) mod interrupt;
pub(crate) mod load;
pub(crate) mod mapped;
pub(crate) mod mapping;
pub(crate) mod meters;
pub(crate) mod metrics;
pub(crate) mod migrate;
pub(crate) mod monitor;
pub(crate) mod names;
pub(crate) mod output;
pub(crate) mod sandbox;
pub(crate) mod sql;
pub(crate) mod ui;
pub(crate) mod users;

/// A PostgREST-shaped request and its JWT claims, as `quota bench` sends
/// them; the tests send the same requests as an attacker would.
pub use load::bench::{authenticated_claims, postgrest_call};

/// A JSON document as a safely quoted SQL literal; the tests check its
/// quoting against a real server.
pub use db::literal::JsonText;
