//! Command-line definitions (clap). No work happens here: `commands` does it.

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

mod parse;

use parse::{non_negative_seconds, parse_timestamp, positive_seconds};
pub use parse::{parse_email, parse_threshold, parse_tier, parse_uuid};

use crate::load::race::RacePath;
use crate::output::Format;

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
    /// `verify`, `check`, `migrate status` and `migrate apply --all` take it more than once.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Vec<String>,

    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,

    /// Seconds to wait for the server to answer a connection attempt.
    #[arg(long, env = "QUOTA_CONNECT_TIMEOUT", hide_env_values = true, default_value_t = crate::db::Database::DEFAULT_CONNECT_TIMEOUT_SECS, global = true, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,

    /// The mapping: a quota.toml naming your tables, columns and meters. Without it,
    /// ./quota.toml when it exists, else the seed schema's contract (public.users, ...).
    #[arg(long, env = "QUOTA_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

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

    // --- checks and debugging ---
    /// Run every check (routine, schema, trigger, grants, security, drift, tiers); exit 1 if any fails.
    Verify {
        #[command(flatten)]
        many: ManyArgs,
    },

    /// Run one check.
    Check {
        #[arg(value_enum)]
        name: crate::checks::Check,
        #[command(flatten)]
        many: ManyArgs,
    },

    /// A test call of increment_usage_if_allowed; rolled back unless --commit.
    Call {
        /// The user's id (users.id), e.g. from `quota users`.
        #[arg(value_parser = parse_uuid, value_name = "UUID")]
        user: Uuid,
        /// Keep the increment (by default the call runs in a transaction that is rolled back).
        #[arg(long)]
        commit: bool,
        /// The rpc meter of quota.toml to call (the default mapping: scrapes).
        #[arg(long, value_name = "NAME")]
        meter: Option<String>,
        /// Units to admit in one step (a meter of quota.toml); never part of it.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..), allow_negative_numbers = true)]
        amount: i32,
    },

    /// The debug view of one user: usage, limit, plan, clips, period.
    User {
        /// The user's id (users.id), e.g. from `quota users`; or give --email.
        #[arg(value_parser = parse_uuid, value_name = "UUID", required_unless_present = "email")]
        user: Option<Uuid>,
        /// Find the user by e-mail address (exact, else ignoring case); shown by id.
        #[arg(long, value_name = "ADDRESS", conflicts_with = "user", value_parser = parse_email)]
        email: Option<String>,
    },

    /// List users to test with (ids, plans, usage; --under-limit for ones with room).
    Users {
        /// Only users who can still be admitted this month.
        #[arg(long)]
        under_limit: bool,
        /// How many users to list.
        #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..=100_000), allow_negative_numbers = true)]
        limit: i64,
        /// The meter of quota.toml whose subjects to list (default: the first by name).
        #[arg(long, value_name = "NAME")]
        meter: Option<String>,
    },

    /// Set a user's counters to 0, or to N with --to (both by default), showing before and after.
    ResetUser {
        /// The user's id (users.id), e.g. from `quota users`.
        #[arg(value_parser = parse_uuid, value_name = "UUID")]
        user: Uuid,
        /// Reset users.usage_this_month (the scrape counter).
        #[arg(long)]
        scrapes: bool,
        /// Reset user_usage.clips_this_month (the clip counter).
        #[arg(long)]
        clips: bool,
        /// The value to set instead of 0: lower than the usage to grant, higher to take back.
        #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..=i64::from(i32::MAX)), allow_negative_numbers = true)]
        to: i64,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
        /// A meter to reset (repeatable): of quota.toml (default: all the subject is on), or scrapes / clips.
        #[arg(long, value_name = "NAME")]
        meter: Vec<String>,
    },

    /// Each meter's limit per tier with the users on it; `limits set` changes one.
    Limits(LimitsArgs),

    /// Monitoring queries: users at their limit, near it, a summary per meter and tier (default).
    #[command(args_conflicts_with_subcommands = true)]
    Report {
        #[command(subcommand)]
        report: Option<ReportCommand>,
        /// Without a subcommand (summary): share of a limit that counts as near it, in (0, 1].
        #[arg(long, value_parser = parse_threshold, allow_negative_numbers = true)]
        threshold: Option<f64>,
    },
    /// OpenMetrics text per meter and tier (no per-user series); --listen serves /metrics.
    Metrics(MetricsArgs),
    // --- end of checks and debugging ---
    /// Fire concurrent admission attempts at one user over real connections and
    /// count what got through; exits 1 on any over-admission.
    Race(RaceArgs),

    /// Throughput and p50/p99 latency of the installed function and trigger
    /// beside their floors (bare UPDATE, plain INSERT) and the naive
    /// read-then-write, measured in one run on scratch users; prints ratios.
    Bench(BenchArgs),

    /// Start a throwaway PostgreSQL from the local server binaries, load the
    /// demo schema, apply the migrations, verify, race both targets, tear it
    /// down. Ignores DATABASE_URL / --database-url: it never touches your database.
    Sandbox(SandboxArgs),

    /// Guess a quota.toml from the database's tables (subject, counters, limits,
    /// periods) and write it, commented, for you to confirm; reads the catalog only.
    Init {
        /// Where to write it; `-` for stdout.
        #[arg(long, short = 'o', value_name = "PATH", default_value = "quota.toml")]
        output: std::path::PathBuf,
        /// Overwrite PATH if it exists.
        #[arg(long)]
        force: bool,
    },

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
        /// Re-run the SQL of every applied version (it is idempotent) to undo hand edits of
        /// the installed functions, trigger and grants; data and history stay as they are.
        #[arg(long, conflicts_with = "target")]
        repair: bool,
        /// Apply to every --database-url in turn (needed when it is given more than once),
        /// stopping at the first database that fails.
        #[arg(long, conflicts_with = "repair")]
        all: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// List versions: applied (when), pending, drifted, unknown.
    Status {
        #[command(flatten)]
        many: ManyArgs,
    },
    /// Write each version as a Supabase migration file (for `supabase db reset` and
    /// preview branches); files already there are kept, only new versions are added.
    Export {
        /// The Supabase migrations directory, e.g. supabase/migrations.
        #[arg(long, value_name = "DIR")]
        supabase: std::path::PathBuf,
        /// Number new files after this version (YYYYMMDDHHMMSS) instead of after the
        /// newest migration in DIR.
        #[arg(long, value_name = "TIMESTAMP", value_parser = parse_timestamp)]
        after: Option<crate::migrate::export::Timestamp>,
    },
    /// Run revert scripts, newest first, down to a version (default: one step back).
    Rollback {
        /// With quota.toml: remove this meter (repeatable); --target 0 removes every meter.
        #[arg(long, value_name = "NAME")]
        meter: Vec<String>,
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

/// Checking many databases (`--database-url` given more than once).
#[derive(Debug, Args, Clone, Copy)]
pub struct ManyArgs {
    /// How many databases to check at the same time when --database-url is given more
    /// than once (1 to 64); with one database it changes nothing.
    #[arg(long, value_name = "N", default_value_t = crate::fleet::DEFAULT_JOBS, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
}

/// How DDL waits for table locks.
#[derive(Debug, Args, Clone, Copy)]
pub struct LockArgs {
    /// Milliseconds a migration's DDL may wait for a table lock before it
    /// backs off (the application's inserts queue behind it meanwhile).
    #[arg(long, value_name = "MS", default_value_t = crate::migrate::LockPolicy::DEFAULT_LOCK_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub lock_timeout: u64,
    /// Further attempts after a lock timeout, with exponential backoff.
    #[arg(long, default_value_t = crate::migrate::LockPolicy::DEFAULT_RETRIES, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,
    /// Seconds to wait for another quota process that holds the migration lock.
    #[arg(long, value_name = "SECS", default_value_t = crate::migrate::LockPolicy::DEFAULT_LOCK_WAIT_SECS)]
    pub lock_wait: u64,
}

/// `quota race`.
#[derive(Debug, Args)]
pub struct RaceArgs {
    /// What the attempts go through: the RPC, or INSERTs into public.clips
    /// that fire the clip trigger.
    #[arg(long, value_enum, default_value_t = crate::load::race::RaceOptions::DEFAULT_TARGET)]
    pub target: RacePath,
    /// Connections opened up front and released together.
    #[arg(long, short = 'c', default_value_t = crate::load::race::RaceOptions::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub concurrency: u32,
    /// Attempts in all, spread over the connections.
    #[arg(long, short = 'n', default_value_t = crate::load::race::RaceOptions::DEFAULT_ATTEMPTS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub attempts: u32,
    /// Race this real user instead of a scratch user; afterwards exactly the
    /// race's own admissions (and clips) are taken back, also on error and
    /// Ctrl-C, so what the application admitted meanwhile stays.
    #[arg(long, value_name = "UUID", value_parser = parse_uuid)]
    pub user: Option<Uuid>,
    /// Run the unsafe read-then-write path applications used before (SELECT, check in the client,
    /// UPDATE to read+1) to show the over-admission the migrations prevent.
    /// Exits 0: over-admitting is the demonstration.
    #[arg(long)]
    pub naive: bool,
    /// Admissions the scratch user has left before the race (default: half
    /// the attempts).
    #[arg(long, value_name = "K", conflicts_with = "user")]
    pub headroom: Option<u32>,
    /// A meter of quota.toml to race (with --user: the subject's id).
    #[arg(long, value_name = "NAME")]
    pub meter: Option<String>,
    /// Units each attempt asks for (a meter of quota.toml).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..), allow_negative_numbers = true)]
    pub amount: i32,
}

/// `quota bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent clients, each on its own scratch user.
    #[arg(long, default_value_t = crate::load::bench::BenchOptions::DEFAULT_CLIENTS, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: u32,
    /// Measured seconds per scenario.
    #[arg(long, default_value_t = crate::load::bench::BenchOptions::DEFAULT_SECONDS, value_parser = positive_seconds)]
    pub seconds: f64,
    /// Unmeasured seconds before each scenario's first turn (plans cached, caches warm).
    #[arg(long, default_value_t = crate::load::bench::BenchOptions::DEFAULT_WARMUP, value_parser = non_negative_seconds)]
    pub warmup: f64,
    /// Scenarios take turns this many times (each turn seconds/rounds long),
    /// so background load affects floors and enforcement alike.
    #[arg(long, default_value_t = crate::load::bench::BenchOptions::DEFAULT_ROUNDS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Run only these scenarios (comma-separated); ratios need both sides.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "SCENARIO")]
    pub only: Vec<crate::load::bench::Scenario>,
    /// A meter to bench against the floor of its shape: one of quota.toml (with --user),
    /// or scrapes/clips of the default mapping.
    #[arg(long, value_name = "NAME", conflicts_with = "only")]
    pub meter: Option<String>,
    /// With --meter of quota.toml: a subject to run on (repeatable; one client each). Its
    /// counter, period marker and limit (or tier) are saved, given headroom for the bench,
    /// and written back exactly afterwards, also on error and Ctrl-C.
    #[arg(long = "user", value_name = "UUID", value_parser = parse_uuid, requires = "meter")]
    pub users: Vec<Uuid>,
}

/// `quota sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Leave the sandbox running and print its URL and how to stop it.
    #[arg(long)]
    pub keep: bool,
}

/// `quota report ...`
#[derive(Debug, Subcommand, Clone, Copy)]
pub enum ReportCommand {
    /// Users at their clip limit (tier limit from public.clip_limits) or scrape limit.
    AtLimit,
    /// Users at or above a share of a limit but not at it: every meter, every tier.
    NearLimit {
        /// Share of the limit, in (0, 1].
        #[arg(long, default_value_t = crate::meters::DEFAULT_NEAR_THRESHOLD, value_parser = parse_threshold, allow_negative_numbers = true)]
        threshold: f64,
    },
    /// Counts per meter and tier: users, at the limit, near it, usage.
    Summary {
        /// Share of a limit that counts as near it, in (0, 1].
        #[arg(long, default_value_t = crate::meters::DEFAULT_NEAR_THRESHOLD, value_parser = parse_threshold, allow_negative_numbers = true)]
        threshold: f64,
    },
}

/// `quota limits`.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    #[command(subcommand)]
    pub set: Option<LimitsCommand>,
    /// Only this meter's limits: scrapes or clips, or a meter of quota.toml.
    #[arg(long, value_name = "METER")]
    pub meter: Option<String>,
}

/// `quota limits set`.
#[derive(Debug, Subcommand)]
pub enum LimitsCommand {
    /// Set a tier's limit, showing before and after (clips: the tier's row in
    /// public.clip_limits; scrapes: plan_limits_scrapes of every user on the
    /// tier). A clip tier with no row that no user is on needs --create.
    Set {
        /// The tier's name, e.g. pro (users.subscription_tier; for clips also
        /// public.clip_limits.tier); `quota limits` lists them.
        #[arg(value_parser = parse_tier)]
        tier: String,
        /// The new limit: 0 or more.
        #[arg(value_name = "N", value_parser = clap::value_parser!(i64).range(0..=i64::from(i32::MAX)), allow_negative_numbers = true)]
        limit: i64,
        /// The meter whose limit to set: clips (default) or scrapes; quota.toml's meters are refused, saying where.
        #[arg(long, value_name = "METER")]
        meter: Option<String>,
        /// Add a new clip tier on purpose: without it, a tier with no row in
        /// public.clip_limits that no user is on is refused (a typo).
        #[arg(long)]
        create: bool,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// `quota metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Serve the metrics at http://ADDR/metrics (e.g. 127.0.0.1:9187) instead of printing them once.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Share of a limit that counts as near it, in (0, 1].
    #[arg(long, default_value_t = crate::meters::DEFAULT_NEAR_THRESHOLD, value_parser = parse_threshold, allow_negative_numbers = true)]
    pub threshold: f64,
    /// Milliseconds each scrape's queries may take before the scrape fails.
    #[arg(long, value_name = "MS", default_value_t = crate::metrics::ScrapeOptions::DEFAULT_STATEMENT_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub statement_timeout: u64,
    /// Also run every check of `verify` (in its own rolled-back transaction) and export
    /// quota_verify_ok and quota_verify_check_ok (one series per check).
    #[arg(long)]
    pub verify: bool,
}
