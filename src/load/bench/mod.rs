//! `quota bench`: what the enforcement costs, as ratios against floors
//! measured in the same run on the same database.
//!
//! Every client gets its own scratch user (no lock contention: this prices
//! the work per call, not the queueing `race` shows). Scenarios take turns
//! over the same connections in short rounds (after one warm-up each, so
//! plans are cached):
//!
//! | scenario      | statement(s) per operation                                   |
//! |---------------|--------------------------------------------------------------|
//! | update_floor  | bare `UPDATE users SET usage = usage + 1 WHERE … < limit`    |
//! | function      | `SELECT allowed FROM increment_usage_if_allowed($1)`         |
//! | naive         | read-then-write: SELECT, check, `UPDATE usage = read + 1`         |
//! | insert_floor  | `INSERT` into a scratch table shaped like clips, no trigger  |
//! | trigger       | the same `INSERT` with `enforce_clip_limit()` attached       |
//! | naive_clip    | SELECT counter, check, plain `INSERT`, `UPDATE clips = read+1` |
//! | rpc_floor     | PostgREST's transaction shape around the bare `UPDATE`       |
//! | rpc_service_role | the RPC as PostgREST calls it for the service key         |
//! | rpc_authenticated | the same for a signed-in user's JWT (sub = the user)     |
//!
//! The `rpc_*` scenarios send, per request, one message: `BEGIN;
//! set_config('role', …, true), set_config('request.jwt.claims', <JWT
//! payload>, true); <statement>; COMMIT;`, as PostgREST runs every request.
//! A role this session cannot switch to is skipped with a note.
//!
//! Scratch users, the scratch tier in `clip_limits` and the scratch schema
//! are removed afterwards, also on error and Ctrl-C.

mod generator;
mod setup;
mod statements;
mod summary;

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::PgConnection;

use super::scratch::Shape;
use super::{require_installed, run_then_clean_up, Enforcement, Loaded, APPLY_FIRST};
use crate::db;
use crate::error;
use crate::interrupt::Interrupt;
use crate::sql;
use crate::ui::Ui;
use setup::Scratch;

pub(crate) use generator::{measure_all, Workload};
pub(crate) use statements::require_allowed;
pub use statements::{authenticated_claims, postgrest_call};
pub(crate) use summary::with_ratios;

/// The bench never touches real users' counters, so where scratch users are
/// impossible it has to run on a copy.
const BENCH_ADVICE: &str = "or run the bench on a copy of the schema (the bench only works on \
     scratch users), or try it in `quota sandbox --keep`";

/// The performance goals, shown beside the ratios.
pub const GOAL_FUNCTION_VS_UPDATE: f64 = 0.85;
pub const GOAL_TRIGGER_VS_INSERT: f64 = 0.75;

/// How a bench runs. Its defaults are the one set (`cli.rs` takes them
/// from here).
#[derive(Clone, Debug, PartialEq)]
pub struct BenchOptions {
    pub clients: usize,
    pub seconds: f64,
    pub warmup: f64,
    /// Turns each scenario takes, `seconds / rounds` long each.
    pub rounds: u32,
    /// The scenarios to run, in canonical order; empty means all.
    pub only: Vec<Scenario>,
}

impl BenchOptions {
    pub const DEFAULT_CLIENTS: u32 = 8;
    pub const DEFAULT_SECONDS: f64 = 5.0;
    pub const DEFAULT_WARMUP: f64 = 1.0;
    pub const DEFAULT_ROUNDS: u32 = 5;

    fn scenarios(&self) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.contains(s))
            .collect()
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            clients: Self::DEFAULT_CLIENTS as usize,
            seconds: Self::DEFAULT_SECONDS,
            warmup: Self::DEFAULT_WARMUP,
            rounds: Self::DEFAULT_ROUNDS,
            only: Vec::new(),
        }
    }
}

/// The measured scenarios, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    #[value(name = "update_floor")]
    UpdateFloor,
    Function,
    Naive,
    #[value(name = "insert_floor")]
    InsertFloor,
    Trigger,
    #[value(name = "naive_clip")]
    NaiveClip,
    #[value(name = "rpc_floor")]
    RpcFloor,
    #[value(name = "rpc_service_role")]
    RpcServiceRole,
    #[value(name = "rpc_authenticated")]
    RpcAuthenticated,
    /// `bench --meter` on a rpc meter: a bare UPDATE of its counter row.
    #[value(skip)]
    MeterUpdateFloor,
    /// `bench --meter` on a rpc meter: its function, one unit a call.
    #[value(skip)]
    MeterFunction,
    /// `bench --meter` on a trigger meter: the INSERT into a twin table.
    #[value(skip)]
    MeterInsertFloor,
    /// `bench --meter` on a trigger meter: the INSERT into a twin table
    /// that has the meter's trigger.
    #[value(skip)]
    MeterTrigger,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::UpdateFloor,
        Scenario::Function,
        Scenario::Naive,
        Scenario::InsertFloor,
        Scenario::Trigger,
        Scenario::NaiveClip,
        Scenario::RpcFloor,
        Scenario::RpcServiceRole,
        Scenario::RpcAuthenticated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::UpdateFloor => "update_floor",
            Scenario::Function => "function",
            Scenario::Naive => "naive",
            Scenario::InsertFloor => "insert_floor",
            Scenario::Trigger => "trigger",
            Scenario::NaiveClip => "naive_clip",
            Scenario::RpcFloor => "rpc_floor",
            Scenario::RpcServiceRole => "rpc_service_role",
            Scenario::RpcAuthenticated => "rpc_authenticated",
            Scenario::MeterUpdateFloor => "update_floor",
            Scenario::MeterFunction => "function",
            Scenario::MeterInsertFloor => "insert_floor",
            Scenario::MeterTrigger => "trigger",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scenario::UpdateFloor => "bare check-and-increment UPDATE (floor)",
            Scenario::Function => "increment_usage_if_allowed()",
            Scenario::Naive => "SELECT, check, UPDATE usage = read+1",
            Scenario::InsertFloor => "INSERT, clips-shaped table, no trigger (floor)",
            Scenario::Trigger => "INSERT with enforce_clip_limit()",
            Scenario::NaiveClip => "SELECT, check, INSERT, UPDATE clips = read+1",
            Scenario::RpcFloor => "PostgREST transaction around the bare UPDATE (floor)",
            Scenario::RpcServiceRole => "RPC as PostgREST calls it, service_role JWT",
            Scenario::RpcAuthenticated => "RPC as PostgREST calls it, user's JWT",
            Scenario::MeterUpdateFloor => "bare UPDATE of the meter's counter row (floor)",
            Scenario::MeterFunction => "the meter's function, one unit a call",
            Scenario::MeterInsertFloor => "INSERT, twin of the metered table, no trigger (floor)",
            Scenario::MeterTrigger => "the same INSERT with the meter's trigger",
        }
    }

    /// The floor this scenario is measured against (none for a floor).
    pub fn floor(self) -> Option<Scenario> {
        match self {
            Scenario::Function | Scenario::Naive => Some(Scenario::UpdateFloor),
            Scenario::Trigger | Scenario::NaiveClip => Some(Scenario::InsertFloor),
            Scenario::RpcServiceRole | Scenario::RpcAuthenticated => Some(Scenario::RpcFloor),
            Scenario::MeterFunction => Some(Scenario::MeterUpdateFloor),
            Scenario::MeterTrigger => Some(Scenario::MeterInsertFloor),
            Scenario::UpdateFloor
            | Scenario::InsertFloor
            | Scenario::RpcFloor
            | Scenario::MeterUpdateFloor
            | Scenario::MeterInsertFloor => None,
        }
    }

    /// The API role a PostgREST-shaped scenario switches to.
    fn api_role(self) -> Option<&'static str> {
        match self {
            Scenario::RpcServiceRole => Some("service_role"),
            Scenario::RpcAuthenticated => Some("authenticated"),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub name: &'static str,
    pub what: &'static str,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The scenario this one is compared with (null for a floor).
    pub floor: Option<&'static str>,
    /// ops/s ÷ the floor's ops/s (null for a floor, or when it did not run).
    pub ratio_to_floor: Option<f64>,
}

/// A scenario that was asked for but could not run here, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub name: &'static str,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ratios {
    /// function ops/s ÷ update_floor ops/s (null unless both ran).
    pub function_vs_update: Option<f64>,
    /// trigger ops/s ÷ insert_floor ops/s.
    pub trigger_vs_insert: Option<f64>,
    /// naive ops/s ÷ function ops/s.
    pub naive_vs_function: Option<f64>,
    /// naive_clip ops/s ÷ trigger ops/s.
    pub naive_clip_vs_trigger: Option<f64>,
    /// rpc_service_role ops/s ÷ rpc_floor ops/s.
    pub rpc_service_role_vs_floor: Option<f64>,
    /// rpc_authenticated ops/s ÷ rpc_floor ops/s.
    pub rpc_authenticated_vs_floor: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Goals {
    pub function_vs_update: f64,
    pub trigger_vs_insert: f64,
}

/// The outcome; its JSON is part of the documented output.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub clients: usize,
    pub seconds: f64,
    pub warmup: f64,
    pub rounds: u32,
    pub scenarios: Vec<ScenarioResult>,
    pub ratios: Ratios,
    pub goals: Goals,
    /// Scenarios not run on this database, with the reason.
    pub skipped: Vec<Skipped>,
}

/// Runs every scenario and removes what it created, also on error/Ctrl-C.
pub async fn run(
    database: &db::Database,
    opts: &BenchOptions,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<BenchReport> {
    let mut control = database.connect().await?;
    let (shape, skipped, per_statement) = {
        let mut tx = control.read_only().await?;
        let both = [Enforcement::Function, Enforcement::Trigger];
        require_installed(&mut tx, &both, |_| {
            format!(
                "the bench prices the installed function and trigger, and they are not both \
                 installed: {APPLY_FIRST}"
            )
        })
        .await?;
        let skipped = unswitchable(&mut tx, &opts.scenarios()).await?;
        let per_statement: Option<bool> = db::query_scalar(sql::BENCH_TRIGGER_LEVEL)
            .fetch_optional(&mut *tx)
            .await
            .context("reading how the clip trigger fires")?
            .flatten();
        (
            Shape::discover(&mut tx, BENCH_ADVICE).await?,
            skipped,
            per_statement.unwrap_or(false),
        )
    };
    let opts = &runnable(opts, &skipped)?;
    let mut scratch = Scratch::new();
    scratch.shape = Some(shape);
    scratch.per_statement = per_statement;
    let (results, ()) = run_then_clean_up(
        database,
        &mut control,
        interrupt,
        &mut scratch,
        async |control, scratch: &mut Scratch| {
            scratch.set_up(control, opts.clients).await?;
            let statements = statements::Statements::new(scratch)?;
            let (scenarios, users) = (opts.scenarios(), &scratch.users);
            let results = generator::measure_all(
                database, opts, &scenarios, users, statements, ui, interrupt,
            )
            .await?;
            Ok(Loaded::complete(results))
        },
    )
    .await?;
    Ok(summary::report(opts, results, skipped))
}

/// The options with only the scenarios that can run here; none is a
/// precondition error listing why.
fn runnable(opts: &BenchOptions, skipped: &[Skipped]) -> Result<BenchOptions> {
    let runnable: Vec<Scenario> = opts
        .scenarios()
        .into_iter()
        .filter(|s| !skipped.iter().any(|k| k.name == s.name()))
        .collect();
    if runnable.is_empty() {
        let reasons: Vec<String> = skipped
            .iter()
            .map(|k| format!("{}: {}", k.name, k.reason))
            .collect();
        return Err(error::precondition(format!(
            "none of the chosen scenarios can run here ({})",
            reasons.join("; ")
        )));
    }
    Ok(BenchOptions {
        only: runnable,
        ..opts.clone()
    })
}

/// The PostgREST-shaped scenarios whose role this session cannot switch to
/// (or that may not call the RPC): skipped with a note, not failed — a
/// plain PostgreSQL login need not be a member of the API roles.
async fn unswitchable(conn: &mut PgConnection, scenarios: &[Scenario]) -> Result<Vec<Skipped>> {
    let roles: Vec<(String, bool, bool, bool)> = db::query_as(sql::BENCH_API_ROLES)
        .fetch_all(conn)
        .await
        .context("could not read which API roles this session may switch to")?;
    let mut skipped = Vec::new();
    for &scenario in scenarios {
        let Some(role) = scenario.api_role() else {
            continue;
        };
        let found = roles.iter().find(|r| r.0 == role);
        let reason = match found {
            None | Some((_, false, _, _)) => format!("no role {role} in this database"),
            Some((_, true, false, _)) => format!(
                "this session's role is not a member of {role}, so it cannot switch to it as \
                 PostgREST does (on Supabase, connect as postgres; elsewhere GRANT {role} TO \
                 the role quota connects as)"
            ),
            Some((_, true, true, false)) => {
                format!("{role} may not execute public.increment_usage_if_allowed(uuid)")
            }
            Some(_) => continue,
        };
        skipped.push(Skipped {
            name: scenario.name(),
            reason,
        });
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enforcement_scenario_has_a_floor_that_runs_before_it() {
        for s in Scenario::ALL {
            if let Some(f) = s.floor() {
                let pos = |x| Scenario::ALL.iter().position(|&y| y == x);
                assert!(pos(f) < pos(s), "{s:?}");
                assert!(f.floor().is_none());
            }
        }
    }
}
