//! Throwaway PostgreSQL clusters started from the local server binaries.
//!
//! `quota sandbox` and the integration tests both need a real server without
//! asking the user to provision one, so this module runs `initdb` + `pg_ctl`
//! in a private temporary directory and guarantees the server and directory
//! disappear again, even if the owning process exits without running
//! destructors (see [`Reaper`]).
//!
//! Everything here is blocking (`std::process`); call it from
//! `spawn_blocking` or before entering an async runtime.

use anyhow::{anyhow, bail, Context, Result};
use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::unix::fs::{chown, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};

const NO_BINARIES: &str = "no PostgreSQL server binaries found (initdb, pg_ctl): install them, \
     e.g. `apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql`, \
     or set QUOTA_PG_BINDIR";

/// Superuser created by `initdb -U`; fixed so URLs are predictable.
const SUPERUSER: &str = "postgres";

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

/// Runs detached from our process group and waits for EOF on stdin, which
/// the kernel delivers when our process dies in any way (exit without
/// destructors, panic=abort, SIGKILL). It then stops the postmaster and
/// removes the directory. `disarm` makes it exit without touching anything.
/// SIGINT/SIGHUP are ignored so a Ctrl-C to the terminal cannot kill it before
/// our own handler has decided what to do.
const REAPER_SCRIPT: &str = r#"
trap '' INT HUP
IFS= read -r line
[ "$line" = disarm ] && exit 0
pidfile="$1/data/postmaster.pid"
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
    i=0
    # The postmaster removes its pid file on exit; kill -0 covers a stale file.
    while [ -f "$pidfile" ] && kill -0 "$pid" 2>/dev/null; do
      i=$((i + 1))
      if [ "$i" -ge 100 ]; then kill -KILL "$pid" 2>/dev/null; break; fi
      sleep 0.1
    done
  fi
fi
rm -rf "$1"
"#;

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
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            superuser: SUPERUSER.to_string(),
            superuser_password: random_hex(16),
            extra_settings: Vec::new(),
            ssl: false,
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
        if let Some(dir) = std::env::var_os("QUOTA_PG_BINDIR").filter(|v| !v.is_empty()) {
            let dir = PathBuf::from(dir);
            if has_server_binaries(&dir) {
                return Ok(dir);
            }
            bail!(
                "QUOTA_PG_BINDIR={} does not contain initdb and pg_ctl: point it at the \
                 PostgreSQL server `bin` directory or unset it",
                dir.display()
            );
        }
        bindir_from_pg_config()
            .or_else(bindir_from_path)
            .or_else(newest_debian_bindir)
            .ok_or_else(|| anyhow!(NO_BINARIES))
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
            percent_encode(&self.superuser),
            percent_encode(&self.password),
            self.port,
            percent_encode(database)
        )
    }

    pub fn admin_url(&self) -> String {
        self.url("postgres")
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

    fn ensure_not_torn_down(&self) -> Result<()> {
        if self.torn_down {
            bail!("the throwaway cluster was already stopped and removed; start a new one");
        }
        Ok(())
    }

    /// A command for a server binary, run as the unprivileged user when we
    /// are root (PostgreSQL refuses to run as root).
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        // Our cwd may be unreadable for the run-as user; the temp dir is its own.
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        if let Some(user) = &self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    fn give_to_run_as(&self, path: &Path) -> Result<()> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        chown(path, Some(user.uid), Some(user.gid)).with_context(|| {
            format!(
                "could not hand {} to user `{}` (uid {}), which the server runs as because we are root",
                path.display(),
                user.name,
                user.uid
            )
        })
    }

    fn init_db(&self) -> Result<()> {
        let pwfile = self.dir.join("pwfile");
        write_private(&pwfile, &format!("{}\n", self.password))?;
        self.give_to_run_as(&pwfile)?;
        let result = self.initdb(&pwfile, "--locale=C.UTF-8").or_else(|_| {
            // Not every platform ships C.UTF-8 (e.g. older macOS); start over.
            remove_dir_if_exists(&self.data)?;
            self.initdb(&pwfile, "--no-locale")
        });
        // The password must not outlive initdb on disk.
        let _ = fs::remove_file(&pwfile);
        match &self.run_as {
            Some(user) => result.with_context(|| {
                format!(
                    "initdb runs as user `{}` because we are root; it must be able to read {} \
                     and write {} (set TMPDIR to a directory it can access)",
                    user.name,
                    self.bindir.display(),
                    self.dir.display()
                )
            }),
            None => result,
        }
    }

    fn initdb(&self, pwfile: &Path, locale: &str) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                &self.superuser,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", locale, "--no-sync"]);
        run(cmd, "initdb").map(drop)
    }

    /// Appends our settings to `postgresql.conf` (rather than passing them
    /// via `pg_ctl -o`) so `restart` reuses them and no shell quoting is needed.
    fn configure(&self, opts: &ClusterOptions) -> Result<()> {
        let mut settings = vec![
            ("listen_addresses".to_string(), "127.0.0.1".to_string()),
            // A private socket dir avoids clashing with a system server's lock file.
            (
                "unix_socket_directories".to_string(),
                self.dir.display().to_string(),
            ),
            // Tests run many connections in parallel.
            ("max_connections".to_string(), "300".to_string()),
        ];
        if opts.ssl {
            self.make_certificate()?;
            settings.push(("ssl".to_string(), "on".to_string()));
        }
        settings.extend(opts.extra_settings.iter().cloned());
        let mut conf = String::from("\n# added by quota for a throwaway cluster\n");
        for (name, value) in &settings {
            conf.push_str(&conf_line(name, value)?);
        }
        let path = self.data.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(conf.as_bytes()))
            .with_context(|| format!("could not write server settings to {}", path.display()))
    }

    /// Self-signed `server.crt`/`server.key` in the data dir, where the
    /// server looks for them by default.
    fn make_certificate(&self) -> Result<()> {
        let crt = self.data.join("server.crt");
        let key = self.data.join("server.key");
        let mut cmd = Command::new("openssl");
        cmd.args(["req", "-new", "-x509", "-nodes", "-newkey", "rsa:2048"])
            .args(["-days", "3650", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .stdin(Stdio::null());
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "ssl was requested for the throwaway cluster but `openssl` is not installed: \
                 install it (e.g. `apt-get install openssl`) or start without ssl"
            ),
            Err(e) => return Err(e).context("could not run `openssl req`"),
            Ok(out) if !out.status.success() => {
                bail!(
                    "`openssl req` failed ({}): {}",
                    out.status,
                    output_text(&out)
                )
            }
            Ok(_) => {}
        }
        // The server refuses keys readable by others.
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("could not restrict permissions of {}", key.display()))?;
        self.give_to_run_as(&key)?;
        self.give_to_run_as(&crt)
    }

    /// Probing a free port and binding it later is racy, so retry with a new
    /// port when the server log says the port was taken.
    fn start_on_free_port(&mut self) -> Result<()> {
        let mut attempt = 1;
        loop {
            self.port = free_port()?;
            let log_offset = file_len(&self.log);
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(_) if attempt < PORT_ATTEMPTS && port_was_taken(&self.log, log_offset) => {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-l"])
            .arg(&self.log)
            .arg("-o")
            .arg(format!("-p {}", self.port));
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

    fn pg_ctl_stop(&self, mode: &str) -> Result<()> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-w", "-t", "30"]);
        run(cmd, &format!("pg_ctl stop -m {mode}")).map(drop)
    }

    fn is_running(&self) -> bool {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(&self.data);
        cmd.output().is_ok_and(|out| out.status.success())
    }

    fn shut_down(&self) -> Result<()> {
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

impl Drop for Cluster {
    fn drop(&mut self) {
        // If this fails the still-armed reaper sees EOF once `self.reaper`
        // is dropped right after, and cleans up instead.
        let _ = self.stop();
    }
}

/// A detached `sh` that tears the cluster down when our process dies; see
/// [`REAPER_SCRIPT`]. The write end of its stdin lives only in this struct
/// (std opens pipes close-on-exec), so EOF means "owner gone".
struct Reaper {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Reaper {
    fn spawn(dir: &Path) -> Result<Reaper> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(REAPER_SCRIPT)
            .arg("quota-pg-reaper")
            .arg(dir)
            .stdin(Stdio::piped())
            // Holding our stdout/stderr would make `quota ... | cat` hang.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: signals to ours (Ctrl-C, timeouts) skip it.
            .process_group(0)
            .spawn()
            .context(
                "could not start `sh`, which removes the throwaway cluster if quota exits \
                 unexpectedly: make sure `sh` is on PATH",
            )?;
        let stdin = child.stdin.take();
        Ok(Reaper { child, stdin })
    }

    /// Tells the reaper the cluster is handled and waits for it to exit.
    fn disarm(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // If it already died there is nothing to disarm.
            let _ = stdin.write_all(b"disarm\n");
        }
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
}

/// `None` unless we are root, in which case the server must run as
/// `postgres` or, failing that, `nobody`.
fn run_as_user() -> Result<Option<RunAs>> {
    if effective_uid()? != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")
        .context("running as root, but could not read /etc/passwd to find an unprivileged user for PostgreSQL")?;
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| {
            passwd
                .lines()
                .find_map(|line| parse_passwd_line(line, name))
        })
        .map(Some)
        .ok_or_else(|| {
            anyhow!(
                "PostgreSQL refuses to run as root and neither a `postgres` nor a `nobody` user \
                 exists: create one (e.g. `useradd --system postgres`) or run as a non-root user"
            )
        })
}

fn parse_passwd_line(line: &str, name: &str) -> Option<RunAs> {
    let mut fields = line.split(':');
    if fields.next()? != name {
        return None;
    }
    let _password = fields.next()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some(RunAs {
        name: name.to_string(),
        uid,
        gid,
    })
}

/// `/proc/self` is owned by the effective uid; `id -u` covers systems
/// without procfs (macOS).
fn effective_uid() -> Result<u32> {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Ok(meta.uid());
    }
    let out = Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .context("could not determine the current user id (no /proc and `id -u` failed)")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("could not parse the output of `id -u`")
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

fn bindir_from_pg_config() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // Client-only installs have pg_config but no server binaries.
    has_server_binaries(&dir).then_some(dir)
}

fn bindir_from_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        // Resolve symlinks like /usr/local/bin/initdb so pg_ctl and the
        // server come from the same installation.
        let initdb = fs::canonicalize(dir.join("initdb")).ok()?;
        let bindir = initdb.parent()?.to_path_buf();
        has_server_binaries(&bindir).then_some(bindir)
    })
}

fn newest_debian_bindir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_key(&entry.file_name().to_string_lossy())?;
            let bindir = entry.path().join("bin");
            has_server_binaries(&bindir).then_some((version, bindir))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bindir)| bindir)
}

/// "15" -> [15], "9.6" -> [9, 6]; numeric so 10 sorts after 9.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn create_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let dir = base.join(format!("quota-pg-{}-{}", std::process::id(), random_hex(4)));
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| {
            format!(
                "could not create a temporary directory under {}: make it writable or set TMPDIR",
                base.display()
            )
        })?;
    Ok(dir)
}

fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("could not remove {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .with_context(|| format!("could not write {}", path.display()))
}

fn validate_password(password: &str) -> Result<()> {
    // initdb --pwfile reads only the first line.
    if password.is_empty() || password.contains(['\n', '\r']) {
        bail!(
            "the superuser password for the throwaway cluster must be non-empty and a single line"
        );
    }
    Ok(())
}

/// One `postgresql.conf` line; names are checked so a value cannot inject
/// further settings.
fn conf_line(name: &str, value: &str) -> Result<String> {
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid_name || value.contains(['\n', '\r']) {
        bail!("invalid server setting {name:?} = {value:?}: names are [A-Za-z0-9_.], values a single line");
    }
    let quoted = value.replace('\\', "\\\\").replace('\'', "''");
    Ok(format!("{name} = '{quoted}'\n"))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .context("could not reserve a TCP port on 127.0.0.1: is the loopback interface up?")?;
    Ok(listener.local_addr()?.port())
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Looks only at log lines written since `offset`, i.e. by this attempt.
fn port_was_taken(log: &Path, offset: u64) -> bool {
    let mut text = String::new();
    let read = fs::File::open(log).and_then(|mut file| {
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(())
    });
    read.is_ok() && PORT_TAKEN_MARKERS.iter().any(|m| text.contains(m))
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

fn run(mut cmd: Command, what: &str) -> Result<Output> {
    let out = cmd
        .output()
        .with_context(|| format!("could not run {what}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}): {}", out.status, output_text(&out));
    }
    Ok(out)
}

fn output_text(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    format!("{}\n{}", stderr.trim(), stdout.trim())
        .trim()
        .to_string()
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any
/// password or database name is safe inside a URL.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `bytes` random bytes as hex, from /dev/urandom; falls back to std's
/// randomly seeded hasher where that is unavailable.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let from_os = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
    if from_os.is_err() {
        fill_from_hasher(&mut buf);
    }
    buf.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .concat()
}

fn fill_from_hasher(buf: &mut [u8]) {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    for (i, chunk) in buf.chunks_mut(8).enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(i);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        hasher.write_u128(nanos);
        let bytes = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Env var telling the helper "test" to run (it is a no-op otherwise).
    const HELPER_ENV: &str = "QUOTA_CLUSTER_REAPER_HELPER_REPORT";

    fn fast_options() -> ClusterOptions {
        ClusterOptions {
            extra_settings: vec![("fsync".into(), "off".into())],
            ..ClusterOptions::default()
        }
    }

    /// Runs `sql` through psql over TCP with password auth.
    fn psql(cluster: &Cluster, url: &str, sql: &str) -> Result<String> {
        let bundled = cluster.bindir.join("psql");
        let program = if bundled.is_file() {
            bundled
        } else {
            PathBuf::from("psql")
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

    #[test]
    fn accepts_password_connections_over_tcp_only_with_the_right_password() -> Result<()> {
        let cluster = Cluster::start(fast_options())?;
        assert_eq!(psql(&cluster, &cluster.admin_url(), "select 1")?, "1");
        let wrong = format!(
            "postgres://postgres:wrong@127.0.0.1:{}/postgres",
            cluster.port()
        );
        assert!(psql(&cluster, &wrong, "select 1").is_err());
        Ok(())
    }

    #[test]
    fn crash_and_restart_keep_data() -> Result<()> {
        let cluster = Cluster::start(fast_options())?;
        let url = cluster.admin_url();
        psql(
            &cluster,
            &url,
            "create table t(x int); insert into t values (42)",
        )?;
        cluster.crash()?;
        assert!(psql(&cluster, &url, "select 1").is_err(), "server still up");
        cluster.restart()?;
        assert_eq!(psql(&cluster, &url, "select x from t")?, "42");
        Ok(())
    }

    /// The signal `start` uses to retry on another port.
    #[test]
    fn recognises_a_taken_port_in_the_log() -> Result<()> {
        let cluster = Cluster::start(fast_options())?;
        cluster.crash()?;
        let squatter = TcpListener::bind(("127.0.0.1", cluster.port()))?;
        let offset = file_len(&cluster.log);
        let err = cluster.restart().err().context("restart should fail")?;
        assert!(format!("{err:#}").contains("last lines of"));
        assert!(port_was_taken(&cluster.log, offset));
        drop(squatter);
        cluster.restart()?;
        Ok(())
    }

    #[test]
    fn stop_removes_the_directory_and_is_idempotent() -> Result<()> {
        let mut cluster = Cluster::start(fast_options())?;
        let dir = cluster.dir.clone();
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
            &cluster,
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
        let dir = cluster.dir.clone();
        let mut reaper = cluster.reaper.take().context("no reaper")?;
        drop(reaper.stdin.take());
        reaper.child.wait()?;
        assert!(!dir.exists());
        assert!(std::net::TcpStream::connect(("127.0.0.1", cluster.port())).is_err());
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
            random_hex(4)
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
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
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
            format!("{}\n{}\n", cluster.dir.display(), cluster.port()),
        )?;
        // Like a static: no destructor runs.
        std::process::exit(0);
    }

    #[test]
    fn finds_server_binaries() -> Result<()> {
        assert!(has_server_binaries(&Cluster::find_bindir()?));
        Ok(())
    }

    #[test]
    fn parses_passwd_lines() {
        let line = "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash";
        let expected = RunAs {
            name: "postgres".into(),
            uid: 101,
            gid: 104,
        };
        assert_eq!(parse_passwd_line(line, "postgres"), Some(expected));
        assert_eq!(parse_passwd_line(line, "post"), None);
        assert_eq!(parse_passwd_line("postgres:x:abc:1::", "postgres"), None);
    }

    #[test]
    fn orders_versions_numerically() {
        assert!(version_key("10") > version_key("9.6"));
        assert_eq!(version_key("main"), None);
    }

    #[test]
    fn quotes_settings_and_rejects_injection() -> Result<()> {
        assert_eq!(conf_line("a.b_c", "it's")?, "a.b_c = 'it''s'\n");
        assert!(conf_line("fsync = off\nssl", "on").is_err());
        assert!(conf_line("x", "a\nssl = on").is_err());
        Ok(())
    }

    #[test]
    fn urls_encode_passwords() {
        assert_eq!(percent_encode("a b/@:~"), "a%20b%2F%40%3A~");
        assert_eq!(random_hex(16).len(), 32);
    }
}
