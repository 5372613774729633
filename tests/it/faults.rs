//! Real faults, real PostgreSQL: backends terminated and the server crashed
//! under load, a busy `clips` table during apply, a migration killed
//! mid-way, concurrent operators. What must hold afterwards is counted.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

use crate::common::*;

// ---- exact counters through faults -----------------------------------------

/// What one kind of worker saw.
#[derive(Default)]
struct Tally {
    /// The statement returned: the admission is committed.
    acked: AtomicU64,
    /// Refused by the limit (the statement completed).
    refused: AtomicU64,
    /// The connection failed after the call was sent: committed or not,
    /// nobody can tell.
    in_doubt: AtomicU64,
    /// Connection attempts that failed (server down).
    connect_failures: AtomicU64,
}

#[derive(Clone, Copy)]
enum Work {
    Rpc,
    Clip,
}

/// One call: `Some(true)` admitted, `Some(false)` refused, `None` in doubt.
async fn attempt(conn: &mut PgConnection, work: Work, user: Uuid) -> Option<bool> {
    match work {
        Work::Rpc => {
            let r: Result<bool, _> =
                sqlx::query_scalar("SELECT allowed FROM public.increment_usage_if_allowed($1)")
                    .bind(user)
                    .fetch_one(&mut *conn)
                    .await;
            r.ok()
        }
        Work::Clip => {
            let r = sqlx::query("INSERT INTO public.clips (user_id, url) VALUES ($1, 'fault')")
                .bind(user)
                .execute(&mut *conn)
                .await;
            match r {
                Ok(_) => Some(true),
                Err(e) if code(&e) == "23514" => Some(false),
                Err(_) => None,
            }
        }
    }
}

/// Calls in a loop until `stop`, reconnecting after every failure.
async fn worker(url: String, work: Work, user: Uuid, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let mut conn = match PgConnection::connect(&url).await {
            Ok(c) => c,
            Err(_) => {
                tally.connect_failures.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            match attempt(&mut conn, work, user).await {
                Some(true) => tally.acked.fetch_add(1, Ordering::Relaxed),
                Some(false) => tally.refused.fetch_add(1, Ordering::Relaxed),
                None => {
                    tally.in_doubt.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            };
            // Paced, so the faults land while admissions are still open.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A small xorshift: no rand crate needed for picking pause lengths.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Terminates a random client backend every 50-200 ms until `stop`;
/// returns how many it terminated. Keeps its own connection (reconnecting
/// only after the crash): a login costs more than a kill.
async fn chaos(url: String, stop: Arc<AtomicBool>) -> u64 {
    let mut seed = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    let mut killed = 0;
    let mut admin: Option<PgConnection> = None;
    while !stop.load(Ordering::Relaxed) {
        let pause = 50 + next_random(&mut seed) % 150;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if admin.is_none() {
            admin = PgConnection::connect(&url).await.ok();
        }
        let Some(conn) = admin.as_mut() else {
            continue;
        };
        let n: Result<i64, _> = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM (
               SELECT pid FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                  AND datname = current_database()
                ORDER BY random() LIMIT 1) AS victims",
        )
        .fetch_one(conn)
        .await;
        match n {
            Ok(n) => killed += n as u64,
            Err(_) => admin = None,
        }
    }
    killed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_stay_exact_through_terminated_backends_and_a_server_crash() {
    const SCRAPE_LIMIT: i32 = 1500;
    const CLIP_LIMIT: i32 = 1500;
    // A cluster of its own: the crash would hit every other test.
    let cluster = Arc::new(tokio::task::spawn_blocking(start_cluster).await.unwrap());
    let url = cluster.url("postgres");
    let mut c = PgConnection::connect(&url).await.unwrap();
    c.execute(sqlx::raw_sql(DEMO_SCHEMA)).await.unwrap();
    assert_success(&quota_with_url(&url, &["migrate", "apply", "-q"]));
    // Limits above what the paced workers (4 x 200/s) can reach before the
    // crash at 1.5 s, so admissions continue across it; a tier of its own.
    c.execute(sqlx::raw_sql(&format!(
        "INSERT INTO public.clip_limits VALUES ('fault', {CLIP_LIMIT})"
    )))
    .await
    .unwrap();
    let rpc_user = add_user(&mut c, 0, Some(SCRAPE_LIMIT), "free").await;
    let clip_user = add_user(&mut c, 0, Some(5), "fault").await;
    drop(c);

    let stop_workers = Arc::new(AtomicBool::new(false));
    let stop_chaos = Arc::new(AtomicBool::new(false));
    let rpc = Arc::new(Tally::default());
    let clips = Arc::new(Tally::default());
    let mut workers = Vec::new();
    for i in 0..8 {
        let (work, user, tally) = if i % 2 == 0 {
            (Work::Rpc, rpc_user, rpc.clone())
        } else {
            (Work::Clip, clip_user, clips.clone())
        };
        workers.push(tokio::spawn(worker(
            url.clone(),
            work,
            user,
            tally,
            stop_workers.clone(),
        )));
    }
    let killer = tokio::spawn(chaos(url.clone(), stop_chaos.clone()));

    // Backends terminated throughout; a crash and restart at 1.5 s.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_crash = (
        rpc.acked.load(Ordering::Relaxed),
        clips.acked.load(Ordering::Relaxed),
    );
    let cl = cluster.clone();
    tokio::task::spawn_blocking(move || {
        cl.crash().expect("crash");
        std::thread::sleep(Duration::from_millis(300));
        cl.restart().expect("restart");
    })
    .await
    .unwrap();
    // Faults go on until both limits have refused for a while (bounded), so
    // the boundary itself is crossed under fire.
    let deadline = Instant::now() + Duration::from_secs(90);
    while (rpc.refused.load(Ordering::Relaxed) < 20 || clips.refused.load(Ordering::Relaxed) < 20)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_chaos.store(true, Ordering::Relaxed);
    let killed = killer.await.unwrap();
    stop_workers.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let mut c = PgConnection::connect(&url).await.unwrap();
    let usage: i32 = sqlx::query_scalar("SELECT usage_this_month FROM public.users WHERE id = $1")
        .bind(rpc_user)
        .fetch_one(&mut c)
        .await
        .unwrap();
    let (clip_rows, clip_counter): (i64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM public.clips WHERE user_id = $1),
                (SELECT clips_this_month FROM public.user_usage WHERE user_id = $1)",
    )
    .bind(clip_user)
    .fetch_one(&mut c)
    .await
    .unwrap();

    let get = |t: &Tally| {
        (
            t.acked.load(Ordering::Relaxed),
            t.refused.load(Ordering::Relaxed),
            t.in_doubt.load(Ordering::Relaxed),
            t.connect_failures.load(Ordering::Relaxed),
        )
    };
    let (r_acked, r_refused, r_doubt, r_down) = get(&rpc);
    let (c_acked, c_refused, c_doubt, c_down) = get(&clips);
    eprintln!(
        "faults: {killed} backends terminated, 1 crash; rpc/clips acked before the crash \
         {before_crash:?}\n\
         rpc: acked {r_acked} refused {r_refused} in doubt {r_doubt} failed connects {r_down} -> usage {usage}\n\
         clips: acked {c_acked} refused {c_refused} in doubt {c_doubt} failed connects {c_down} -> rows {clip_rows} counter {clip_counter}"
    );

    // The faults were real.
    assert!(killed > 0, "no backend was terminated");
    assert!(r_doubt + c_doubt > 0, "no call was cut off mid-way");
    assert!(r_down + c_down > 0, "the crash was never noticed");
    assert!(
        before_crash.0 + before_crash.1 > 0,
        "no load before the crash"
    );
    // The limits were reached, so "never above the limit" was tested.
    assert!(r_refused > 0 && c_refused > 0, "a limit was never reached");

    // Every acknowledged admission survived; nothing beyond the in-doubt ones was added.
    let usage = usage as u64;
    assert!(
        usage >= r_acked,
        "lost acknowledged admissions: {usage} < {r_acked}"
    );
    assert!(usage <= r_acked + r_doubt, "phantom admissions: {usage}");
    assert_eq!(
        usage, SCRAPE_LIMIT as u64,
        "refusals mean the counter stands at the limit"
    );
    if r_doubt == 0 {
        assert_eq!(usage, r_acked);
    }
    // Clip rows and the counter commit in one transaction: equal, always.
    assert_eq!(
        clip_rows, clip_counter as i64,
        "clip rows and counter diverged"
    );
    let rows = clip_rows as u64;
    assert!(
        rows >= c_acked && rows <= c_acked + c_doubt,
        "{rows} vs {c_acked}+{c_doubt}"
    );
    assert_eq!(clip_counter, CLIP_LIMIT);
}

// ---- apply never stalls the application --------------------------------------

/// A demo database at V2 (V3, the trigger on clips, pending) and a session
/// holding an uncommitted insert into clips: the lock V3's CREATE TRIGGER
/// (SHARE ROW EXCLUSIVE) cannot get. Returns the blocker and its pid.
async fn busy_clips_at_v2() -> (TestDb, PgConnection, i32) {
    let db = demo_db().await;
    assert_success(&db.quota(&["migrate", "apply", "--target", "2", "-q"]));
    let (blocker, pid) = hold_clip_insert(&db).await;
    (db, blocker, pid)
}

/// Inserts clips for another user in a loop until `stop`, returning the
/// longest single insert.
fn app_inserts(db: &TestDb, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(Duration, u64)> {
    let url = db.url.clone();
    tokio::spawn(async move {
        let mut c = PgConnection::connect(&url).await.unwrap();
        let (mut longest, mut n) = (Duration::ZERO, 0);
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            sqlx::query("INSERT INTO public.clips (user_id, url) VALUES ($1, 'app')")
                .bind(Uuid::parse_str(PRO_USER).unwrap())
                .execute(&mut c)
                .await
                .unwrap();
            longest = longest.max(t.elapsed());
            n += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (longest, n)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_backs_off_instead_of_stalling_inserts_and_names_the_blocker() {
    let (db, mut blocker, blocker_pid) = busy_clips_at_v2().await;
    let stop = Arc::new(AtomicBool::new(false));
    let app = app_inserts(&db, stop.clone());
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let out = tokio::process::Command::from(quota_cmd(
        &db.url,
        &[
            "migrate",
            "apply",
            "-v",
            "--lock-timeout",
            "300",
            "--retries",
            "2",
        ],
    ))
    .output()
    .await
    .unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (longest, inserts) = app.await.unwrap();
    eprintln!("apply gave up after {took:?}; app: {inserts} inserts, longest {longest:?}");

    // The application waited at most about one lock_timeout, never the whole apply.
    assert!(
        longest < Duration::from_millis(300 + 2000),
        "an application insert waited {longest:?}"
    );
    // ...and did queue behind the DDL, so the bound above was really tested.
    assert!(
        longest >= Duration::from_millis(100),
        "no insert ever waited: {longest:?}"
    );
    assert!(inserts > 10);

    assert_exit(&out, 4);
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: gave up on apply after 3 attempts"),
        "{err}"
    );
    for needle in [
        format!("pid {blocker_pid} "),
        "idle in transaction".to_string(),
        "INSERT INTO public.clips".to_string(),
        "lock_timeout 300ms".to_string(),
    ] {
        assert!(last.contains(&needle), "missing {needle:?} in {last}");
    }
    assert_eq!(err.matches("retrying").count(), 2, "{err}");
    assert!(
        !err.contains(&password_of(&db.url)),
        "password printed: {err}"
    );
    let mut c = db.connect().await;
    assert_eq!(recorded_versions(&mut c).await, vec![1, 2]);
    assert_eq!(
        assert_consistent(&db).await,
        2,
        "nothing of V3 may be installed"
    );

    // The blocker ends: the same command completes.
    blocker.execute("ROLLBACK").await.unwrap();
    assert_success(&db.quota(&[
        "migrate",
        "apply",
        "--lock-timeout",
        "300",
        "--retries",
        "2",
    ]));
    assert_eq!(assert_consistent(&db).await, latest());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_retries_until_the_blocking_transaction_ends() {
    let (db, mut blocker, _) = busy_clips_at_v2().await;
    let mut child = spawn_quota_async(
        &db.url,
        &[
            "migrate",
            "apply",
            "--format",
            "json",
            "--lock-timeout",
            "300",
            "--retries",
            "10",
        ],
    );
    // Release the blocker once apply has timed out and said it will retry.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("apply said nothing for 20s")
        .unwrap()
    {
        let retrying = line.contains("retrying");
        seen.push(line);
        if retrying {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.contains("retrying")), "{seen:?}");
    blocker.execute("COMMIT").await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["database_version"], latest());
    assert!(report["attempts"].as_u64().unwrap() > 1, "{report}");
    assert_eq!(assert_consistent(&db).await, latest());
    // The committed blocker's clip went through before the trigger existed.
    let mut c = db.connect().await;
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM public.clips WHERE url = 'held'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(held, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_on_a_busy_table_gives_up_cleanly_and_stays_applied() {
    let db = installed_db().await;
    // Down to V4, whose revert replaces the trigger on clips (later
    // versions' reverts may not touch clips at all).
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "4", "-q"]));
    let (mut blocker, pid) = hold_clip_insert(&db).await;
    // V5's revert replaces functions only and needs no lock on clips; V4's
    // drops the trigger, so the rollback to V3 waits for the held insert.
    let out = db.quota(&[
        "migrate",
        "rollback",
        "--yes",
        "-q",
        "--target",
        "3",
        "--lock-timeout",
        "200",
        "--retries",
        "1",
    ]);
    assert_refused(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("gave up on rollback after 2 attempts"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {pid} ")), "{err}");
    assert_eq!(assert_consistent(&db).await, 4, "V4 stays applied, whole");
    blocker.execute("COMMIT").await.unwrap();
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "-q"]));
    assert_eq!(assert_consistent(&db).await, 3);
}

// ---- atomic versions ----------------------------------------------------------

/// Waits until a quota session of `db` is waiting for a table lock; its pid.
async fn quota_waiting_for_lock(db: &TestDb) -> i32 {
    let mut c = db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'quota'
                AND wait_event_type = 'Lock'",
        )
        .fetch_optional(&mut c)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "apply never reached V3's lock wait"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ends the quota session of `db` that waits for a table lock, as
/// `pg_terminate_backend` (an operator, a crash of the connection) would.
async fn terminate_quota_waiting_for_lock(db: &TestDb) {
    let pid = quota_waiting_for_lock(db).await;
    let mut c = db.connect().await;
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(terminated);
}

async fn backend_alive(db: &TestDb, pid: i32) -> bool {
    let mut c = db.connect().await;
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)")
        .bind(pid)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

/// `migrate status` through the binary: the states of V1..V3.
fn states(db: &TestDb) -> Vec<String> {
    let out = db.quota(&["migrate", "status", "--format", "json"]);
    assert_success(&out);
    json(&out)["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_killed_mid_version_leaves_the_previous_version() {
    let (db, mut blocker, _) = busy_clips_at_v2().await;
    let mut child = quota_cmd(
        &db.url,
        &[
            "migrate",
            "apply",
            "-q",
            "--lock-timeout",
            "600000",
            "--retries",
            "0",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // V3 is half done: its table and function exist inside the open
    // transaction, CREATE TRIGGER waits. Now the process dies (SIGKILL).
    let orphan = quota_waiting_for_lock(&db).await;
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(states(&db), states_up_to(2));
    assert_eq!(assert_consistent(&db).await, 2);

    // The orphaned backend cannot commit without its client: once the
    // blocker ends it finishes the statement, finds the client gone, aborts.
    blocker.execute("ROLLBACK").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while backend_alive(&db, orphan).await {
        assert!(
            Instant::now() < deadline,
            "orphaned backend {orphan} lingers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(states(&db), states_up_to(2));
    assert_eq!(assert_consistent(&db).await, 2);

    // Re-running apply completes it.
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_eq!(states(&db), states_up_to(latest()));
    assert_eq!(assert_consistent(&db).await, latest());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_whose_session_is_terminated_reports_it_and_keeps_the_previous_version() {
    let (db, mut blocker, _) = busy_clips_at_v2().await;
    let child = spawn_quota_async(
        &db.url,
        &[
            "migrate",
            "apply",
            "--lock-timeout",
            "600000",
            "--retries",
            "0",
        ],
    );
    terminate_quota_waiting_for_lock(&db).await;
    let out = child.wait_with_output().await.unwrap();
    assert_refused(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("connection to the server was lost while applying V3__clip_limit"),
        "{err}"
    );
    assert!(err.contains("quota migrate status"), "{err}");
    assert!(!err.contains(&password_of(&db.url)));

    assert_eq!(states(&db), states_up_to(2));
    assert_eq!(assert_consistent(&db).await, 2);
    blocker.execute("ROLLBACK").await.unwrap();
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_eq!(assert_consistent(&db).await, latest());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_through_a_server_crash_keeps_the_previous_version() {
    // A cluster of its own: the crash would hit every other test.
    let cluster = Arc::new(tokio::task::spawn_blocking(start_cluster).await.unwrap());
    let db = TestDb::new("postgres", &cluster.url("postgres"));
    db.exec(DEMO_SCHEMA).await;
    assert_success(&db.quota(&["migrate", "apply", "--target", "2", "-q"]));
    let (blocker, _) = hold_clip_insert(&db).await;
    let child = spawn_quota_async(
        &db.url,
        &[
            "migrate",
            "apply",
            "--lock-timeout",
            "600000",
            "--retries",
            "0",
        ],
    );
    quota_waiting_for_lock(&db).await;
    let cl = cluster.clone();
    tokio::task::spawn_blocking(move || {
        cl.crash().expect("crash");
        cl.restart().expect("restart");
    })
    .await
    .unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert_refused_with(
        &out,
        3,
        "connection to the server was lost while applying V3__clip_limit",
    );
    assert_eq!(states(&db), states_up_to(2));
    assert_eq!(assert_consistent(&db).await, 2);
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_eq!(assert_consistent(&db).await, latest());
    drop(blocker);
}

// ---- concurrent operators -------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appliers_and_rollbacks_serialise_without_errors() {
    let db = demo_db().await;
    let mut c = db.connect().await;
    let rows_before = snapshot(&mut c).await;
    let rollbacks: [&[&str]; 4] = [
        &["migrate", "rollback", "--yes", "--target", "0"],
        &["migrate", "rollback", "--yes", "--target", "1"],
        &["migrate", "rollback", "--yes", "--target", "2"],
        &["migrate", "rollback", "--yes"],
    ];
    for round in 0..3 {
        let mut children = Vec::new();
        for i in 0..4 {
            for args in [&["migrate", "apply"][..], rollbacks[(i + round) % 4]] {
                children.push(spawn_quota_async(&db.url, args));
            }
        }
        for child in children {
            let out = child.wait_with_output().await.unwrap();
            assert_success(&out);
            assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
        }
        let version = assert_consistent(&db).await;
        eprintln!("round {round}: database at V{version}");
    }
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_eq!(assert_consistent(&db).await, latest());
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "0", "-q"]));
    assert_eq!(assert_consistent(&db).await, 0);
    assert_eq!(
        snapshot(&mut c).await,
        rows_before,
        "application rows changed"
    );
}

/// A repair whose session is terminated mid-way exits 3 like apply and
/// rollback (the connection was lost), and leaves the install as it was.
#[tokio::test(flavor = "multi_thread")]
async fn repair_whose_session_is_terminated_reports_a_lost_connection() {
    let db = installed_db().await;
    let (mut blocker, _) = hold_clip_insert(&db).await;
    let child = spawn_quota_async(
        &db.url,
        &[
            "migrate",
            "apply",
            "--repair",
            "--lock-timeout",
            "600000",
            "--retries",
            "0",
        ],
    );
    terminate_quota_waiting_for_lock(&db).await;
    let out = child.wait_with_output().await.unwrap();
    assert_refused(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("connection to the server was lost while repairing"),
        "{err}"
    );
    assert!(!err.contains(&password_of(&db.url)));
    blocker.execute("ROLLBACK").await.unwrap();
    assert_eq!(assert_consistent(&db).await, latest());
    assert_success(&db.quota(&["verify", "-q"]));
}
