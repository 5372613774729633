//! Command-line definitions (clap). No work happens here: `commands` does it.

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::render::Format;

/// Install, verify and roll back database-level usage-limit enforcement in
/// PostgreSQL and Supabase, and prove on a live database that the limits
/// cannot be raced.
#[derive(Debug, Parser)]
#[command(
    name = "quota",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Database URL, e.g. postgres://postgres:PASSWORD@db.xyz.supabase.co:5432/postgres?sslmode=require.
    /// Without it, libpq's PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE/PGSSLMODE are used.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,

    /// Seconds to wait for the server to answer a connection attempt.
    #[arg(long, env = "QUOTA_CONNECT_TIMEOUT", default_value_t = 10, global = true, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,

    /// More detail on stderr.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Only results and errors; no progress or notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, inspect and roll back the enforcement migrations.
    #[command(subcommand)]
    Migrate(MigrateCommand),

    /// Print completions for a shell, e.g. `quota completions bash > /etc/bash_completion.d/quota`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (checks the schema contract first).
    Apply {
        /// Print the SQL that would run; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Stop at this version instead of the newest.
        #[arg(long, value_name = "V")]
        target: Option<u32>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// List versions: applied (when), pending, drifted, unknown.
    Status,
    /// Run revert scripts, newest first, down to a version (default: one step back).
    Rollback {
        /// Version to end at; 0 removes everything quota installed.
        #[arg(long, value_name = "V")]
        target: Option<u32>,
        /// Print the SQL that would run; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
}

/// How DDL waits for table locks.
#[derive(Debug, Args, Clone, Copy)]
pub struct LockArgs {
    /// Milliseconds a migration's DDL may wait for a table lock before it
    /// backs off (the application's inserts queue behind it meanwhile).
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub lock_timeout: u64,
    /// Further attempts after a lock timeout, with exponential backoff.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
    /// Seconds to wait for another quota process that holds the migration lock.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub lock_wait: u64,
}

/// Parses a UUID argument with a clear message.
pub fn parse_uuid(s: &str) -> Result<Uuid, String> {
    Uuid::parse_str(s.trim()).map_err(|_| {
        let shown: String = s.chars().take(40).collect();
        format!("\"{shown}\" is not a UUID (expected e.g. 11111111-1111-4111-8111-111111111111)")
    })
}
