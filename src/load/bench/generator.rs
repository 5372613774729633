//! The load generator: a few OS threads, each driving its share of the
//! clients through every turn of the plan, scenario by scenario, in
//! lockstep with the other threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use uuid::Uuid;

use super::summary::summarise;
use super::{BenchOptions, Scenario, ScenarioResult};
use crate::db::{self, Session};
use crate::interrupt::Interrupt;
use crate::load::{connect_all, spawn_each};
use crate::ui::Ui;

/// What a bench sends: each client's statements for its subject, and one
/// operation of a scenario with them. The default bench (scratch users,
/// the seed's statements) and `bench --meter` (a mapped meter's) share
/// everything else: threads, rounds, windows, summaries.
pub(crate) trait Workload: Send + Sync + 'static {
    /// One client's statements, its subject rendered in.
    type Client: Send + 'static;

    fn client(&self, subject: Uuid) -> Result<Self::Client>;

    /// One operation of `scenario`.
    fn operation<'a>(
        conn: &'a mut Session,
        scenario: Scenario,
        client: &'a Self::Client,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'a;
}

/// Runs every turn of every scenario on all clients (one per subject);
/// the latencies of each scenario, summarised.
pub(crate) async fn measure_all<W: Workload>(
    database: &db::Database,
    opts: &BenchOptions,
    scenarios: &[Scenario],
    subjects: &[Uuid],
    statements: Arc<W>,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<Vec<ScenarioResult>> {
    let threads = generator_threads(subjects.len());
    let plan = Arc::new(Plan::new(opts, scenarios));
    let spinner = ui.spinner(&format!(
        "bench: {} scenarios x {} rounds, {} clients",
        plan.scenarios.len(),
        plan.rounds,
        subjects.len()
    ));
    let shares: Vec<Vec<Uuid>> = (0..threads)
        .map(|t| {
            let users = subjects.iter().skip(t).step_by(threads);
            users.copied().collect()
        })
        .collect();
    let turns = plan.rounds as usize * plan.scenarios.len();
    let (database, run_plan, interrupt) = (database.clone(), plan.clone(), interrupt.clone());
    // The threads block; keep the runtime (and its Ctrl-C listener) free.
    // Their runtimes are dropped here too: never inside an async context.
    let finished = tokio::task::spawn_blocking(move || {
        let plan = &run_plan;
        let generators = lockstep(
            threads,
            turns,
            |t| open_generator(&database, &shares[t], &*statements, plan.scenarios.len()),
            |g, n| generator_turn(g, plan, n, &interrupt),
        )?;
        Ok::<_, anyhow::Error>(
            generators
                .into_iter()
                .map(|g| g.latencies)
                .collect::<Vec<_>>(),
        )
    })
    .await
    .context("the load-generator join task failed")?;
    spinner.finish_and_clear();

    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); plan.scenarios.len()];
    for per_thread in finished? {
        for (all, mine) in latencies.iter_mut().zip(per_thread) {
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
/// of skewing their ratio. Turn `n` is round `n / scenarios`, scenario
/// `n % scenarios`.
struct Plan {
    scenarios: Vec<Scenario>,
    rounds: u32,
    slice: f64,
    warmup: f64,
}

impl Plan {
    fn new(opts: &BenchOptions, scenarios: &[Scenario]) -> Self {
        let rounds = opts.rounds.max(1);
        Plan {
            scenarios: scenarios.to_vec(),
            rounds,
            slice: opts.seconds / rounds as f64,
            warmup: opts.warmup,
        }
    }
}

/// Runs `threads` OS threads in lockstep: each calls `open` once (with its
/// index), then `turn` for turns `0..turns`, all threads starting each turn
/// together at a barrier. An error or a panic of one thread, while opening
/// or in a turn, becomes its error and stops the others' work, but every
/// thread keeps meeting the barrier, so nobody waits forever. Returns each
/// thread's state, or the first error.
fn lockstep<C: Send>(
    threads: usize,
    turns: usize,
    open: impl Fn(usize) -> Result<C> + Sync,
    turn: impl Fn(&mut C, usize) -> Result<()> + Sync,
) -> Result<Vec<C>> {
    let barrier = Barrier::new(threads);
    let abort = AtomicBool::new(false);
    let body = |t: usize| -> Result<C> {
        let fail = |e: anyhow::Error, error: &mut Option<anyhow::Error>| {
            abort.store(true, Ordering::Relaxed);
            error.get_or_insert(e);
        };
        let mut error = None;
        let mut state = caught(|| open(t)).map_err(|e| fail(e, &mut error)).ok();
        for n in 0..turns {
            barrier.wait();
            let Some(s) = state.as_mut().filter(|_| !abort.load(Ordering::Relaxed)) else {
                continue;
            };
            if let Err(e) = caught(|| turn(s, n)) {
                fail(e, &mut error);
            }
        }
        match (error, state) {
            (None, Some(s)) => Ok(s),
            (Some(e), _) => Err(e),
            (None, None) => unreachable!("a thread without state has an error"),
        }
    };
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads {
            let body = &body;
            let handle = std::thread::Builder::new()
                .name(format!("quota-bench-{t}"))
                .spawn_scoped(scope, move || body(t))
                .context("could not start a load-generator thread")?;
            handles.push(handle);
        }
        let joined: Vec<Result<C>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| Err(panicked(p.as_ref()))))
            .collect();
        joined.into_iter().collect()
    })
}

/// `f`'s result, or its panic as an error.
fn caught<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(panicked(p.as_ref())))
}

/// A panic's payload as an error.
fn panicked(payload: &(dyn std::any::Any + Send)) -> anyhow::Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    anyhow::anyhow!("a load-generator thread panicked: {message}")
}

/// One generator thread's state: its clients, the latencies it measured
/// per scenario, and its runtime (dropped last, after the clients).
struct Generator<W: Workload> {
    clients: Vec<Client<W>>,
    latencies: Vec<Vec<u32>>,
    runtime: tokio::runtime::Runtime,
}

/// A generator thread's runtime and connections.
fn open_generator<W: Workload>(
    database: &db::Database,
    users: &[Uuid],
    statements: &W,
    scenarios: usize,
) -> Result<Generator<W>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start a load-generator runtime")?;
    let clients = runtime.block_on(open_clients(database, users, statements))?;
    Ok(Generator {
        runtime,
        clients,
        latencies: vec![Vec::new(); scenarios],
    })
}

/// Turn `n` of the plan on one generator thread's clients.
fn generator_turn<W: Workload>(
    g: &mut Generator<W>,
    plan: &Plan,
    n: usize,
    interrupt: &Interrupt,
) -> Result<()> {
    if interrupt.is_set() {
        return Ok(());
    }
    let (round, i) = (n / plan.scenarios.len(), n % plan.scenarios.len());
    // Plans are cached per connection: one warm-up per scenario is enough.
    let window = Window {
        warmup: if round == 0 { plan.warmup } else { 0.0 },
        seconds: plan.slice,
    };
    let clients = std::mem::take(&mut g.clients);
    let (back, lat) =
        g.runtime
            .block_on(measure::<W>(clients, plan.scenarios[i], window, interrupt))?;
    g.clients = back;
    g.latencies[i].extend(lat);
    Ok(())
}

/// This thread's clients: a connection each, with its user's statements.
async fn open_clients<W: Workload>(
    database: &db::Database,
    users: &[Uuid],
    statements: &W,
) -> Result<Vec<Client<W>>> {
    let conns = connect_all(database, users.len()).await?;
    conns
        .into_iter()
        .zip(users)
        .map(|(conn, &user)| Ok((conn, statements.client(user)?)))
        .collect()
}

/// Warm-up and measured seconds of one turn of a scenario.
#[derive(Clone, Copy)]
struct Window {
    warmup: f64,
    seconds: f64,
}

/// A client: its connection, and its statements with its user rendered in.
type Client<W> = (Session, <W as Workload>::Client);

/// One turn of a scenario on this thread's clients at once: a warm-up,
/// then the measured window. Returns the clients for the next turn.
async fn measure<W: Workload>(
    clients: Vec<Client<W>>,
    scenario: Scenario,
    window: Window,
    interrupt: &Interrupt,
) -> Result<(Vec<Client<W>>, Vec<u32>)> {
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
                if let Err(e) = W::operation(&mut conn, scenario, &statements).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Three threads in lockstep, one of which panics (while opening or in
    /// its second turn): the run ends with an error naming the panic, and
    /// does not hang at the barrier.
    fn run_with_a_panic(in_open: bool) -> Result<Vec<usize>> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let run = lockstep(
                3,
                5,
                |t| {
                    assert!(!(in_open && t == 1), "opening broke");
                    Ok(t)
                },
                |t, n| {
                    assert!(in_open || (*t, n) != (1, 1), "turn broke");
                    Ok(())
                },
            );
            let _ = tx.send(run);
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("the run hangs after a thread panicked")
    }

    #[test]
    fn a_panicking_thread_ends_the_run_with_its_panic() {
        let e = run_with_a_panic(true).unwrap_err();
        assert!(
            format!("{e:#}").contains("panicked: opening broke"),
            "{e:#}"
        );
        let e = run_with_a_panic(false).unwrap_err();
        assert!(format!("{e:#}").contains("panicked: turn broke"), "{e:#}");
    }

    #[test]
    fn an_error_stops_the_others_and_comes_back() {
        let run = lockstep(3, 4, Ok, |t, n| match (*t, n) {
            (2, 0) => Err(anyhow::anyhow!("turn failed")),
            _ => Ok(()),
        });
        assert_eq!(format!("{:#}", run.unwrap_err()), "turn failed");
        let states = lockstep(
            3,
            4,
            |t| Ok(vec![t]),
            |s, n| {
                s.push(n);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            states,
            vec![
                vec![0, 0, 1, 2, 3],
                vec![1, 0, 1, 2, 3],
                vec![2, 0, 1, 2, 3]
            ]
        );
    }
}
