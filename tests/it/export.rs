//! `quota migrate export --supabase DIR`: the files `supabase db reset`
//! replays, applied here as it applies them (in name order) by real `psql
//! -v ON_ERROR_STOP=1 -f`, then checked by `migrate status` and `verify`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;
use crate::supabase;

/// A directory of its own, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("quota-export-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// File names, sorted, with their bytes.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    fn names(&self) -> Vec<String> {
        self.files().into_iter().map(|(n, _)| n).collect()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn export(dir: &Dir, extra: &[&str]) -> Output {
    let mut args = vec!["migrate", "export", "--supabase", dir.path()];
    args.extend_from_slice(extra);
    // No database is needed; an unreachable one proves none is touched.
    quota_with_url("postgres://nobody@127.0.0.1:1/none", &args)
}

/// `psql -v ON_ERROR_STOP=1 -f file`, as a migration runner would.
fn psql(url: &str, file: &Path) -> Output {
    Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .output()
        .expect("run psql")
}

/// Applies every file of `dir` in name order, as `supabase db reset` does.
fn replay(dir: &Dir, url: &str) {
    for name in dir.names() {
        let out = psql(url, &dir.0.join(&name));
        assert!(
            out.status.success(),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

fn states(out: &Output) -> Vec<(String, String)> {
    json(out)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `migrate status` shows every version applied (none drifted) and
/// `verify` exits 0, through `url`.
fn assert_installed(url: &str) {
    let out = quota_with_url(url, &["migrate", "status", "--format", "json"]);
    assert_success(&out);
    let status = json(&out);
    assert_eq!(status["database_version"], status["latest_version"]);
    for m in status["migrations"].as_array().unwrap() {
        assert_eq!(m["state"], "applied", "{m}");
    }
    assert_success(&quota_with_url(url, &["verify"]));
}

/// The names export gives every embedded version, numbered one second
/// apart after `base`: `<base + N>_quota_v<N>_<name>.sql`.
fn exported_names(base: u64) -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations");
    let mut names: Vec<(u64, String)> = std::fs::read_dir(dir)
        .expect("read sql/migrations")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| {
            let (version, name) = f
                .strip_prefix('V')?
                .strip_suffix(".sql")?
                .split_once("__")?;
            let version: u64 = version.parse().ok()?;
            Some((
                version,
                format!("{}_quota_v{version}_{name}.sql", base + version),
            ))
        })
        .collect();
    names.sort();
    names.into_iter().map(|(_, n)| n).collect()
}

#[tokio::test]
async fn exported_files_replayed_by_psql_install_what_apply_would() {
    let db = empty_db().await;
    let dir = Dir::new();
    // The application's own migration comes first, as in a Supabase project.
    std::fs::write(dir.0.join("20240101000000_app_tables.sql"), DEMO_SCHEMA).unwrap();
    let out = export(&dir, &["--format", "json"]);
    assert_success(&out);
    let written = states(&out);
    let expected = exported_names(20240101000000);
    assert_eq!(
        written.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(written.iter().all(|(_, s)| s == "written"));

    replay(&dir, &db.url);
    assert_installed(&db.url);
    // The objects and the history agree, version by version.
    assert_consistent(&db).await;

    // A second export changes nothing, byte for byte.
    let before = dir.files();
    let out = export(&dir, &[]);
    assert_success(&out);
    assert!(stdout(&out).contains("unchanged"), "{}", stdout(&out));
    assert_eq!(dir.files(), before);

    // A file applied again refuses and changes nothing.
    let mut conn = db.connect().await;
    let snapshot = objects_by_version(&mut conn).await;
    let again = psql(
        &db.url,
        &dir.0
            .join("20240101000002_quota_v2_increment_usage_if_allowed.sql"),
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("quota V2 is already recorded"),
        "{}",
        stderr(&again)
    );
    assert_eq!(objects_by_version(&mut conn).await, snapshot);
    assert_installed(&db.url);

    // A newer quota adds only what is missing: here the last file.
    let last = dir.0.join(expected.last().unwrap());
    std::fs::remove_file(&last).unwrap();
    let out = export(&dir, &["--format", "json"]);
    assert_success(&out);
    let states = states(&out);
    assert_eq!(
        states.iter().filter(|(_, s)| s == "written").count(),
        1,
        "{states:?}"
    );
    assert_eq!(dir.files(), before);
}

#[tokio::test]
async fn export_refuses_edited_files_gaps_and_no_place() {
    let dir = Dir::new();
    // Nothing to place quota's files after: exit 2, nothing written.
    let out = export(&dir, &[]);
    assert_refused_with(&out, 2, "--after");
    assert!(dir.names().is_empty());

    assert_success(&export(&dir, &["--after", "20250102030405"]));
    assert_eq!(
        dir.names()[0],
        "20250102030406_quota_v1_usage_periods.sql",
        "numbered one second after --after"
    );
    let before = dir.files();

    // --after before quota's newest file would put a new version first.
    let newest = &before[before.len() - 1].0;
    std::fs::remove_file(dir.0.join(newest)).unwrap();
    let out = export(&dir, &["--after", "20200101000000"]);
    assert_refused_with(&out, 2, "before quota's newest file");
    assert_eq!(dir.files().len(), versions().len() - 1);
    assert_success(&export(&dir, &[]));
    assert_eq!(dir.files(), before);

    // An edited file is refused, naming it; nothing is written.
    let v3 = dir.0.join(&before[2].0);
    std::fs::write(&v3, "-- edited\n").unwrap();
    std::fs::remove_file(dir.0.join(newest)).unwrap();
    let out = export(&dir, &[]);
    assert_refused_with(&out, 4, "differs from what this build exports for V3");
    assert_eq!(dir.files().len(), versions().len() - 1);
    std::fs::write(&v3, &before[2].1).unwrap();

    // A version missing below an exported one would sort after it.
    std::fs::remove_file(dir.0.join(&before[1].0)).unwrap();
    let out = export(&dir, &[]);
    assert_refused_with(&out, 4, "not V2");
    assert_eq!(dir.files().len(), versions().len() - 2);

    // A new file may not take the version (digits) of a migration already there.
    let other = Dir::new();
    std::fs::write(other.0.join("20240101000002_app_later.sql"), "SELECT 1;\n").unwrap();
    let out = export(&other, &["--after", "20240101000000"]);
    assert_refused_with(&out, 2, "would have the version 20240101000002");
    assert_eq!(other.names(), ["20240101000002_app_later.sql"]);

    // Bad input: exit 2.
    assert_refused_with(
        &export(&dir, &["--after", "2024-01-01"]),
        2,
        "YYYYMMDDHHMMSS",
    );
    let out = quota_with_url(
        "postgres://nobody@127.0.0.1:1/none",
        &["migrate", "export", "--supabase", "/nonexistent/quota-dir"],
    );
    assert_refused_with(&out, 2, "is not a directory");
}

/// On the Supabase-shaped cluster, as `postgres` (not a superuser), the
/// files replayed by psql install quota as `migrate apply` would.
#[tokio::test]
async fn exported_files_install_on_supabase_as_postgres() {
    let db = supabase::supabase_db().await;
    let dir = Dir::new();
    assert_success(&export(&dir, &["--after", "20240601000000"]));
    replay(&dir, &db.url);
    assert_installed(&db.url);
    // The history is out of the API's reach, as apply leaves it.
    let out = db.quota(&["check", "security"]);
    assert_success(&out);
}

/// The Supabase CLI sends each file's statements as one batch on one
/// connection (one implicit transaction, then its own history row). The
/// same here: each file as one multi-statement message. The explicit
/// `BEGIN`/`COMMIT` inside keep a file whole; a refused one leaves nothing.
#[tokio::test]
async fn exported_files_sent_as_one_batch_each_install_too() {
    use sqlx::Executor;
    let db = demo_db().await;
    let dir = Dir::new();
    assert_success(&export(&dir, &["--after", "20240101000000"]));
    let mut conn = db.connect().await;
    for (name, bytes) in dir.files() {
        let sql = String::from_utf8(bytes).unwrap();
        conn.execute(sqlx::raw_sql(&sql))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert_installed(&db.url);
    let snapshot = objects_by_version(&mut conn).await;
    let (name, v3) = &dir.files()[2];
    let err = conn
        .execute(sqlx::raw_sql(std::str::from_utf8(v3).unwrap()))
        .await
        .expect_err("a file applied twice refuses");
    assert!(
        err.to_string().contains("quota V3 is already recorded"),
        "{name}: {err}"
    );
    drop(conn);
    let mut conn = db.connect().await;
    assert_eq!(objects_by_version(&mut conn).await, snapshot);
    assert_eq!(recorded_versions(&mut conn).await, versions());
}
