//! Many databases in one run: `--database-url` more than once for `verify`,
//! `check`, `migrate status` and `migrate apply --all`.

use std::process::Output;
use std::time::Duration;

use sqlx::{Connection, Executor};

use crate::common::*;

/// Nothing listens on port 1: a database that cannot be reached, with a
/// password that must never be printed.
const UNREACHABLE: &str = "postgres://ghost:unreachable-s3cret@127.0.0.1:1/nowhere";

/// quota with `--database-url` for each of `urls` (DATABASE_URL unset).
fn quota_many(urls: &[&str], args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    for u in urls {
        all.extend(["--database-url", u]);
    }
    let mut cmd = quota_cmd("", &all);
    cmd.env_remove("DATABASE_URL");
    cmd.output().expect("run quota")
}

/// No password of any of `urls` anywhere in the output.
#[track_caller]
fn assert_no_password(out: &Output, urls: &[&str]) {
    let all = format!("{}{}", stdout(out), stderr(out));
    for u in urls {
        let password = password_of(u);
        if !password.is_empty() {
            assert!(!all.contains(&password), "password of {u} printed:\n{all}");
        }
    }
}

/// The URL as the report names it: without its password.
fn without_password(url: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    u.set_password(None).unwrap();
    u.to_string()
}

#[tokio::test]
async fn verify_checks_every_database_and_ends_with_the_worst() {
    let good = installed_db().await;
    let broken = installed_db().await;
    broken
        .exec("ALTER TABLE public.clips DISABLE TRIGGER enforce_clip_limit_trigger")
        .await;
    let urls = [good.url.as_str(), UNREACHABLE, broken.url.as_str()];

    let out = quota_many(&urls, &["verify", "--format", "json"]);
    // Cannot connect (3) outranks a failed check (1).
    assert_exit(&out, 3);
    assert_no_password(&out, &urls);
    let doc = json(&out);
    assert_eq!(doc["exit_code"], 3);
    let dbs = doc["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 3, "{doc}");
    for (entry, url) in dbs.iter().zip(urls) {
        assert_eq!(entry["url"], without_password(url).as_str());
    }
    assert_eq!(dbs[0]["outcome"], "ok");
    assert_eq!(dbs[0]["exit_code"], 0);
    assert_eq!(dbs[0]["report"]["passed"], true);
    assert_eq!(dbs[1]["outcome"], "error");
    assert_eq!(dbs[1]["error"]["kind"], "connect");
    assert_eq!(dbs[1]["error"]["exit_code"], 3);
    assert!(dbs[1]["report"].is_null());
    // The unreachable one did not stop the third from being checked.
    assert_eq!(dbs[2]["outcome"], "failed");
    assert_eq!(dbs[2]["exit_code"], 1);
    let failed: Vec<&str> = dbs[2]["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"trigger"), "{failed:?}");
    // One line on stderr naming the databases that failed.
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("2 of 3 databases"), "{err}");

    // Without the unreachable one, the worst is the failed check.
    let two = [good.url.as_str(), broken.url.as_str()];
    let out = quota_many(&two, &["verify", "--jobs", "1"]);
    assert_exit(&out, 1);
    let table = stdout(&out);
    assert_eq!(table.matches("\n== ").count() + 1, 2, "{table}");
    assert!(table.contains("2 databases: 1 ok, 1 failed"), "{table}");
    assert_no_password(&out, &two);

    // All good: exit 0.
    let out = quota_many(
        &[good.url.as_str(), good.url.as_str()],
        &["check", "routine"],
    );
    assert_success(&out);
}

#[tokio::test]
async fn junit_has_one_testsuite_per_database_named_without_password() {
    let good = installed_db().await;
    let urls = [good.url.as_str(), UNREACHABLE];
    let out = quota_many(&urls, &["verify", "--format", "junit"]);
    assert_exit(&out, 3);
    assert_no_password(&out, &urls);
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit");
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2, "{xml}");
    assert_eq!(
        suites[0].attribute("name"),
        Some(without_password(&good.url).as_str())
    );
    assert_eq!(suites[0].attribute("errors"), Some("0"));
    assert_eq!(
        suites[1].attribute("name"),
        Some(without_password(UNREACHABLE).as_str())
    );
    assert_eq!(suites[1].attribute("errors"), Some("1"));
    let root = doc.root_element();
    assert_eq!(root.attribute("errors"), Some("1"));
}

#[tokio::test]
async fn one_url_keeps_the_single_database_output() {
    let db = installed_db().await;
    let out = quota_many(&[db.url.as_str()], &["verify", "--format", "json"]);
    assert_success(&out);
    let doc = json(&out);
    assert!(doc.get("databases").is_none(), "{doc}");
    assert_eq!(doc["passed"], true);
}

#[tokio::test]
async fn status_of_many_and_apply_needs_all_and_stops_at_the_first_failure() {
    let installed = installed_db().await;
    let fresh = demo_db().await;
    let later = demo_db().await;

    let out = quota_many(
        &[installed.url.as_str(), fresh.url.as_str()],
        &["migrate", "status", "--format", "json"],
    );
    assert_success(&out);
    let doc = json(&out);
    assert_eq!(doc["databases"][0]["report"]["database_version"], latest());
    assert_eq!(doc["databases"][1]["report"]["database_version"], 0);

    // More than one database without --all: refused, nothing applied.
    let urls = [fresh.url.as_str(), UNREACHABLE, later.url.as_str()];
    let out = quota_many(&urls, &["migrate", "apply"]);
    assert_refused_with(&out, 2, "--all");
    let mut conn = fresh.connect().await;
    assert!(recorded_versions(&mut conn).await.is_empty());

    // --all: one at a time, stopping at the unreachable one.
    let out = quota_many(&urls, &["migrate", "apply", "--all", "--format", "json"]);
    assert_exit(&out, 3);
    assert_no_password(&out, &urls);
    let doc = json(&out);
    let outcomes: Vec<&str> = doc["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["ok", "error", "not_run"]);
    assert_eq!(doc["databases"][0]["report"]["database_version"], latest());
    assert_eq!(recorded_versions(&mut conn).await, versions());
    let mut later_conn = later.connect().await;
    assert!(recorded_versions(&mut later_conn).await.is_empty());
    assert!(stderr(&out).contains("not attempted"), "{}", stderr(&out));

    // Other commands take one database.
    let out = quota_many(&[fresh.url.as_str(), later.url.as_str()], &["users"]);
    assert_refused_with(&out, 2, "only verify, check, migrate status");
    // A malformed URL among many: exit 2 before anything runs.
    let out = quota_many(
        &[later.url.as_str(), "postgres://u:p@h:notaport/x"],
        &["migrate", "apply", "--all"],
    );
    assert_refused_with(&out, 2, "--database-url number 2");
    assert!(recorded_versions(&mut later_conn).await.is_empty());
}

/// `--jobs` bounds how many databases are checked at once: with both
/// databases' tables locked by another session, `--jobs 2` has quota
/// waiting on both at the same time; `--jobs 1` never opens the second
/// while the first waits.
#[tokio::test]
async fn jobs_bound_how_many_are_checked_at_once() {
    let first = installed_db().await;
    let second = installed_db().await;
    let admin = url_for("postgres");
    for (jobs, both_at_once) in [("2", true), ("1", false)] {
        let mut lockers = Vec::new();
        for db in [&first, &second] {
            let mut locker = db.connect().await;
            locker.execute("BEGIN").await.unwrap();
            locker
                .execute("LOCK TABLE public.users, public.user_usage, public.clips IN ACCESS EXCLUSIVE MODE")
                .await
                .unwrap();
            lockers.push(locker);
        }
        let mut cmd = quota_cmd("", &["verify", "--jobs", jobs, "--format", "json"]);
        for db in [&first, &second] {
            cmd.args(["--database-url", &db.url]);
        }
        cmd.env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::piped());
        let child = cmd.spawn().unwrap();
        let names = [first.name.clone(), second.name.clone()];
        wait_until_async(
            Duration::from_secs(90),
            "quota never waited on a locked database",
            async || !quota_waiting(&admin, &names).await.is_empty(),
        )
        .await;
        if both_at_once {
            wait_until_async(
                Duration::from_secs(90),
                "--jobs 2 never checked both databases at once",
                async || quota_waiting(&admin, &names).await.len() == 2,
            )
            .await;
        } else {
            // However long we wait, the second is not opened while the first waits.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            assert_eq!(quota_sessions(&admin, &names).await, 1, "--jobs 1");
        }
        for mut locker in lockers {
            locker.execute("ROLLBACK").await.unwrap();
        }
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert_success(&out);
        assert_eq!(json(&out)["databases"].as_array().unwrap().len(), 2);
    }
}

/// The databases among `names` where a quota session waits for a lock.
async fn quota_waiting(admin: &str, names: &[String]) -> Vec<String> {
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query_scalar::<_, String>(
        "SELECT DISTINCT datname::text FROM pg_stat_activity WHERE datname = ANY($1) \
         AND application_name = 'quota' AND wait_event_type = 'Lock'",
    )
    .bind(names)
    .fetch_all(&mut c)
    .await
    .unwrap()
}

/// quota's sessions on the databases among `names`.
async fn quota_sessions(admin: &str, names: &[String]) -> i64 {
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query_scalar::<_, i64>(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1) \
         AND application_name = 'quota'",
    )
    .bind(names)
    .fetch_one(&mut c)
    .await
    .unwrap()
}
