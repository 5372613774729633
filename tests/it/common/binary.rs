//! The quota binary as the tests run it: with a database URL, spawned to
//! be interrupted, and what its exit code and output must look like.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the quota binary with DATABASE_URL set and no colour.
pub fn quota_with_url(url: &str, args: &[&str]) -> Output {
    quota_cmd(url, args).output().expect("run quota")
}

pub fn quota_cmd(url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quota"));
    cmd.args(args)
        .env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null());
    cmd
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "quota failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "unexpected exit\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Parses the JSON a command printed on stdout.
#[track_caller]
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\n{}",
            stdout(out),
            stderr(out)
        )
    })
}

/// A refusal done right: exit `code`, exactly one line on stderr starting
/// `error:`, no panic.
#[track_caller]
pub fn assert_refused(out: &Output, code: i32) {
    assert_exit(out, code);
    let err = stderr(out);
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        lines[0].len() < 2000,
        "error line too long: {} bytes",
        lines[0].len()
    );
}

/// [`quota_cmd`] started in the background with its output captured, for
/// a test that interrupts it half-way.
pub fn spawn_quota(url: &str, args: &[&str]) -> Child {
    quota_cmd(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// [`spawn_quota`] as a tokio child, for a test that reads its output
/// while it runs.
pub fn spawn_quota_async(url: &str, args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::from(quota_cmd(url, args))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start quota")
}

/// Sends Ctrl-C (SIGINT) to `child` and waits for it to finish cleaning up.
pub fn interrupt(child: Child) -> Output {
    let kill = Command::new(super::prereq::KILL.path())
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait_with_output().unwrap()
}

/// [`interrupt`] from async code: the wait runs off the runtime.
pub async fn interrupt_async(child: Child) -> Output {
    tokio::task::spawn_blocking(move || interrupt(child))
        .await
        .unwrap()
}

/// Polls `ready` every 20 ms until it holds; fails with `never` after
/// `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, never: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "{never}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_until`] for a condition that asks the database.
pub async fn wait_until_async(
    timeout: Duration,
    never: &str,
    mut ready: impl AsyncFnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !ready().await {
        assert!(Instant::now() < deadline, "{never}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Exit `code` with `text` on stderr.
#[track_caller]
pub fn assert_exit_with(out: &Output, code: i32, text: &str) {
    assert_exit(out, code);
    assert!(stderr(out).contains(text), "{}", stderr(out));
}

/// [`assert_refused`] with `text` in the one error line.
#[track_caller]
pub fn assert_refused_with(out: &Output, code: i32, text: &str) {
    assert_refused(out, code);
    assert!(stderr(out).contains(text), "{}", stderr(out));
}
