//! Throwaway PostgreSQL clusters started from the local server binaries.
//!
//! `quota sandbox` and the integration tests both need a real server without
//! asking the user to provision one, so this module runs `initdb` + `pg_ctl`
//! in a private temporary directory and guarantees the server and directory
//! disappear again, even if the owning process exits without running
//! destructors (see `reaper`).
//!
//! Everything here is blocking (`std::process`); call it from
//! `spawn_blocking` or before entering an async runtime.
//!
//! `binaries` finds the server binaries, `account` picks the user the server
//! runs as under root, `setup` creates and configures the cluster, `control`
//! drives `pg_ctl`, `reaper` cleans up after a dead owner, `files` holds the
//! private directory and random names.

mod account;
mod binaries;
mod control;
mod files;
mod reaper;
mod setup;

use anyhow::{bail, Context, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub(crate) use account::owner_when_root;
use account::{run_as_user, RunAs};
use files::{create_temp_dir, random_hex, remove_dir_if_exists};
use reaper::Reaper;
use setup::validate_password;

/// Superuser created by `initdb -U`; fixed so URLs are predictable.
const SUPERUSER: &str = "postgres";

/// Everything but RFC 3986 unreserved characters, so any user, password or
/// database name is safe inside a URL.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How to set up a throwaway cluster.
#[derive(Clone)]
pub struct ClusterOptions {
    /// Name of the bootstrap superuser; `postgres` by default. Supabase's
    /// clusters use `supabase_admin`, leaving `postgres` a non-superuser.
    pub superuser: String,
    /// Password of the bootstrap superuser for TCP (scram-sha-256)
    /// connections; the default is random so nothing guessable listens.
    pub superuser_password: String,
    /// Extra `postgresql.conf` settings, e.g. `("fsync", "off")`; written
    /// after ours, so they can override them (e.g. `max_connections`).
    pub extra_settings: Vec<(String, String)>,
    /// Generate a self-signed certificate with `openssl` and set `ssl = on`,
    /// to exercise TLS code paths. Fails if `openssl` is not installed.
    pub ssl: bool,
    /// Extra environment of the server processes (given to `pg_ctl start`,
    /// which the postmaster and every backend inherit), e.g. `LD_PRELOAD`
    /// of libfaketime so a test can move the server's clock.
    pub server_env: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            superuser: SUPERUSER.to_string(),
            superuser_password: random_hex(16),
            extra_settings: Vec::new(),
            ssl: false,
            server_env: Vec::new(),
        }
    }
}

/// Hand-written so the password never ends up in logs.
impl fmt::Debug for ClusterOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterOptions")
            .field("superuser", &self.superuser)
            .field("superuser_password", &"<redacted>")
            .field("extra_settings", &self.extra_settings)
            .field("ssl", &self.ssl)
            .field("server_env", &self.server_env)
            .finish()
    }
}

/// A running throwaway cluster. Stopped and deleted by [`Cluster::stop`],
/// on drop, or by the reaper process when ours dies.
pub struct Cluster {
    bindir: PathBuf,
    /// Private temp dir holding `data/`, the log and the Unix socket.
    dir: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    superuser: String,
    password: String,
    /// Unprivileged user the server runs as when we are root.
    run_as: Option<RunAs>,
    /// Extra environment of the server, see [`ClusterOptions::server_env`].
    server_env: Vec<(String, String)>,
    reaper: Option<Reaper>,
    torn_down: bool,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("run_as", &self.run_as.as_ref().map(|u| &u.name))
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Locates `initdb`/`pg_ctl`: `QUOTA_PG_BINDIR`, then `pg_config
    /// --bindir`, then `initdb` on `PATH`, then the newest Debian-style
    /// `/usr/lib/postgresql/*/bin`.
    pub fn find_bindir() -> Result<PathBuf> {
        binaries::find()
    }

    /// Creates, configures and starts a new cluster listening on a free
    /// port of 127.0.0.1. Takes about a second (initdb runs with `--no-sync`).
    pub fn start(opts: ClusterOptions) -> Result<Cluster> {
        validate_password(&opts.superuser_password)?;
        let bindir = Self::find_bindir()?;
        let run_as = run_as_user()?;
        let dir = create_temp_dir()?;
        // From here on, every early return drops `cluster`, which removes `dir`.
        let mut cluster = Cluster {
            bindir,
            data: dir.join("data"),
            log: dir.join("server.log"),
            dir,
            port: 0,
            superuser: opts.superuser.clone(),
            password: opts.superuser_password.clone(),
            run_as,
            server_env: opts.server_env.clone(),
            reaper: None,
            torn_down: false,
        };
        // Armed before initdb so even a kill during setup leaves nothing behind.
        cluster.reaper = Some(Reaper::spawn(&cluster.dir)?);
        cluster.give_to_run_as(&cluster.dir)?;
        cluster.init_db()?;
        cluster.configure(&opts)?;
        cluster.start_on_free_port()?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// Superuser URL for `database` over TCP (password auth, as real
    /// deployments use).
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            utf8_percent_encode(&self.superuser, URL_COMPONENT),
            utf8_percent_encode(&self.password, URL_COMPONENT),
            self.port,
            utf8_percent_encode(database, URL_COMPONENT)
        )
    }

    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// The private directory holding the data directory, the log and the
    /// socket; gone once the cluster is torn down.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Simulates a server crash (`pg_ctl stop -m immediate`): no shutdown
    /// checkpoint, so the next start runs crash recovery. Data is kept.
    pub fn crash(&self) -> Result<()> {
        self.ensure_not_torn_down()?;
        self.pg_ctl_stop("immediate")
            .context("could not crash-stop the PostgreSQL server")
    }

    /// Starts the server again on the same port after [`Cluster::crash`]
    /// and waits until it accepts connections. A no-op if it is running.
    pub fn restart(&self) -> Result<()> {
        self.ensure_not_torn_down()?;
        if self.is_running() {
            return Ok(());
        }
        self.pg_ctl_start()
    }

    /// Stops the server (fast, falling back to immediate) and removes the
    /// temp dir. Idempotent; also called on drop.
    pub fn stop(&mut self) -> Result<()> {
        if self.torn_down {
            return Ok(());
        }
        if self.data.join("postmaster.pid").exists() {
            self.shut_down()?;
        }
        remove_dir_if_exists(&self.dir)?;
        if let Some(reaper) = self.reaper.take() {
            reaper.disarm();
        }
        self.torn_down = true;
        Ok(())
    }

    /// Leaves the server running (for `quota sandbox --keep`) and returns
    /// its admin URL and directory; the caller owns cleanup from now on.
    pub fn keep(mut self) -> (String, PathBuf) {
        if let Some(reaper) = self.reaper.take() {
            reaper.disarm();
        }
        self.torn_down = true;
        (self.admin_url(), self.dir.clone())
    }

    /// Does what the kernel does when this process dies: closes the
    /// reaper's pipe, then waits until the reaper has stopped the server and
    /// removed the directory. Lets the tests watch the reaper at work.
    pub fn abandon_to_reaper(&mut self) -> Result<()> {
        let reaper = self
            .reaper
            .take()
            .context("this cluster has no reaper: it was already stopped or kept")?;
        reaper.release()
    }

    fn ensure_not_torn_down(&self) -> Result<()> {
        if self.torn_down {
            bail!("the throwaway cluster was already stopped and removed; start a new one");
        }
        Ok(())
    }

    /// A command for a server binary, run as the unprivileged user when we
    /// are root (PostgreSQL refuses to run as root), in a process group of
    /// its own: a Ctrl-C at the terminal goes to quota's group only, so
    /// `initdb` or `pg_ctl` are not killed half-way (quota notices the
    /// Ctrl-C, lets them finish, tears down and exits 130).
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        // Our cwd may be unreadable for the run-as user; the temp dir is its own.
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .process_group(0);
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // If this fails the still-armed reaper sees EOF once `self.reaper`
        // is dropped right after, and cleans up instead.
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_passwords() {
        let encoded = utf8_percent_encode("a b/@:~", URL_COMPONENT).to_string();
        assert_eq!(encoded, "a%20b%2F%40%3A~");
    }
}
