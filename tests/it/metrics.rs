//! `quota metrics`: OpenMetrics text that promtool accepts, the same series
//! for 5 users as for 5,000, `--listen` serving scrapes through PgBouncer in
//! transaction mode (a failed or timed-out scrape is a 503 and the server
//! keeps serving), and the shipped alert rules and Grafana dashboard checked
//! against what quota emits.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::Connection;

use crate::common::{assert_success, demo_db, installed_db, quota_with_url, spawn_quota, stdout};
use crate::pooler::{self, Mode};
use crate::supabase;

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs");

/// promtool, from Debian's `prometheus` package (`.ci/run` installs it).
fn promtool(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut child = Command::new(crate::common::prereq::PROMTOOL.path())
        .args(args)
        .current_dir(Path::new(DOCS).join("prometheus"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool: install Debian's prometheus package (apt-get install --no-install-recommends prometheus)");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// The sample lines (not comments) of OpenMetrics text.
fn samples(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect()
}

/// The metric names in OpenMetrics text.
fn names(text: &str) -> BTreeSet<String> {
    samples(text)
        .iter()
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_openmetrics_per_meter_and_tier_and_promtool_accepts_them() {
    let db = supabase::supabase_installed_db().await;
    let url = pooler::through(&db.url, Mode::Transaction);
    let out = quota_with_url(&url, &["metrics", "--verify"]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    let check = promtool(&["check", "metrics"], Some(&text));
    assert!(
        check.status.success(),
        "promtool: {}{}",
        stdout(&check),
        String::from_utf8_lossy(&check.stderr)
    );
    for line in samples(&text) {
        assert!(line.starts_with("quota_"), "{line}");
        assert!(!line.contains("user"), "no per-user label: {line}");
    }
    for id in ["1111", "2222", "3333", "4444", "@example.com"] {
        assert!(!text.contains(id), "no user in the metrics: {id}");
    }
    for sample in [
        "quota_subjects{meter=\"clips\",tier=\"free\"} 3",
        "quota_subjects{meter=\"scrapes\",tier=\"pro\"} 1",
        "quota_at_limit{meter=\"clips\",tier=\"free\"} 1",
        "quota_at_limit{meter=\"scrapes\",tier=\"free\"} 1",
        "quota_near_limit{meter=\"clips\",tier=\"free\"} 1",
        "quota_limit{meter=\"clips\",tier=\"pro\"} 1000",
        "quota_usage{meter=\"scrapes\",tier=\"free\"} 9",
        "quota_subjects_without_limit{meter=\"clips\",tier=\"free\"} 0",
        "quota_near_limit_threshold 0.9",
        "quota_verify_ok 1",
        "quota_verify_check_ok{check=\"security\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == sample),
            "{sample} missing:\n{text}"
        );
    }
    let json = crate::common::json(&quota_with_url(&url, &["metrics", "--format", "json"]));
    assert!(json["tiers"].as_array().unwrap().len() >= 4, "{json}");
    assert!(json["verify"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn five_users_and_five_thousand_give_the_same_series() {
    let small = installed_db().await;
    let large = installed_db().await;
    let mut c = small.connect().await;
    crate::common::add_user(&mut c, 1, Some(5), "free").await;
    large
        .exec(
            "INSERT INTO public.users (id, email, usage_this_month, plan_limits_scrapes, subscription_tier)
             SELECT gen_random_uuid(), 'bulk' || i || '@example.com', i % 7, 5 + (i % 3) * 995,
                    CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END
               FROM generate_series(1, 4996) AS i;
             INSERT INTO public.user_usage (user_id, clips_this_month)
             SELECT id, 10 FROM public.users WHERE email LIKE 'bulk%' AND usage_this_month % 2 = 0",
        )
        .await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM public.users")
        .fetch_one(&mut large.connect().await)
        .await
        .unwrap();
    assert_eq!(count, 5000);
    let a = stdout(&small.quota(&["metrics"]));
    let b = stdout(&large.quota(&["metrics"]));
    let series = |t: &str| -> Vec<String> {
        samples(t)
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(series(&a), series(&b), "same series, other values");
    assert_ne!(a, b);
    assert!(series(&b).len() < 60, "{b}");
}

/// One HTTP GET; the status code, headers and body.
pub fn get(addr: &str, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head.to_string(), body.to_string())
}

/// `quota metrics --listen 127.0.0.1:0 ARGS` started; the address it
/// serves (read from its stderr) and a thread collecting the rest of stderr.
pub fn listen(
    url: &str,
    args: &[&str],
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut all = vec!["metrics", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut child = spawn_quota(url, &all);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split("/metrics").next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        err.read_to_string(&mut rest).ok();
        rest
    });
    (child, addr, drain)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_of_an_unreachable_database_is_a_503_without_the_password() {
    let url = "postgres://postgres:scrape-secret-pw@127.0.0.1:1/postgres";
    let (child, addr, drain) = listen(url, &["--connect-timeout", "5"]);
    let (code, _, body) = tokio::task::spawn_blocking(move || get(&addr, "/metrics"))
        .await
        .unwrap();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.starts_with("quota: scrape failed: "), "{body}");
    let out = crate::common::interrupt_async(child).await;
    assert_eq!(out.status.code(), Some(0));
    let rest = drain.join().unwrap();
    assert!(
        !body.contains("scrape-secret-pw") && !rest.contains("scrape-secret-pw"),
        "{rest}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_serves_scrapes_and_a_failed_one_is_a_503_that_keeps_serving() {
    let db = supabase::supabase_installed_db().await;
    let url = pooler::through(&db.url, Mode::Transaction);
    let (child, addr, drain) = listen(&url, &["--statement-timeout", "300"]);

    let (code, head, body) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || get(&addr, "/metrics")
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{head}\n{body}");
    assert!(
        head.contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(body.trim_end().ends_with("# EOF"));

    // A table the scrape reads is locked: the statement timeout ends the
    // scrape, the answer is 503 with one line, and the server goes on.
    let mut holder = sqlx::PgConnection::connect(&db.admin_url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE public.clip_limits IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let (code, _, body) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || get(&addr, "/metrics")
    })
    .await
    .unwrap();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");
    assert!(body.contains("statement timeout"), "{body}");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();

    let (code, _, body) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || {
            let (code, _, _) = get(&addr, "/nothing-here");
            assert_eq!(code, 404);
            get(&addr, "/metrics")
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("quota_subjects{meter=\"clips\",tier=\"free\"}"));

    let out = crate::common::interrupt_async(child).await;
    assert_eq!(out.status.code(), Some(0), "stops cleanly on a signal");
    let rest = drain.join().unwrap();
    assert!(
        rest.contains("scrape failed") && rest.contains("stopped serving"),
        "{rest}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_rules_and_dashboard_use_only_what_quota_emits() {
    let rules = promtool(&["check", "rules", "quota-rules.yml"], None);
    assert!(rules.status.success(), "{}", stdout(&rules));
    let tests = promtool(&["test", "rules", "quota-rules.test.yml"], None);
    assert!(
        tests.status.success(),
        "{}{}",
        stdout(&tests),
        String::from_utf8_lossy(&tests.stderr)
    );

    let db = installed_db().await;
    let emitted = names(&stdout(&db.quota(&["metrics", "--verify"])));
    let used = |text: &str| -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut rest = text;
        while let Some(i) = rest.find("quota_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            found.insert(name);
        }
        found
    };
    let dashboard = std::fs::read_to_string(Path::new(DOCS).join("grafana/quota.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{panel}");
        exprs.extend(
            targets
                .iter()
                .map(|t| t["expr"].as_str().unwrap().to_string()),
        );
    }
    let mut in_dashboard = BTreeSet::new();
    for e in &exprs {
        in_dashboard.extend(used(e));
    }
    let rules_text =
        std::fs::read_to_string(Path::new(DOCS).join("prometheus/quota-rules.yml")).unwrap();
    for (what, names) in [("dashboard", in_dashboard), ("rules", used(&rules_text))] {
        assert!(!names.is_empty());
        for n in &names {
            // `quota_near_limit_threshold` etc. are names; `quota_verify` alone is prose.
            if n.ends_with('_') || n == "quota_verify" {
                continue;
            }
            assert!(
                emitted.contains(n),
                "the {what} uses {n}, which quota does not emit: {emitted:?}"
            );
        }
    }
    // The verdict follows verify: a disabled trigger fails it.
    db.exec("ALTER TABLE public.clips DISABLE TRIGGER enforce_clip_limit_trigger")
        .await;
    let text = stdout(&db.quota(&["metrics", "--verify"]));
    assert!(text.lines().any(|l| l == "quota_verify_ok 0"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "quota_verify_check_ok{check=\"trigger\"} 0"),
        "{text}"
    );
    assert!(text
        .lines()
        .any(|l| l == "quota_verify_check_ok{check=\"schema\"} 1"));

    // Before install: a clear error, nothing printed.
    let bare = demo_db().await;
    let out = bare.quota(&["metrics"]);
    crate::common::assert_refused_with(&out, 4, "quota migrate apply");
}
