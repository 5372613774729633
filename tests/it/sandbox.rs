//! `quota sandbox` as a newcomer runs it: no database configured at all.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::common::*;

/// The binary with no DATABASE_URL or PG* variables, temp files under `tmp`.
pub(crate) fn sandbox_cmd(args: &[&str], tmp: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quota"));
    cmd.arg("sandbox")
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGUSER")
        .env_remove("PGPASSWORD")
        .env_remove("PGDATABASE")
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmp)
        .stdin(Stdio::null());
    cmd
}

/// A world-traversable temp dir (the server may run as `postgres`).
pub(crate) fn private_tmp() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("quota-sandbox-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

pub(crate) fn entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn sandbox_runs_to_the_end_with_nothing_configured_and_tears_down() {
    let tmp = private_tmp();
    let out = sandbox_cmd(&["--format", "json"], &tmp).output().unwrap();
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["passed"], true, "{r}");
    assert_eq!(r["verify"]["passed"], true, "{r}");
    assert_eq!(r["database_version"], latest());
    assert_eq!(
        r["migrations_applied"].as_array().unwrap().len(),
        versions().len()
    );
    let races = r["races"].as_array().unwrap();
    let targets: Vec<&str> = races
        .iter()
        .map(|x| x["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["rpc", "trigger"]);
    for race in races {
        assert_eq!(race["over_admitted"], 0, "{race}");
        assert_eq!(race["admitted"], race["expected"], "{race}");
        assert!(race["expected"].as_u64().unwrap() > 0);
    }
    for naive in r["naive_races"].as_array().unwrap() {
        assert!(naive["over_admitted"].as_u64().unwrap() > 0, "{naive}");
    }
    assert!(r["kept"].is_null());
    assert_eq!(entries(&tmp), 0, "the cluster directory was removed");
    let _ = std::fs::remove_dir(&tmp);
}

#[tokio::test]
async fn sandbox_keep_leaves_a_working_database_and_a_working_stop_command() {
    let tmp = private_tmp();
    let out = sandbox_cmd(&["--keep", "--format", "json"], &tmp)
        .output()
        .unwrap();
    assert_success(&out);
    let r = json(&out);
    let url = r["kept"]["url"].as_str().unwrap().to_string();
    let stop = r["kept"]["stop"].as_str().unwrap().to_string();
    {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let installed: bool = sqlx::query_scalar(
            "SELECT to_regprocedure('public.increment_usage_if_allowed(uuid)') IS NOT NULL",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        assert!(installed);
        let users: i64 = sqlx::query_scalar("SELECT count(*) FROM public.users")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(users, 4, "only the demo users: the races cleaned up");
    }
    let stopped = Command::new("sh").args(["-c", &stop]).output().unwrap();
    assert!(stopped.status.success(), "{stop}: {stopped:?}");
    assert!(sqlx::PgConnection::connect(&url).await.is_err());
    assert_eq!(entries(&tmp), 0);
    let _ = std::fs::remove_dir(&tmp);
}

/// DATABASE_URL points at a real demo database quota could install into;
/// the sandbox runs on its own server and leaves that database untouched.
#[tokio::test]
async fn sandbox_ignores_database_url() {
    let db = demo_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let tmp = private_tmp();
    let mut cmd = sandbox_cmd(&["--format", "json"], &tmp);
    cmd.env("DATABASE_URL", &db.url);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_success(&out);
    assert_eq!(recorded_versions(&mut c).await, Vec::<i32>::new());
    let installed: Vec<String> = objects_by_version(&mut c)
        .await
        .into_iter()
        .filter(|(_, _, present)| *present)
        .map(|(_, name, _)| name)
        .collect();
    assert!(
        installed.is_empty(),
        "installed in DATABASE_URL: {installed:?}"
    );
    assert_eq!(
        snapshot(&mut c).await,
        before,
        "DATABASE_URL's rows changed"
    );
    let _ = std::fs::remove_dir(&tmp);
}

#[test]
fn missing_server_binaries_name_what_to_install() {
    let tmp = private_tmp();
    let out = sandbox_cmd(&[], &tmp)
        .env("QUOTA_PG_BINDIR", "/nonexistent/pg/bin")
        .output()
        .unwrap();
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("initdb") && err.contains("QUOTA_PG_BINDIR"),
        "{err}"
    );
    assert_eq!(entries(&tmp), 0);
    let _ = std::fs::remove_dir(&tmp);
}

#[test]
fn ctrl_c_tears_the_sandbox_down() {
    let tmp = private_tmp();
    let child = sandbox_cmd(&[], &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the cluster directory exists, i.e. mid-setup or later.
    wait_until(Duration::from_secs(30), "the sandbox never started", || {
        entries(&tmp) != 0
    });
    std::thread::sleep(Duration::from_millis(500));
    let out = interrupt(child);
    // Half a second in, the sandbox is still starting (it takes seconds).
    assert_exit_with(&out, 130, "interrupted");
    let deadline = Instant::now() + Duration::from_secs(20);
    while entries(&tmp) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(entries(&tmp), 0, "the cluster directory was removed");
    let _ = std::fs::remove_dir(&tmp);
}

#[test]
fn ctrl_c_during_the_trigger_race_says_the_rpc_race_finished() {
    use std::io::{BufRead, Read};
    let tmp = private_tmp();
    let mut child = sandbox_cmd(&[], &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = err.read_line(&mut line).unwrap();
        assert!(n > 0, "the trigger race never started: {seen}");
        seen.push_str(&line);
        if line.contains("racing trigger") {
            break;
        }
    }
    let out = interrupt(child);
    err.read_to_string(&mut seen).unwrap();
    assert_eq!(out.status.code(), Some(130), "{seen}");
    let last = seen
        .lines()
        .rfind(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {seen}"));
    // Says what was done, not "nothing was raced" as if no race had run.
    assert!(
        last.contains("the rpc race finished") || last.contains("the rpc, trigger races finished"),
        "{last}"
    );
    assert!(last.contains("race was interrupted"), "{last}");
    assert!(last.contains("the sandbox was torn down"), "{last}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while entries(&tmp) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(entries(&tmp), 0, "the cluster directory was removed");
    let _ = std::fs::remove_dir(&tmp);
}
