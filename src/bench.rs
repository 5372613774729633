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

use crate::sql;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::db::literal::{render, JsonText, Lit};
use crate::db::{self, Session};
use crate::error;
use crate::interrupt::{self, Interrupt};
use crate::scratch::{self, ScratchUser, Shape};
use crate::ui::Ui;

/// The bench never touches real users' counters, so where scratch users are
/// impossible it has to run on a copy.
const BENCH_ADVICE: &str = "or run the bench on a copy of the schema (the bench only works on \
     scratch users), or try it in `quota sandbox --keep`";

/// The performance goals, shown beside the ratios.
pub const GOAL_FUNCTION_VS_UPDATE: f64 = 0.85;
pub const GOAL_TRIGGER_VS_INSERT: f64 = 0.75;

#[derive(Clone, Debug)]
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
    fn scenarios(&self) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| self.only.is_empty() || self.only.contains(s))
            .collect()
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
        }
    }

    /// The floor this scenario is measured against (none for a floor).
    pub fn floor(self) -> Option<Scenario> {
        match self {
            Scenario::Function | Scenario::Naive => Some(Scenario::UpdateFloor),
            Scenario::Trigger | Scenario::NaiveClip => Some(Scenario::InsertFloor),
            Scenario::RpcServiceRole | Scenario::RpcAuthenticated => Some(Scenario::RpcFloor),
            Scenario::UpdateFloor | Scenario::InsertFloor | Scenario::RpcFloor => None,
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

/// What the bench created, so it can be removed whatever happens.
struct Scratch {
    schema: String,
    tier: String,
    schema_created: bool,
    tier_created: bool,
    users: Vec<Uuid>,
    /// How to insert scratch rows here; known once set up.
    shape: Option<Shape>,
}

impl Scratch {
    fn new() -> Self {
        // Generated, never user input: safe to place in DDL.
        let suffix = &Uuid::new_v4().simple().to_string()[..12];
        Scratch {
            schema: format!("quota_bench_{suffix}"),
            tier: format!("quota_bench_{suffix}"),
            schema_created: false,
            tier_created: false,
            users: Vec::new(),
            shape: None,
        }
    }

    fn sql(&self, template: &str) -> String {
        template.replace("{schema}", &self.schema)
    }
}

/// Runs every scenario and removes what it created, also on error/Ctrl-C.
pub async fn run(
    target: &db::Target,
    opts: &BenchOptions,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<BenchReport> {
    let mut control = target.connect().await?;
    let (shape, skipped) = {
        let mut tx = control.read_only().await?;
        require_installed(&mut tx).await?;
        let skipped = unswitchable(&mut tx, &opts.scenarios()).await?;
        (Shape::discover(&mut tx, BENCH_ADVICE).await?, skipped)
    };
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
    let opts = &BenchOptions {
        only: runnable,
        ..opts.clone()
    };
    let mut scratch = Scratch::new();
    scratch.shape = Some(shape);
    let measured = async {
        set_up(&mut control, &mut scratch, opts.clients).await?;
        measure_all(target, opts, &scratch, ui, interrupt).await
    }
    .await;
    let cleaned = clean_up(target, &mut control, &scratch).await;
    let results = measured?;
    cleaned?;
    if interrupt.is_set() {
        return Err(interrupt::interrupted(
            "the scratch users, tier and tables were removed",
        ));
    }
    Ok(report(opts, results, skipped))
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

async fn require_installed(conn: &mut PgConnection) -> Result<()> {
    let (function, trigger): (bool, bool) =
        db::query_as(sql::RACE_INSTALLED).fetch_one(conn).await?;
    if function && trigger {
        return Ok(());
    }
    Err(error::precondition(
        "the bench prices the installed function and trigger, and they are not both installed: \
         run `quota migrate apply` first (it checks the schema contract first: `quota check schema`)",
    ))
}

async fn set_up(db: &mut Session, scratch: &mut Scratch, clients: usize) -> Result<()> {
    let mut tx = db.begin().await?;
    db::query(sql::BENCH_TIER_INSERT)
        .bind(&scratch.tier)
        .execute(&mut *tx)
        .await
        .context("could not add the bench's scratch tier to public.clip_limits")?;
    tx.commit().await?;
    scratch.tier_created = true;
    db.simple(&scratch.sql(sql::BENCH_SETUP))
        .await
        .context("could not create the bench's scratch tables (needs CREATE on the database)")?;
    scratch.schema_created = true;
    let shape = scratch
        .shape
        .clone()
        .context("the bench's shape was not read")?;
    let spec = ScratchUser {
        usage: 0,
        limit: i32::MAX,
        tier: scratch.tier.clone(),
        clips: Some(0),
    };
    for _ in 0..clients {
        let id = scratch::create_user(db, &shape, &spec, BENCH_ADVICE).await?;
        scratch.users.push(id);
    }
    Ok(())
}

async fn clean_up(target: &db::Target, control: &mut Session, scratch: &Scratch) -> Result<()> {
    if clean_up_on(control, scratch).await.is_ok() {
        return Ok(());
    }
    let mut fresh = target.connect().await?;
    clean_up_on(&mut fresh, scratch).await.with_context(|| {
        format!(
            "could not remove the bench's scratch objects: DROP SCHEMA {} CASCADE; DELETE FROM \
             public.clip_limits WHERE tier = '{}'; and users with e-mail quota-scratch-*@example.invalid",
            scratch.schema, scratch.tier
        )
    })
}

async fn clean_up_on(db: &mut Session, scratch: &Scratch) -> Result<()> {
    if scratch.schema_created {
        db.simple(&scratch.sql(sql::BENCH_TEARDOWN)).await?;
    }
    if let Some(shape) = &scratch.shape {
        scratch::delete_users(db, shape, &scratch.users).await?;
    }
    if scratch.tier_created {
        let mut tx = db.begin().await?;
        db::query(sql::BENCH_TIER_DELETE)
            .bind(&scratch.tier)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn measure_all(
    target: &db::Target,
    opts: &BenchOptions,
    scratch: &Scratch,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<Vec<ScenarioResult>> {
    let threads = generator_threads(opts.clients);
    let plan = Arc::new(Plan::new(opts, threads));
    let statements = Statements::new(scratch)?;
    let spinner = ui.spinner(&format!(
        "bench: {} scenarios x {} rounds, {} clients",
        plan.scenarios.len(),
        plan.rounds,
        opts.clients
    ));
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let users: Vec<Uuid> = scratch
            .users
            .iter()
            .skip(t)
            .step_by(threads)
            .copied()
            .collect();
        let (target, plan, statements, interrupt) = (
            target.clone(),
            plan.clone(),
            statements.clone(),
            interrupt.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("quota-bench-{t}"))
            .spawn(move || generator_thread(target, users, plan, statements, interrupt))
            .context("could not start a load-generator thread")?;
        handles.push(handle);
    }
    // Joining blocks; keep the runtime (and its Ctrl-C listener) free.
    let joined = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a load-generator thread panicked")))
            })
            .collect::<Vec<_>>()
    })
    .await
    .context("the load-generator join task failed")?;
    spinner.finish_and_clear();

    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); plan.scenarios.len()];
    for per_thread in joined {
        for (all, mine) in latencies.iter_mut().zip(per_thread?) {
            all.extend(mine);
        }
    }
    let results: Vec<ScenarioResult> = plan
        .scenarios
        .iter()
        .copied()
        .zip(latencies)
        .map(|(scenario, lat)| summarise(scenario, lat, opts.seconds))
        .collect();
    for r in &results {
        ui.debug(&format!(
            "{}: {:.0} ops/s, p50 {:.3} ms, p99 {:.3} ms",
            r.name, r.ops_per_sec, r.p50_ms, r.p99_ms
        ));
    }
    Ok(results)
}

/// Like `pgbench -j`: a few OS threads, each with its own single-threaded
/// runtime driving its share of the clients. No work stealing and no
/// cross-thread wake-ups per query, so the generator spends as little CPU
/// per operation as possible and leaves the cores to the server.
fn generator_threads(clients: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    clients.clamp(1, cores.max(1))
}

/// The schedule every generator thread follows in lockstep. Scenarios take
/// turns in short rounds, so a change in background load (other tenants,
/// autovacuum, a noisy neighbour) hits floor and enforcement alike instead
/// of skewing their ratio.
struct Plan {
    scenarios: Vec<Scenario>,
    rounds: u32,
    slice: f64,
    warmup: f64,
    /// All threads start each turn together.
    barrier: std::sync::Barrier,
    /// Set by the first thread that fails: the others stop working but keep
    /// meeting at the barrier, so nobody waits forever.
    abort: std::sync::atomic::AtomicBool,
}

impl Plan {
    fn new(opts: &BenchOptions, threads: usize) -> Self {
        let rounds = opts.rounds.max(1);
        Plan {
            scenarios: opts.scenarios(),
            rounds,
            slice: opts.seconds / rounds as f64,
            warmup: opts.warmup,
            barrier: std::sync::Barrier::new(threads),
            abort: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn aborted(&self) -> bool {
        self.abort.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// One generator thread: opens its connections, then runs every turn of
/// the plan; returns its latencies per scenario.
fn generator_thread(
    target: db::Target,
    users: Vec<Uuid>,
    plan: Arc<Plan>,
    statements: Arc<Statements>,
    interrupt: Interrupt,
) -> Result<Vec<Vec<u32>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a load-generator runtime");
    let mut error = None;
    let mut conns = Vec::new();
    match &runtime {
        Ok(rt) => {
            for _ in &users {
                match rt.block_on(target.connect()) {
                    Ok(c) => conns.push(c),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        Err(e) => error = Some(anyhow::anyhow!("{e:#}")),
    }
    if error.is_some() {
        plan.abort.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); plan.scenarios.len()];
    for round in 0..plan.rounds {
        for (i, &scenario) in plan.scenarios.iter().enumerate() {
            plan.barrier.wait();
            let (Ok(rt), false) = (&runtime, plan.aborted() || interrupt.is_set()) else {
                continue;
            };
            // Plans are cached per connection: one warm-up per scenario is enough.
            let window = Window {
                warmup: if round == 0 { plan.warmup } else { 0.0 },
                seconds: plan.slice,
            };
            let turn = rt.block_on(measure(
                std::mem::take(&mut conns),
                scenario,
                &statements,
                &users,
                window,
                &interrupt,
            ));
            match turn {
                Ok((back, lat)) => {
                    conns = back;
                    latencies[i].extend(lat);
                }
                Err(e) => {
                    plan.abort.store(true, std::sync::atomic::Ordering::Relaxed);
                    error.get_or_insert(e);
                }
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(latencies),
    }
}

/// Warm-up and measured seconds of one turn of a scenario.
#[derive(Clone, Copy)]
struct Window {
    warmup: f64,
    seconds: f64,
}

/// The SQL of every scenario, with the scratch schema and the placeholders
/// for clips' required columns filled in.
struct Statements {
    insert_plain: String,
    insert_trigger: String,
    rpc_service_role: String,
    rpc_authenticated: String,
}

impl Statements {
    fn new(scratch: &Scratch) -> Result<Arc<Self>> {
        let shape = scratch
            .shape
            .as_ref()
            .context("the bench's shape was not read")?;
        Ok(Arc::new(Statements {
            insert_plain: shape.clips.fill(&scratch.sql(sql::BENCH_INSERT_PLAIN)),
            insert_trigger: shape.clips.fill(&scratch.sql(sql::BENCH_INSERT_TRIGGER)),
            rpc_service_role: sql::BENCH_RPC_CALL.replace("{role}", "service_role"),
            rpc_authenticated: sql::BENCH_RPC_CALL.replace("{role}", "authenticated"),
        }))
    }

    /// One client's statements, with its user's id rendered in: every
    /// operation is one simple-protocol message, for the floors and the
    /// enforcement alike (pgbench's default protocol), and safe through a
    /// transaction pooler.
    fn for_user(&self, user: Uuid) -> Result<UserStatements> {
        let with_id = |sql: &str| render(sql, &[Lit::Uuid(user)]);
        let service = JsonText::new(&service_role_claims())?;
        let signed_in = JsonText::new(&authenticated_claims(user))?;
        let with_claims =
            |sql: &str, claims: &JsonText| render(sql, &[Lit::Json(claims), Lit::Uuid(user)]);
        Ok(UserStatements {
            user,
            update_floor: with_id(sql::BENCH_UPDATE_FLOOR),
            call: with_id(sql::RACE_CALL_FUNCTION),
            naive_read_usage: with_id(sql::NAIVE_READ_USAGE),
            naive_read_clips: with_id(sql::NAIVE_READ_CLIPS),
            insert_plain: with_id(&self.insert_plain),
            insert_trigger: with_id(&self.insert_trigger),
            rpc_floor: with_claims(sql::BENCH_RPC_FLOOR, &signed_in),
            rpc_service_role: with_claims(&self.rpc_service_role, &service),
            rpc_authenticated: with_claims(&self.rpc_authenticated, &signed_in),
        })
    }
}

/// A fixed instant for the claims' iat/exp: they are only read as text.
const CLAIMS_IAT: i64 = 1_767_225_600;

/// The payload of Supabase's service key, as PostgREST sets it.
fn service_role_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "supabase",
        "ref": "quotabenchprojectref",
        "role": "service_role",
        "iat": CLAIMS_IAT,
        "exp": CLAIMS_IAT + 10 * 365 * 86_400,
    })
}

/// A signed-in user's access-token payload as Supabase Auth issues it
/// (~600 bytes), with `sub` the scratch user: what PostgREST parses on
/// every request of that user.
pub fn authenticated_claims(user: Uuid) -> serde_json::Value {
    let email = format!("quota-scratch-{}@example.invalid", user.simple());
    serde_json::json!({
        "aud": "authenticated",
        "exp": CLAIMS_IAT + 3600,
        "iat": CLAIMS_IAT,
        "iss": "https://quotabenchprojectref.supabase.co/auth/v1",
        "sub": user.to_string(),
        "email": email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {
            "email": email,
            "email_verified": true,
            "phone_verified": false,
            "sub": user.to_string(),
        },
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": CLAIMS_IAT}],
        "session_id": Uuid::from_u128(0x5e55_1011_0000_4000_8000_0000_0000_0001).to_string(),
        "is_anonymous": false,
    })
}

/// The statement one PostgREST-shaped request sends for `role`
/// (`service_role` or `authenticated`) with `claims`, calling the RPC for
/// `user`: exactly what the bench measures, for tests to replay.
pub fn postgrest_call(role: &str, claims: &serde_json::Value, user: Uuid) -> Result<String> {
    anyhow::ensure!(
        matches!(role, "service_role" | "authenticated"),
        "unknown API role {role}"
    );
    let claims = JsonText::new(claims)?;
    Ok(render(
        &sql::BENCH_RPC_CALL.replace("{role}", role),
        &[Lit::Json(&claims), Lit::Uuid(user)],
    ))
}

struct UserStatements {
    user: Uuid,
    update_floor: String,
    call: String,
    naive_read_usage: String,
    naive_read_clips: String,
    insert_plain: String,
    insert_trigger: String,
    rpc_floor: String,
    rpc_service_role: String,
    rpc_authenticated: String,
}

/// One turn of a scenario on this thread's clients at once: a warm-up,
/// then the measured window. Returns the connections for the next turn.
async fn measure(
    conns: Vec<Session>,
    scenario: Scenario,
    statements: &Arc<Statements>,
    users: &[Uuid],
    window: Window,
    interrupt: &Interrupt,
) -> Result<(Vec<Session>, Vec<u32>)> {
    let warmup = Duration::from_secs_f64(window.warmup);
    let window = Duration::from_secs_f64(window.seconds);
    let started = Instant::now();
    let (measure_from, end) = (started + warmup, started + warmup + window);
    let mut tasks = Vec::with_capacity(conns.len());
    for (mut conn, &user) in conns.into_iter().zip(users) {
        let (statements, interrupt) = (statements.for_user(user)?, interrupt.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(16_384);
            loop {
                let t0 = Instant::now();
                if t0 >= end || interrupt.is_set() {
                    break;
                }
                if let Err(e) = operation(&mut conn, scenario, &statements).await {
                    return (conn, Err(e));
                }
                if t0 >= measure_from {
                    latencies.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            (conn, Ok(latencies))
        }));
    }
    let mut back = Vec::with_capacity(tasks.len());
    let mut all: Vec<u32> = Vec::new();
    let mut failure = None;
    for t in tasks {
        let (conn, lat) = t.await.context("a bench client task failed")?;
        back.push(conn);
        match lat {
            Ok(l) => all.extend(l),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure {
        return Err(e.context(format!("bench scenario {} failed", scenario.name())));
    }
    Ok((back, all))
}

async fn operation(conn: &mut Session, scenario: Scenario, st: &UserStatements) -> Result<()> {
    match scenario {
        Scenario::UpdateFloor => {
            conn.simple(&st.update_floor).await?;
        }
        Scenario::Function => {
            let rows = conn.simple(&st.call).await?;
            require_allowed(rows.first())?;
        }
        Scenario::RpcFloor => {
            let rows = conn.simple(&st.rpc_floor).await?;
            // set_config's row, then the UPDATE's: the floor really wrote.
            if rows.len() != 2 {
                anyhow::bail!("the floor's UPDATE did not find the bench user");
            }
        }
        Scenario::RpcServiceRole => {
            let rows = conn.simple(&st.rpc_service_role).await?;
            require_allowed(rows.last())?;
        }
        Scenario::RpcAuthenticated => {
            let rows = conn.simple(&st.rpc_authenticated).await?;
            require_allowed(rows.last())?;
        }
        Scenario::Naive => {
            let rows = conn.simple(&st.naive_read_usage).await?;
            let row = rows.first().context("the bench user disappeared")?;
            let (usage, limit): (i32, Option<i32>) = (row.try_get(0)?, row.try_get(1)?);
            if limit.is_some_and(|l| usage < l) {
                let write = render(
                    sql::NAIVE_WRITE_USAGE,
                    &[Lit::Uuid(st.user), Lit::Int(i64::from(usage) + 1)],
                );
                conn.simple(&write).await?;
            }
        }
        Scenario::InsertFloor => {
            conn.simple(&st.insert_plain).await?;
        }
        Scenario::Trigger => {
            conn.simple(&st.insert_trigger).await?;
        }
        Scenario::NaiveClip => {
            let rows = conn.simple(&st.naive_read_clips).await?;
            let row = rows.first().context("the bench user disappeared")?;
            let clips: i32 = row.try_get(0)?;
            if clips < i32::MAX {
                conn.simple(&st.insert_plain).await?;
                let write = render(
                    sql::NAIVE_WRITE_CLIPS,
                    &[Lit::Uuid(st.user), Lit::Int(i64::from(clips) + 1)],
                );
                conn.simple(&write).await?;
            }
        }
    }
    Ok(())
}

/// The RPC's answer must be an admission: the bench users' limit is
/// unreachable, so anything else means the bench measured a refusal.
fn require_allowed(row: Option<&sqlx::postgres::PgRow>) -> Result<()> {
    let allowed: bool = row
        .map(|r| r.try_get("allowed"))
        .transpose()?
        .unwrap_or(false);
    if !allowed {
        anyhow::bail!("the function refused a bench user with an unreachable limit");
    }
    Ok(())
}

fn summarise(scenario: Scenario, mut latencies: Vec<u32>, seconds: f64) -> ScenarioResult {
    latencies.sort_unstable();
    let ops = latencies.len() as u64;
    ScenarioResult {
        name: scenario.name(),
        what: scenario.describe(),
        ops,
        ops_per_sec: round(ops as f64 / seconds, 1),
        p50_ms: round(percentile(&latencies, 0.50) as f64 / 1000.0, 3),
        p99_ms: round(percentile(&latencies, 0.99) as f64 / 1000.0, 3),
        floor: scenario.floor().map(Scenario::name),
        ratio_to_floor: None,
    }
}

/// Nearest-rank percentile of sorted values; 0 when empty.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn report(
    opts: &BenchOptions,
    mut scenarios: Vec<ScenarioResult>,
    skipped: Vec<Skipped>,
) -> BenchReport {
    let rates: Vec<(&str, f64)> = scenarios.iter().map(|r| (r.name, r.ops_per_sec)).collect();
    for r in &mut scenarios {
        let floor = r
            .floor
            .and_then(|f| rates.iter().find(|(n, _)| *n == f).map(|(_, v)| *v));
        r.ratio_to_floor = match floor {
            Some(y) if y > 0.0 => Some(round(r.ops_per_sec / y, 3)),
            _ => None,
        };
    }
    let rate = |s: Scenario| {
        scenarios
            .iter()
            .find(|r| r.name == s.name())
            .map(|r| r.ops_per_sec)
    };
    let ratio = |a: Scenario, b: Scenario| match (rate(a), rate(b)) {
        (Some(x), Some(y)) if y > 0.0 => Some(round(x / y, 3)),
        _ => None,
    };
    BenchReport {
        clients: opts.clients,
        seconds: opts.seconds,
        warmup: opts.warmup,
        rounds: opts.rounds,
        ratios: Ratios {
            function_vs_update: ratio(Scenario::Function, Scenario::UpdateFloor),
            trigger_vs_insert: ratio(Scenario::Trigger, Scenario::InsertFloor),
            naive_vs_function: ratio(Scenario::Naive, Scenario::Function),
            naive_clip_vs_trigger: ratio(Scenario::NaiveClip, Scenario::Trigger),
            rpc_service_role_vs_floor: ratio(Scenario::RpcServiceRole, Scenario::RpcFloor),
            rpc_authenticated_vs_floor: ratio(Scenario::RpcAuthenticated, Scenario::RpcFloor),
        },
        goals: Goals {
            function_vs_update: GOAL_FUNCTION_VS_UPDATE,
            trigger_vs_insert: GOAL_TRIGGER_VS_INSERT,
        },
        scenarios,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn claims_are_a_realistic_access_token_payload_for_the_user() {
        let user = Uuid::new_v4();
        let claims = authenticated_claims(user);
        assert_eq!(claims["sub"], user.to_string());
        assert_eq!(claims["role"], "authenticated");
        let size = claims.to_string().len();
        assert!((500..=700).contains(&size), "{size} bytes");
        let sql = postgrest_call("authenticated", &claims, user).unwrap();
        assert!(sql.starts_with("-- One request") && sql.contains("'authenticated'"));
        assert!(sql.contains(&format!("increment_usage_if_allowed('{user}'::uuid)")));
        assert!(postgrest_call("postgres", &claims, user).is_err());
    }

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

    #[test]
    fn scratch_names_are_generated_identifiers() {
        let s = Scratch::new();
        assert!(s
            .schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert!(s.sql("CREATE SCHEMA {schema}").ends_with(&s.schema));
    }
}
