//! The load generator: a few OS threads, each driving its share of the
//! clients through every turn of the plan, scenario by scenario, in
//! lockstep with the other threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use uuid::Uuid;

use super::setup::Scratch;
use super::statements::{operation, ClientStatements, Statements};
use super::summary::summarise;
use super::{BenchOptions, Scenario, ScenarioResult};
use crate::db::{self, Session};
use crate::interrupt::Interrupt;
use crate::load::{connect_all, spawn_each};
use crate::ui::Ui;

/// Runs every turn of every scenario on all clients; the latencies of
/// each scenario, summarised.
pub(super) async fn measure_all(
    database: &db::Database,
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
        let (database, plan, statements, interrupt) = (
            database.clone(),
            plan.clone(),
            statements.clone(),
            interrupt.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("quota-bench-{t}"))
            .spawn(move || generator_thread(database, users, plan, statements, interrupt))
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
    database: db::Database,
    users: Vec<Uuid>,
    plan: Arc<Plan>,
    statements: Arc<Statements>,
    interrupt: Interrupt,
) -> Result<Vec<Vec<u32>>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a load-generator runtime");
    let opened = match &runtime {
        Ok(rt) => rt.block_on(open_clients(&database, &users, &statements)),
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    let (mut clients, mut error) = match opened {
        Ok(clients) => (clients, None),
        Err(e) => {
            plan.abort.store(true, std::sync::atomic::Ordering::Relaxed);
            (Vec::new(), Some(e))
        }
    };
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
            // A panic in a turn must not leave the other threads waiting
            // at the barrier forever: it becomes this thread's error, and
            // the thread keeps meeting the barrier like an aborted one.
            let turn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rt.block_on(measure(
                    std::mem::take(&mut clients),
                    scenario,
                    window,
                    &interrupt,
                ))
            }))
            .unwrap_or_else(|_| Err(anyhow::anyhow!("a load-generator thread panicked")));
            match turn {
                Ok((back, lat)) => {
                    clients = back;
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

/// This thread's clients: a connection each, with its user's statements.
async fn open_clients(
    database: &db::Database,
    users: &[Uuid],
    statements: &Statements,
) -> Result<Vec<Client>> {
    let conns = connect_all(database, users.len()).await?;
    conns
        .into_iter()
        .zip(users)
        .map(|(conn, &user)| Ok((conn, statements.for_user(user)?)))
        .collect()
}

/// Warm-up and measured seconds of one turn of a scenario.
#[derive(Clone, Copy)]
struct Window {
    warmup: f64,
    seconds: f64,
}

/// A client: its connection, and its statements with its user rendered in.
type Client = (Session, ClientStatements);

/// One turn of a scenario on this thread's clients at once: a warm-up,
/// then the measured window. Returns the clients for the next turn.
async fn measure(
    clients: Vec<Client>,
    scenario: Scenario,
    window: Window,
    interrupt: &Interrupt,
) -> Result<(Vec<Client>, Vec<u32>)> {
    let warmup = Duration::from_secs_f64(window.warmup);
    let window = Duration::from_secs_f64(window.seconds);
    let started = Instant::now();
    let (measure_from, end) = (started + warmup, started + warmup + window);
    let turns = spawn_each(clients, |_, (mut conn, statements)| {
        let interrupt = interrupt.clone();
        async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(16_384);
            loop {
                let t0 = Instant::now();
                if t0 >= end || interrupt.is_set() {
                    break;
                }
                if let Err(e) = operation(&mut conn, scenario, &statements).await {
                    return ((conn, statements), Err(e));
                }
                if t0 >= measure_from {
                    latencies.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            ((conn, statements), Ok(latencies))
        }
    })
    .await;
    let mut back = Vec::with_capacity(turns.len());
    let mut all: Vec<u32> = Vec::new();
    let mut failure = None;
    for t in turns {
        let (client, lat) = t.context("a bench client task failed")?;
        back.push(client);
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
