//! `quota`: installs, verifies and rolls back database-level usage-limit
//! enforcement in PostgreSQL and Supabase.
//!
//! Layout: `cli` (argument definitions) → `commands` (one module per
//! command) → domain modules (`migrate`, `contract`) → `db` (the only place
//! that opens connections). `render` turns reports into tables or JSON; `ui`
//! owns stderr, progress and prompts; `exit` maps failures to exit codes;
//! `cluster` starts a throwaway PostgreSQL for `quota sandbox` and the tests.

pub mod checks;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod contract;
pub mod db;
pub mod error;
pub mod interrupt;
pub mod load;
pub mod migrate;
pub(crate) mod monitor;
pub mod output;
pub mod process;
pub mod sandbox;
pub(crate) mod sql;
pub mod ui;
pub(crate) mod users;
