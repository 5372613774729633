//! Throwaway clusters themselves: password auth over TCP, crash and
//! restart, port retries, teardown, TLS and the reaper that cleans up after
//! an owner that died.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use quota::cluster::{Cluster, ClusterOptions};

use crate::common::fast_options;

/// Env var telling the helper "test" to run (it is a no-op otherwise).
const HELPER_ENV: &str = "QUOTA_CLUSTER_REAPER_HELPER_REPORT";

/// Runs `sql` through psql over TCP with password auth.
fn psql(url: &str, sql: &str) -> Result<String> {
    let bundled = Cluster::find_bindir()?.join("psql");
    let program = if bundled.is_file() {
        bundled
    } else {
        crate::common::prereq::PSQL.path()
    };
    let out = Command::new(program)
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGPASSFILE", "/dev/null")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null())
        .output()
        .context("could not run psql")?;
    if !out.status.success() {
        bail!("psql failed: {}", output_text(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn output_text(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    format!("{}\n{}", stderr.trim(), stdout.trim())
        .trim()
        .to_string()
}

#[test]
fn finds_server_binaries() -> Result<()> {
    let dir = Cluster::find_bindir()?;
    assert!(dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    Ok(())
}

#[test]
fn accepts_password_connections_over_tcp_only_with_the_right_password() -> Result<()> {
    let cluster = Cluster::start(fast_options())?;
    assert_eq!(psql(&cluster.admin_url(), "select 1")?, "1");
    let wrong = format!(
        "postgres://postgres:wrong@127.0.0.1:{}/postgres",
        cluster.port()
    );
    assert!(psql(&wrong, "select 1").is_err());
    Ok(())
}

#[test]
fn crash_and_restart_keep_data() -> Result<()> {
    let cluster = Cluster::start(fast_options())?;
    let url = cluster.admin_url();
    psql(&url, "create table t(x int); insert into t values (42)")?;
    cluster.crash()?;
    assert!(psql(&url, "select 1").is_err(), "server still up");
    cluster.restart()?;
    assert_eq!(psql(&url, "select x from t")?, "42");
    Ok(())
}

/// The signal `start` uses to retry on another port.
#[test]
fn recognises_a_taken_port_in_the_log() -> Result<()> {
    let cluster = Cluster::start(fast_options())?;
    cluster.crash()?;
    let squatter = TcpListener::bind(("127.0.0.1", cluster.port()))?;
    let offset = cluster.log_len();
    let err = cluster.restart().err().context("restart should fail")?;
    assert!(format!("{err:#}").contains("last lines of"));
    assert!(cluster.port_taken_since(offset));
    drop(squatter);
    cluster.restart()?;
    Ok(())
}

#[test]
fn stop_removes_the_directory_and_is_idempotent() -> Result<()> {
    let mut cluster = Cluster::start(fast_options())?;
    let dir = cluster.dir().to_path_buf();
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    cluster.stop()?;
    assert!(!dir.exists());
    cluster.stop()?;
    assert!(cluster.restart().is_err());
    Ok(())
}

#[test]
fn ssl_cluster_serves_tls() -> Result<()> {
    let cluster = Cluster::start(ClusterOptions {
        ssl: true,
        ..fast_options()
    })?;
    let url = format!("{}?sslmode=require", cluster.admin_url());
    let ssl = psql(
        &url,
        "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    )?;
    assert_eq!(ssl, "t");
    Ok(())
}

/// Closing the reaper's stdin is exactly what the kernel does when we die.
#[test]
fn reaper_tears_down_on_eof() -> Result<()> {
    let mut cluster = Cluster::start(fast_options())?;
    let dir = cluster.dir().to_path_buf();
    cluster.abandon_to_reaper()?;
    assert!(!dir.exists());
    assert!(TcpStream::connect(("127.0.0.1", cluster.port())).is_err());
    cluster.stop()?;
    Ok(())
}

/// End to end: a process that exits without running destructors (like a
/// cluster in a `static OnceLock`) still leaves nothing behind.
#[test]
fn reaper_tears_down_after_owner_exits_without_drop() -> Result<()> {
    let report = std::env::temp_dir().join(format!(
        "quota-reaper-report-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, rest)| rest);
    let helper = format!("{module}::reaper_helper_exits_without_drop");
    let out = Command::new(std::env::current_exe()?)
        .args([helper.as_str(), "--exact", "--ignored", "--nocapture"])
        .env(HELPER_ENV, &report)
        .stdin(Stdio::null())
        .output()?;
    assert!(out.status.success(), "helper failed: {}", output_text(&out));
    let text = fs::read_to_string(&report).context("helper wrote no report")?;
    let _ = fs::remove_file(&report);
    let (dir, port) = text.split_once('\n').context("malformed report")?;
    let (dir, port): (PathBuf, u16) = (PathBuf::from(dir), port.trim().parse()?);
    let deadline = Instant::now() + Duration::from_secs(20);
    while dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!dir.exists(), "reaper did not remove {}", dir.display());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    Ok(())
}

#[test]
#[ignore = "run by reaper_tears_down_after_owner_exits_without_drop"]
fn reaper_helper_exits_without_drop() -> Result<()> {
    let Some(report) = std::env::var_os(HELPER_ENV) else {
        return Ok(());
    };
    let cluster = Cluster::start(fast_options())?;
    fs::write(
        report,
        format!("{}\n{}\n", cluster.dir().display(), cluster.port()),
    )?;
    // Like a static: no destructor runs.
    std::process::exit(0);
}
