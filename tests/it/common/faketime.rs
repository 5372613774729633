//! A throwaway cluster whose clock the test moves while it runs: Debian's
//! libfaketime (package `faketime`, installed by `.ci/run`) preloaded into
//! the server, reading an offset from a file on every clock read, so a
//! transaction opened "before midnight" can be held open across a month
//! boundary. Only the wall clock moves; the monotonic clock (timeouts,
//! latches) stays real.

use std::path::{Path, PathBuf};

use quota::cluster::{Cluster, ClusterOptions};
use sqlx::{Connection, Executor, PgConnection};
use time::OffsetDateTime;

use super::{fast_options, TestDb, DEMO_SCHEMA};

/// Where Debian's `faketime` package puts the library, per architecture;
/// `QUOTA_FAKETIME_LIB` names another.
const CANDIDATES: [&str; 4] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
];

/// The libfaketime shared library. Panics (never skips) when it is missing:
/// the month-boundary tests cannot be shown any other way.
pub fn libfaketime() -> PathBuf {
    if let Ok(path) = std::env::var("QUOTA_FAKETIME_LIB") {
        if !path.is_empty() {
            return PathBuf::from(path);
        }
    }
    CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "libfaketime not found (looked in {CANDIDATES:?}): install Debian's `faketime` \
                 package (`apt-get install faketime`, as .ci/run does) or set QUOTA_FAKETIME_LIB"
            )
        })
}

/// A throwaway cluster running on a fake wall clock.
pub struct FakeClock {
    pub cluster: Cluster,
    file: PathBuf,
}

impl FakeClock {
    /// Starts a cluster whose clock reads `at` (and runs on from there).
    /// Blocking: call from `spawn_blocking`.
    pub fn start(at: OffsetDateTime) -> FakeClock {
        let lib = libfaketime();
        // The offset file lives beside the cluster's data, in a directory
        // the unprivileged server user can read; written before the server
        // starts, so its first clock read is already fake.
        let holder = tempfile_dir();
        let file = holder.join("faketime.rc");
        write_offset(&file, at);
        let options = ClusterOptions {
            server_env: vec![
                ("LD_PRELOAD".into(), lib.display().to_string()),
                ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
                ("FAKETIME_NO_CACHE".into(), "1".into()),
                ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
            ],
            ..fast_options()
        };
        let cluster = Cluster::start(options).expect("start a PostgreSQL on a fake clock");
        FakeClock { cluster, file }
    }

    /// Moves the server's wall clock to `at` (and on from there), for every
    /// backend at its next clock read.
    pub fn set(&self, at: OffsetDateTime) {
        write_offset(&self.file, at);
    }

    /// A new database on this cluster with the demo schema loaded.
    pub async fn demo_db(&self, name: &str) -> TestDb {
        let mut admin = PgConnection::connect(&self.cluster.admin_url())
            .await
            .expect("connect to the fake-clock cluster");
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create a database on the fake-clock cluster");
        let db = TestDb::new(name, &self.cluster.url(name));
        db.exec(DEMO_SCHEMA).await;
        db
    }
}

impl Drop for FakeClock {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A fresh directory under the system temp dir that any user can read.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "quota-faketime-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create the faketime directory");
    set_mode(&dir, 0o755);
    dir
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .expect("make the faketime file readable by the server");
}

/// libfaketime's relative form, `+N`/`-N` seconds from the real clock, so
/// the fake clock keeps running; replaced atomically so a backend never
/// reads half a file.
fn write_offset(file: &Path, at: OffsetDateTime) {
    let offset = at.unix_timestamp() - OffsetDateTime::now_utc().unix_timestamp();
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{offset:+}\n")).expect("write the faketime offset");
    set_mode(&tmp, 0o644);
    std::fs::rename(&tmp, file).expect("replace the faketime offset");
}
