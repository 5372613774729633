//! PgBouncer in front of a test server, in transaction or session mode, as
//! Supabase's pooler (Supavisor) and self-hosted PgBouncer sit in front of
//! real projects.
//!
//! Default settings except what test capacity needs (`max_client_conn`);
//! notably NOT `ignore_startup_parameters`: quota must connect without it.
//! One PgBouncer per (server, mode), started on first use on a free port of
//! 127.0.0.1, authenticating clients by SCRAM against an `auth_file` of plain
//! passwords (appended to and reloaded when a new user comes through).
//! PgBouncer refuses to run as root, so it runs as the `postgres` OS user
//! then. It is stopped when the test binary exits: it runs under a `sh`
//! whose stdin is a pipe only this process holds; EOF makes it kill
//! PgBouncer (the same reaper idea as quota's own cluster).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const PGBOUNCER: &str = crate::common::prereq::PGBOUNCER.program;

/// PgBouncer's `pool_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A server connection per transaction (Supabase's port 6543).
    Transaction,
    /// A server connection per client session (Supabase's session pooler).
    Session,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Transaction => "transaction",
            Mode::Session => "session",
        }
    }
}

struct Bouncer {
    port: u16,
    dir: PathBuf,
    /// `user:password` pairs in the auth file.
    users: Vec<(String, String)>,
    _child: Child,
    /// Closing it (process exit) makes the wrapper kill PgBouncer.
    _stdin: ChildStdin,
}

/// The PgBouncers started so far, by the server (host, port) and mode.
type Bouncers = HashMap<(String, u16, Mode), Bouncer>;

static BOUNCERS: OnceLock<Mutex<Bouncers>> = OnceLock::new();

/// `url` rewritten to go through a PgBouncer in `mode` in front of that
/// URL's server (same user, password and database).
pub fn through(url: &str, mode: Mode) -> String {
    let parsed = url::Url::parse(url).expect("a database URL");
    let host = parsed.host_str().expect("a host").to_string();
    let port = parsed.port().unwrap_or(5432);
    let user = percent_decode(parsed.username());
    let password = percent_decode(parsed.password().expect("a password in the URL"));
    let mut bouncers = BOUNCERS
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let bouncer = bouncers
        .entry((host.clone(), port, mode))
        .or_insert_with(|| start(&host, port, mode));
    if !bouncer.users.iter().any(|(u, _)| *u == user) {
        bouncer.users.push((user.clone(), password.clone()));
        write_auth_file(&bouncer.dir, &bouncer.users);
        reload(&bouncer.dir);
    }
    let mut through = parsed.clone();
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(bouncer.port)).unwrap();
    through.to_string()
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The OS user PgBouncer runs as when we are root: `(uid, gid)`.
fn run_as() -> Option<(u32, u32)> {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        .unwrap_or(false);
    if !root {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.first() == Some(&"postgres")).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap()))
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(host: &str, server_port: u16, mode: Mode) -> Bouncer {
    crate::common::prereq::PGBOUNCER.path();
    let dir = std::env::temp_dir().join(format!(
        "quota-pgbouncer-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let owner = run_as();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    }
    let port = free_port();
    let ini = format!(
        "[databases]\n\
         * = host={host} port={server_port}\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = scram-sha-256\n\
         auth_file = {auth}\n\
         pool_mode = {mode}\n\
         max_client_conn = 1000\n\
         logfile = {log}\n\
         pidfile = {pid}\n",
        auth = dir.join("users.txt").display(),
        mode = mode.as_str(),
        log = dir.join("pgbouncer.log").display(),
        pid = dir.join("pgbouncer.pid").display(),
    );
    write_owned(&dir.join("pgbouncer.ini"), &ini, owner);
    write_auth_file(&dir, &[]);
    // `read` returns at EOF, when this test binary is gone (or closes the
    // pipe): then PgBouncer is stopped and its work directory removed.
    let script = r#"pgbouncer="$1"; ini="$2"; dir="$3"
"$pgbouncer" "$ini" >/dev/null 2>&1 &
child=$!
read -r _
kill "$child" 2>/dev/null
wait "$child" 2>/dev/null
rm -rf "$dir""#;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg("quota-pgbouncer")
        .arg(PGBOUNCER)
        .arg(dir.join("pgbouncer.ini"))
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd.spawn().expect("start pgbouncer");
    let stdin = child.stdin.take().unwrap();
    wait_listening(port, &dir);
    Bouncer {
        port,
        dir,
        users: Vec::new(),
        _child: child,
        _stdin: stdin,
    }
}

fn write_owned(path: &Path, text: &str, owner: Option<(u32, u32)>) {
    std::fs::write(path, text).unwrap();
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    }
}

/// `"user" "password"` lines, PgBouncer's auth_file format.
fn write_auth_file(dir: &Path, users: &[(String, String)]) {
    let mut text = String::new();
    for (u, p) in users {
        text.push_str(&format!(
            "\"{}\" \"{}\"\n",
            u.replace('"', "\"\""),
            p.replace('"', "\"\"")
        ));
    }
    let tmp = dir.join("users.txt.new");
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    drop(f);
    if let Some((uid, gid)) = run_as() {
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).unwrap();
    }
    std::fs::rename(&tmp, dir.join("users.txt")).unwrap();
}

/// SIGHUP makes PgBouncer re-read its configuration and auth_file.
fn reload(dir: &Path) {
    let pid = std::fs::read_to_string(dir.join("pgbouncer.pid")).expect("pgbouncer's pid file");
    let status = Command::new(crate::common::prereq::KILL.path())
        .args(["-HUP", pid.trim()])
        .status()
        .unwrap();
    assert!(status.success(), "could not reload pgbouncer");
    // The reload is asynchronous; give it a moment.
    std::thread::sleep(Duration::from_millis(200));
}

fn wait_listening(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && dir.join("pgbouncer.pid").exists()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
    panic!("pgbouncer did not start on port {port}:\n{log}");
}
