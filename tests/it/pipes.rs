//! A reader that goes away early (`quota completions bash | head`): every
//! command that writes to stdout ends quietly, never with a panic (exit 101).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

use crate::common::{installed_db, stderr};

/// Runs quota with stdout on a real pipe whose reader closes before quota
/// writes: a shell prints one byte, the test reads it and closes its end,
/// and only then (a second later) the shell `exec`s quota on the same pipe,
/// so every write quota makes meets a closed pipe, as under `| head -c 1`.
fn quota_into_closed_pipe(url: &str, args: &[&str]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("printf x; sleep 1; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_quota"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sh");
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut first = [0u8; 1];
    out.read_exact(&mut first)
        .expect("read the shell's first byte");
    drop(out);
    child.wait_with_output().expect("wait for quota")
}

#[track_caller]
fn assert_quiet_end(out: &Output, what: &str) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    let quiet = out.status.code() == Some(0) || out.status.signal() == Some(13);
    assert!(
        quiet,
        "{what} into a closed pipe: {:?} (0 or SIGPIPE expected)\n{err}",
        out.status
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_into_a_closed_pipe_do_not_panic() {
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["--help"],
        &["migrate", "--help"],
        &["--version"],
    ] {
        let out = quota_into_closed_pipe("postgres://unused@localhost/x", args);
        assert_quiet_end(&out, &args.join(" "));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_into_a_closed_pipe_do_not_panic() {
    let db = installed_db().await;
    for args in [
        &["users"][..],
        &["verify", "--format", "json"],
        &["verify", "--format", "junit"],
        &["migrate", "status"],
        &["report", "summary", "--format", "json"],
    ] {
        let out = quota_into_closed_pipe(&db.url, args);
        assert_quiet_end(&out, &args.join(" "));
    }
}
