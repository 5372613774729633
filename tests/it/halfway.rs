//! Half-way operations on a live database, each with a real fault: a
//! take-back whose COMMIT acknowledgement is lost, application updates
//! during a race, a snapshot held through a race, a clean-up blocked by an
//! application's row lock (with a second Ctrl-C, and without), Ctrl-C to
//! the whole process group, and errors that must not become other errors.

use std::os::unix::process::CommandExt;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

use crate::common::*;

/// A user's rows as text: the byte-for-byte view of what a race may touch.
async fn rows_of(c: &mut PgConnection, user: Uuid) -> (String, Option<String>, Vec<String>) {
    let u: String = sqlx::query_scalar("SELECT t::text FROM public.users AS t WHERE id = $1")
        .bind(user)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    let uu: Option<String> =
        sqlx::query_scalar("SELECT t::text FROM public.user_usage AS t WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&mut *c)
            .await
            .unwrap();
    let clips: Vec<String> =
        sqlx::query_scalar("SELECT t::text FROM public.clips AS t WHERE user_id = $1 ORDER BY id")
            .bind(user)
            .fetch_all(&mut *c)
            .await
            .unwrap();
    (u, uu, clips)
}

async fn scalar_i64(c: &mut PgConnection, sql: &str, user: Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(c)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
}

async fn usage(c: &mut PgConnection, user: Uuid) -> i64 {
    scalar_i64(
        c,
        "SELECT usage_this_month::bigint FROM public.users WHERE id = $1",
        user,
    )
    .await
}

async fn clip_count(c: &mut PgConnection, user: Uuid) -> i64 {
    scalar_i64(
        c,
        "SELECT count(*) FROM public.clips WHERE user_id = $1",
        user,
    )
    .await
}

/// A user on a tier with room for any number of clips.
async fn roomy_clip_user(db: &TestDb, c: &mut PgConnection) -> Uuid {
    db.exec("INSERT INTO public.clip_limits (tier, monthly_limit) VALUES ('roomy', 100000000)")
        .await;
    add_user(c, 0, Some(1000), "roomy").await
}

/// `quota` in a process group of its own, as a shell runs a job.
fn spawn_in_own_group(url: &str, args: &[&str]) -> Child {
    quota_cmd(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// Ctrl-C at a terminal: SIGINT to every process of `child`'s group.
fn sigint_group(child: &Child) {
    let pgid = format!("-{}", child.id());
    let kill = std::process::Command::new("kill")
        .args(["-INT", "--", &pgid])
        .status()
        .unwrap();
    assert!(kill.success());
}

fn sigint(child: &Child) {
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

async fn wait_output(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

/// The one transaction of undo statements an error line carries.
#[track_caller]
fn undo_sql(out: &Output) -> String {
    let err = stderr(out);
    let start = err
        .find("BEGIN;")
        .unwrap_or_else(|| panic!("no BEGIN: {err}"));
    let end = err[start..].find("COMMIT;").expect("no COMMIT") + start + "COMMIT;".len();
    err[start..end].to_string()
}

// ---- 9: the take-back's COMMIT acknowledgement is lost ------------------------------------------

/// The protocol message COMMIT is sent as: a simple Query, "COMMIT".
const COMMIT_MESSAGE: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";

/// A TCP proxy to the test server that, once, cuts the connection right
/// after forwarding a COMMIT sent on a connection that earlier sent
/// `marker`: the server commits, the client never hears so.
async fn ack_dropping_proxy(upstream: String, marker: &'static [u8]) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let fired = Arc::new(AtomicBool::new(false));
    let fired_out = fired.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let fired = fired.clone();
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let cut = Arc::new(AtomicBool::new(false));
                let cut_up = cut.clone();
                let up = tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut armed = false;
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        seen.extend_from_slice(chunk);
                        if !armed && seen.windows(marker.len()).any(|w| w == marker) {
                            armed = true;
                        }
                        if seen.len() > 1 << 20 {
                            seen.drain(..seen.len() - 4096);
                        }
                        if armed
                            && chunk
                                .windows(COMMIT_MESSAGE.len())
                                .any(|w| w == COMMIT_MESSAGE)
                            && !fired.swap(true, Ordering::SeqCst)
                        {
                            cut_up.store(true, Ordering::SeqCst);
                        }
                        if sw.write_all(chunk).await.is_err() {
                            return;
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if cut.load(Ordering::SeqCst) {
                        // The server's answer to COMMIT: never delivered.
                        break;
                    }
                    if cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                drop(cw);
                let _ = tokio::time::timeout(Duration::from_secs(30), up).await;
            });
        }
    });
    (port, fired_out)
}

/// The take-back commits on the server, the connection breaks before the
/// answer arrives, the clean-up retries on a fresh connection: it asks the
/// server whether the first attempt committed and subtracts nothing more.
/// (It used to subtract again: free quota for a real customer.)
#[tokio::test]
async fn a_take_back_whose_commit_answer_is_lost_subtracts_once() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 100, Some(120), "free").await;
    let before = rows_of(&mut c, user).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let (port, fired) = ack_dropping_proxy(upstream, b"GREATEST(u.usage_this_month").await;
    url.set_port(Some(port)).unwrap();
    url.set_query(Some("sslmode=disable"));
    let url = url.to_string();
    let out = tokio::task::spawn_blocking(move || {
        quota_with_url(
            &url,
            &[
                "race",
                "--user",
                &user.to_string(),
                "-c",
                "4",
                "-n",
                "40",
                "--format",
                "json",
            ],
        )
    })
    .await
    .unwrap();
    assert!(fired.load(Ordering::SeqCst), "the proxy never cut a COMMIT");
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["admitted"], 20, "{r}");
    assert_eq!(r["taken_back"]["admissions"], 20, "{r}");
    assert_eq!(usage(&mut c, user).await, 100, "subtracted exactly once");
    assert_eq!(rows_of(&mut c, user).await, before);
}

// ---- 10: application updates during a race --------------------------------------------------------

/// An AFTER INSERT trigger fills every new clip's url (a title), and a
/// worker keeps touching the user's clips during the race: every race clip
/// is found again (by primary key) and deleted, the application's own clips
/// and counter stay exactly as they were. (288 of 300 race clips used to
/// stay behind, found by (ctid, xmin), with the counter lowered anyway.)
#[tokio::test]
async fn application_updates_during_a_trigger_race_leave_no_race_clip_behind() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = roomy_clip_user(&db, &mut c).await;
    // The application's own clips, counted by the enforcement.
    for _ in 0..3 {
        sqlx::query("INSERT INTO public.clips (user_id, url) VALUES ($1, 'mine')")
            .bind(user)
            .execute(&mut c)
            .await
            .unwrap();
    }
    db.exec(
        "CREATE FUNCTION public.title_clip() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN UPDATE public.clips SET url = 'title ' || NEW.id WHERE id = NEW.id;
                    RETURN NULL; END $$;
         CREATE TRIGGER clips_title AFTER INSERT ON public.clips
           FOR EACH ROW EXECUTE FUNCTION public.title_clip();",
    )
    .await;
    let before = rows_of(&mut c, user).await;
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (url, stop) = (db.url.clone(), stop.clone());
        tokio::spawn(async move {
            let mut w = PgConnection::connect(&url).await.unwrap();
            let mut touched = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = sqlx::query(
                    "UPDATE public.clips SET url = url WHERE user_id = $1 AND url <> 'mine'",
                )
                .bind(user)
                .execute(&mut w)
                .await;
                // Updating the user's clips in scan order while quota deletes
                // its own in key order may deadlock; an application retries.
                match r {
                    Ok(r) => touched += r.rows_affected(),
                    Err(e) if crate::common::code(&e) == "40P01" => continue,
                    Err(e) => panic!("{e}"),
                }
            }
            touched
        })
    };
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        quota_with_url(
            &url,
            &[
                "race",
                "--target",
                "trigger",
                "--user",
                &user.to_string(),
                "-c",
                "4",
                "-n",
                "300",
                "--format",
                "json",
            ],
        )
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    let touched = worker.await.unwrap();
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["admitted"], 300, "{r}");
    assert_eq!(r["taken_back"]["admissions"], 300, "{r}");
    assert_eq!(r["taken_back"]["clips_inserted"], 300, "{r}");
    assert_eq!(r["taken_back"]["clips_deleted"], 300, "{r}");
    assert!(touched > 0, "the worker touched race clips during the race");
    assert_eq!(
        rows_of(&mut c, user).await,
        before,
        "no race clip left behind"
    );
}

/// Race clips the application re-keys cannot be found again: the take-back
/// says how many it found, and the verdict is not ok (exit 1).
#[tokio::test]
async fn race_clips_the_application_rekeys_fail_the_race_with_the_counts() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = roomy_clip_user(&db, &mut c).await;
    db.exec(
        "CREATE FUNCTION public.rekey_clip() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN UPDATE public.clips SET id = DEFAULT WHERE id = NEW.id;
                    RETURN NULL; END $$;
         CREATE TRIGGER clips_rekey AFTER INSERT ON public.clips
           FOR EACH ROW EXECUTE FUNCTION public.rekey_clip();",
    )
    .await;
    let out = db.quota(&[
        "race",
        "--target",
        "trigger",
        "--user",
        &user.to_string(),
        "-c",
        "2",
        "-n",
        "10",
        "--format",
        "json",
    ]);
    assert_exit(&out, 1);
    let r = json(&out);
    assert_eq!(r["taken_back"]["clips_inserted"], 10, "{r}");
    assert_eq!(r["taken_back"]["clips_deleted"], 0, "{r}");
    assert!(
        stderr(&out).contains("found 0 of the 10 clips the race inserted"),
        "{}",
        stderr(&out)
    );
    let table = db.quota(&[
        "race",
        "--target",
        "trigger",
        "--user",
        &user.to_string(),
        "-c",
        "2",
        "-n",
        "4",
    ]);
    assert_exit(&table, 1);
    assert!(
        stdout(&table).contains("take-back-mismatch"),
        "{}",
        stdout(&table)
    );
}

// ---- 11: no snapshot held through the race ----------------------------------------------------------

/// While a race runs, no quota session sits `idle in transaction` holding
/// a snapshot (backend_xmin) for more than a moment. (The control
/// connection used to keep a REPEATABLE READ transaction open for the whole
/// race: vacuum held back on the hammered row, a pooled connection pinned.)
#[tokio::test]
async fn a_race_holds_no_snapshot_open_while_it_runs() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(i32::MAX), "free").await;
    let before = rows_of(&mut c, user).await;
    let child = spawn_quota(
        &db.url,
        &[
            "race",
            "--user",
            &user.to_string(),
            "-c",
            "2",
            "-n",
            "1000000",
        ],
    );
    wait_until_async(Duration::from_secs(60), "race never started", async || {
        usage(&mut c, user).await > 50
    })
    .await;
    // Watch for 4 s of racing: a transaction left open since the race
    // began would be idle in transaction for longer than 2 s.
    let mut polls = 0;
    for _ in 0..40 {
        let held: Vec<(i32, String)> = sqlx::query_as(
            "SELECT pid, state FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'quota'
                AND state LIKE 'idle in transaction%' AND backend_xmin IS NOT NULL
                AND now() - state_change > interval '2 seconds'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert!(held.is_empty(), "quota holds a snapshot: {held:?}");
        polls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(polls, 40);
    assert!(usage(&mut c, user).await > 50);
    let out = interrupt_async(child).await;
    assert_exit_with(&out, 130, "taken back");
    assert_eq!(rows_of(&mut c, user).await, before);
}

// ---- 12: a clean-up blocked by an application's row lock ------------------------------------------

/// Starts a trigger race on a roomy real user, then (as the application)
/// locks one of the race's clips in an open transaction and sends Ctrl-C:
/// the take-back blocks on that row. Returns the race, the lock holder and
/// the user's rows before the race.
async fn clean_up_blocked_by_an_app_lock(
    db: &TestDb,
    c: &mut PgConnection,
) -> (
    Child,
    PgConnection,
    Uuid,
    (String, Option<String>, Vec<String>),
) {
    let user = roomy_clip_user(db, c).await;
    let before = rows_of(c, user).await;
    let child = spawn_quota(
        &db.url,
        &[
            "race",
            "--target",
            "trigger",
            "--user",
            &user.to_string(),
            "-c",
            "2",
            "-n",
            "1000000",
        ],
    );
    wait_until_async(Duration::from_secs(60), "race never started", async || {
        clip_count(c, user).await > 20
    })
    .await;
    let mut app = db.connect().await;
    app.execute("BEGIN").await.unwrap();
    sqlx::query("SELECT id FROM public.clips WHERE user_id = $1 ORDER BY id LIMIT 1 FOR UPDATE")
        .bind(user)
        .fetch_one(&mut app)
        .await
        .unwrap();
    sigint(&child);
    // The take-back's DELETE waits (race inserts also wait on each other's
    // counter row lock: those do not count).
    wait_until_async(
        Duration::from_secs(60),
        "the clean-up never waited for the application's lock",
        async || {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND application_name = 'quota'
                    AND wait_event_type = 'Lock'
                    AND query LIKE '%DELETE FROM public.clips AS c%'",
            )
            .fetch_one(&mut *c)
            .await
            .unwrap();
            waiting > 0
        },
    )
    .await;
    (child, app, user, before)
}

/// Ends the application's transaction, waits for quota's abandoned
/// backends to go, then runs the statements quota printed: the user's rows
/// are back where they were.
async fn undo_by_hand(db: &TestDb, mut app: PgConnection, sql: &str) {
    app.execute("ROLLBACK").await.unwrap();
    let mut c = db.connect().await;
    wait_until_async(
        Duration::from_secs(60),
        "quota's backends linger",
        async || {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'quota'",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            n == 0
        },
    )
    .await;
    c.execute(sqlx::raw_sql(sql))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

/// The clean-up waits on a row an idle-in-transaction application session
/// holds; a second Ctrl-C exits at once (130, not the lock timeout's exit 6)
/// with the exact statements that finish the job, which do. (Later Ctrl-Cs
/// used to be swallowed while the clean-up hung without a lock timeout.)
#[tokio::test]
async fn a_second_ctrl_c_abandons_a_blocked_clean_up_with_the_undo_statements() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let (child, app, user, before) = clean_up_blocked_by_an_app_lock(&db, &mut c).await;
    let second = std::time::Instant::now();
    sigint(&child);
    let out = wait_output(child).await;
    let took = second.elapsed();
    eprintln!("measured: exit {took:?} after the second Ctrl-C");
    assert_refused_with(&out, 130, "interrupted again: the clean-up was abandoned");
    // Promptly: well within the clean-up's 5 s lock timeout (generous for
    // a loaded 2-core machine), not when the timeout would have ended it.
    assert!(
        took < Duration::from_secs(3),
        "the exit came {took:?} after the second Ctrl-C, not promptly"
    );
    let sql = undo_sql(&out);
    eprintln!("measured: {}", stderr(&out).trim());
    assert!(sql.contains("DELETE FROM public.clips AS c"), "{sql}");
    assert!(
        sql.contains("UPDATE public.user_usage SET clips_this_month"),
        "{sql}"
    );
    undo_by_hand(&db, app, &sql).await;
    assert_eq!(rows_of(&mut c, user).await, before);
}

/// With no second Ctrl-C, the clean-up gives up at its lock timeout (on the
/// control connection, then on a fresh one): exit 6, "restore", with the
/// same statements. (Exit 6 was documented and never asserted.)
#[tokio::test]
async fn a_clean_up_blocked_past_its_lock_timeout_exits_6_with_the_undo_statements() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let (child, app, user, before) = clean_up_blocked_by_an_app_lock(&db, &mut c).await;
    let blocked = std::time::Instant::now();
    let out = wait_output(child).await;
    eprintln!(
        "measured: exit 6 {:?} after the clean-up blocked",
        blocked.elapsed()
    );
    assert_refused_with(&out, 6, "could not take back what the race admitted");
    assert!(stderr(&out).contains("lock timeout"), "{}", stderr(&out));
    let sql = undo_sql(&out);
    undo_by_hand(&db, app, &sql).await;
    assert_eq!(rows_of(&mut c, user).await, before);
}

// ---- 13: Ctrl-C to the whole process group ---------------------------------------------------------

#[tokio::test]
async fn ctrl_c_to_the_process_group_stops_a_race_with_130_and_takes_back() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(i32::MAX), "free").await;
    let before = rows_of(&mut c, user).await;
    let child = spawn_in_own_group(
        &db.url,
        &[
            "race",
            "--user",
            &user.to_string(),
            "-c",
            "2",
            "-n",
            "1000000",
        ],
    );
    wait_until_async(Duration::from_secs(60), "race never started", async || {
        usage(&mut c, user).await > 20
    })
    .await;
    sigint_group(&child);
    let out = wait_output(child).await;
    assert_exit_with(&out, 130, "taken back");
    assert_eq!(rows_of(&mut c, user).await, before);
}

#[tokio::test]
async fn ctrl_c_to_the_process_group_stops_a_bench_with_130() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let child = spawn_in_own_group(&db.url, &["bench", "--clients", "2", "--seconds", "60"]);
    wait_until_async(Duration::from_secs(60), "bench never started", async || {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM public.users WHERE email LIKE 'quota-scratch-%'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        n == 2
    })
    .await;
    sigint_group(&child);
    let out = wait_output(child).await;
    assert_exit_with(&out, 130, "interrupted");
    assert_eq!(snapshot(&mut c).await, before);
}

/// `initdb` and `pg_ctl` run in their own group: Ctrl-C at the terminal
/// reaches quota only, which tears down and exits 130. (They used to be
/// killed too, and the sandbox exited 5.)
#[test]
fn ctrl_c_to_the_process_group_stops_a_sandbox_with_130() {
    let tmp = crate::sandbox::private_tmp();
    let child = crate::sandbox::sandbox_cmd(&[], &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    // Interrupt while initdb (or pg_ctl) runs as quota's child.
    let mut group = None;
    wait_until(Duration::from_secs(60), "initdb never ran", || {
        group = child_group(child.id(), &["initdb", "pg_ctl"]);
        group.is_some()
    });
    assert_ne!(
        group,
        Some(child.id()),
        "initdb/pg_ctl run in quota's process group, where a terminal's Ctrl-C reaches them"
    );
    sigint_group(&child);
    let out = child.wait_with_output().unwrap();
    assert_exit_with(&out, 130, "interrupted");
    wait_until(Duration::from_secs(30), "the cluster stayed", || {
        crate::sandbox::entries(&tmp) == 0
    });
    let _ = std::fs::remove_dir(&tmp);
}

/// The process group of a child of `pid` whose command name is one of
/// `names`, if one runs.
fn child_group(pid: u32, names: &[&str]) -> Option<u32> {
    let dir = std::fs::read_dir("/proc").ok()?;
    dir.flatten().find_map(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid pgrp ...
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let comm = &stat[open + 1..close];
        let mut rest = stat[close + 1..].split_whitespace().skip(1);
        let ppid: u32 = rest.next()?.parse().ok()?;
        let pgrp: u32 = rest.next()?.parse().ok()?;
        (names.contains(&comm) && ppid == pid).then_some(pgrp)
    })
}

// ---- 14: errors that must not become other errors -------------------------------------------------

/// A role that may not read public.users gets the server's "permission
/// denied" (exit 4), not "no user with id" about a user that exists.
#[tokio::test]
async fn a_race_subject_that_cannot_be_read_is_not_called_missing() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let (role, url) = login_role(&db, "halfway").await;
    let user = add_user(&mut c, 0, Some(10), "free").await;
    db.exec(&format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO {role};"
    ))
    .await;
    let out = quota_with_url(&url, &["race", "--user", &user.to_string()]);
    assert_refused(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("permission denied"), "{err}");
    assert!(!err.contains("no user with id"), "{err}");
    assert!(err.contains(&user.to_string()), "{err}");
}

/// Reads `reader` into `into` until it ends (a thread of its own).
fn collect(mut reader: impl std::io::Read + Send + 'static) -> Arc<std::sync::Mutex<Vec<u8>>> {
    let into = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = into.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    into
}

/// A deploy applies V4 while the rollback of V3 waits at its prompt (on a
/// terminal, through `script`); answering yes must not revert V4, which
/// nobody confirmed: the rollback stops with a warning and the database
/// stays at V4. (The rollback used to revert whatever was newest under the
/// lock.) Concurrent operators still serialise without errors (exit 0).
#[tokio::test]
async fn a_confirmed_rollback_never_reverts_a_version_applied_after_the_prompt() {
    let db = demo_db().await;
    assert_success(&db.quota(&["migrate", "apply", "--target", "3"]));
    let command = format!("{} migrate rollback", env!("CARGO_BIN_EXE_quota"));
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("DATABASE_URL", &db.url)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script (util-linux/bsdutils)");
    let screen = collect(child.stdout.take().unwrap());
    let shown = screen.clone();
    let screen_text = move || String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    let prompt = screen_text.clone();
    tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(60), "no confirmation prompt", || {
            prompt().contains("[y/N]")
        })
    })
    .await
    .unwrap();
    assert!(screen_text().contains("V3__"), "{}", screen_text());
    // The concurrent deploy (of V4 only, so the version it adds is known).
    assert_success(&db.quota(&["migrate", "apply", "--target", "4"]));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"y\n").unwrap();
    }
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let text = screen_text();
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(
        text.contains("V4 was applied after this rollback was confirmed"),
        "{text}"
    );
    let mut c = db.connect().await;
    assert_eq!(recorded_versions(&mut c).await, vec![1, 2, 3, 4]);
}

/// A role that may not read the migration history gets a GRANT naming it,
/// looked up on a transaction that still works (it used to be looked up on
/// the aborted one, and the hint said "the role quota connects as").
#[tokio::test]
async fn the_grant_hint_for_an_unreadable_history_names_the_real_role() {
    let db = installed_db().await;
    let (role, url) = login_role(&db, "halfway").await;
    // It may look into schema quota, not read the history table there.
    db.exec(&format!("GRANT USAGE ON SCHEMA quota TO {role}"))
        .await;
    let out = quota_with_url(&url, &["migrate", "status"]);
    assert_refused(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("permission denied"), "{err}");
    assert!(
        err.contains(&format!("GRANT SELECT ON quota.schema_history TO {role}")),
        "{err}"
    );
    assert!(!err.contains("the role quota connects as"), "{err}");
}
