//! Running the server: `pg_ctl` start, stop and status, a free port, and
//! what the server log says when a start fails.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use super::Cluster;

/// How often to pick a new port when another process grabbed ours between
/// probing and binding it.
const PORT_ATTEMPTS: usize = 5;

const LOG_TAIL_LINES: usize = 40;

/// Server log lines that mean "the port was taken", i.e. worth a retry.
const PORT_TAKEN_MARKERS: &[&str] = &[
    "could not bind",
    "Address already in use",
    "could not create any TCP/IP sockets",
];

impl Cluster {
    /// The server log's size now: where the next start's lines begin, for
    /// [`Cluster::port_taken_since`].
    pub fn log_len(&self) -> u64 {
        fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the server log lines written since `offset`, i.e. by the last
    /// start, say the port was taken: the signal to retry on another port.
    pub fn port_taken_since(&self, offset: u64) -> bool {
        let mut text = String::new();
        let read = fs::File::open(&self.log).and_then(|mut file| {
            file.seek(SeekFrom::Start(offset))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            text = String::from_utf8_lossy(&bytes).into_owned();
            Ok(())
        });
        read.is_ok() && PORT_TAKEN_MARKERS.iter().any(|m| text.contains(m))
    }

    /// Probing a free port and binding it later is racy, so retry with a new
    /// port when the server log says the port was taken.
    pub(super) fn start_on_free_port(&mut self) -> Result<()> {
        let mut attempt = 1;
        loop {
            self.port = free_port()?;
            let log_offset = self.log_len();
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(_) if attempt < PORT_ATTEMPTS && self.port_taken_since(log_offset) => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn pg_ctl_start(&self) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-l"])
            .arg(&self.log)
            .arg("-o")
            .arg(format!("-p {}", self.port));
        cmd.envs(self.server_env.iter().map(|(k, v)| (k, v)));
        // The postmaster redirects its output to the log, so these pipes
        // close when pg_ctl exits.
        let out = cmd.output().context("could not run pg_ctl")?;
        if out.status.success() {
            return Ok(());
        }
        bail!(
            "PostgreSQL did not start on port {} (pg_ctl {}): {}\n--- last lines of {} ---\n{}",
            self.port,
            out.status,
            output_text(&out),
            self.log.display(),
            log_tail(&self.log)
        )
    }

    pub(super) fn pg_ctl_stop(&self, mode: &str) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "30"]);
        run(cmd, &format!("pg_ctl stop -m {mode}")).map(drop)
    }

    pub(super) fn is_running(&self) -> bool {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(&self.data);
        cmd.output().is_ok_and(|out| out.status.success())
    }

    pub(super) fn shut_down(&self) -> Result<()> {
        let fast = self.pg_ctl_stop("fast");
        // A stale pid file (server already gone) makes both stops fail.
        if fast.is_ok() || self.pg_ctl_stop("immediate").is_ok() || !self.is_running() {
            return Ok(());
        }
        fast.context(
            "could not stop the throwaway PostgreSQL server; it will be killed when this process exits",
        )
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .context("could not reserve a TCP port on 127.0.0.1: is the loopback interface up?")?;
    Ok(listener.local_addr()?.port())
}

fn log_tail(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(server log unreadable: {e})"),
    }
}

/// Runs `cmd`; a failure carries its output.
pub(super) fn run(mut cmd: Command, what: &str) -> Result<Output> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}): {}", out.status, output_text(&out));
    }
    Ok(out)
}

pub(super) fn output_text(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    format!("{}\n{}", stderr.trim(), stdout.trim())
        .trim()
        .to_string()
}
