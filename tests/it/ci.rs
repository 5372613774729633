//! CI-grade output: JUnit, GitHub annotations, JSON error documents, and
//! the rough edges of running quota from scripts and odd terminals.

use std::process::{Command, Output, Stdio};

use sqlx::Executor;

use crate::common::*;

/// The documented GitHub Actions job lives in docs/ci.md.
const CI_DOC: &str = include_str!("../../docs/ci.md");

/// The `quota` command lines of the documented GitHub Actions job, as
/// argument lists (without `quota`), and the file each one's stdout is
/// redirected to.
fn readme_job_commands() -> Vec<(Vec<String>, Option<String>)> {
    let start = CI_DOC
        .find("<!-- ci-job:")
        .expect("docs/ci.md has the CI job marker");
    let block = &CI_DOC[start..];
    let block = &block[block
        .find("```yaml")
        .expect("a yaml block after the marker")..];
    let block = &block[..block[7..].find("```").expect("the block ends") + 7];
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: quota "))
        .map(|cmd| {
            let (args, redirect) = match cmd.split_once('>') {
                Some((args, file)) => (args, Some(file.trim().to_string())),
                None => (cmd, None),
            };
            (
                args.split_whitespace().map(str::to_string).collect(),
                redirect,
            )
        })
        .collect()
}

/// Runs the documented job's quota commands in order on `db`, as GitHub would
/// (with `GITHUB_ACTIONS=true`); returns the last command's output.
fn run_readme_job(db: &TestDb) -> Output {
    let commands = readme_job_commands();
    let shape: Vec<String> = commands.iter().map(|(a, _)| a.join(" ")).collect();
    assert_eq!(
        shape,
        vec!["migrate apply", "verify --format junit"],
        "the job in docs/ci.md changed: update this test with it"
    );
    assert_eq!(commands[1].1.as_deref(), Some("quota-junit.xml"));
    let mut last = None;
    for (args, _) in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = quota_cmd(&db.url, &args)
            .env("GITHUB_ACTIONS", "true")
            .output()
            .expect("run quota");
        last = Some(out);
    }
    last.unwrap()
}

/// One test case of a JUnit document: name, and its failure message if any.
#[derive(Debug)]
struct Case {
    name: String,
    failure: Option<String>,
    skipped: bool,
}

/// Parses JUnit XML (a real XML parser: malformed output fails here).
fn junit_cases(xml: &str) -> Vec<Case> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}):\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "{xml}");
    let suite = root
        .children()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    let cases: Vec<Case> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|c| Case {
            name: c.attribute("name").unwrap().to_string(),
            failure: c
                .children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| f.attribute("message").unwrap_or_default().to_string()),
            skipped: c.children().any(|n| n.has_tag_name("skipped")),
        })
        .collect();
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    assert_eq!(
        suite.attribute("tests"),
        Some(cases.len().to_string().as_str())
    );
    assert_eq!(
        suite.attribute("failures"),
        Some(failures.to_string().as_str())
    );
    cases
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_github_actions_job_runs_as_written() {
    // The service database with the application's schema loaded.
    let db = demo_db().await;
    let out = run_readme_job(&db);
    assert_success(&out);
    let cases = junit_cases(&stdout(&out));
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["routine", "schema", "trigger", "grants", "security", "drift", "tiers"]
    );
    assert!(cases.iter().all(|c| c.failure.is_none()), "{cases:?}");
    assert!(
        !stderr(&out).contains("::error"),
        "no annotation for a clean install: {}",
        stderr(&out)
    );

    // Someone disables the clip trigger: the next CI run must go red, on the
    // trigger test case, with an annotation for the pull request.
    db.exec("ALTER TABLE public.clips DISABLE TRIGGER enforce_clip_limit_trigger")
        .await;
    let out = run_readme_job(&db);
    assert_exit(&out, 1);
    let cases = junit_cases(&stdout(&out));
    let trigger = cases.iter().find(|c| c.name == "trigger").unwrap();
    let message = trigger.failure.as_deref().expect("the trigger case fails");
    assert!(message.contains("disabled"), "{message}");
    assert!(message.contains("; hint: "), "{message}");
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.starts_with("::error title=quota verify%3A trigger::")),
        "{err}"
    );
    assert!(err
        .lines()
        .last()
        .unwrap()
        .starts_with("error: check failed: trigger"));
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_is_for_one_check_too_and_only_for_checks() {
    let db = demo_db().await;
    let out = db.quota(&["check", "schema", "--format", "junit"]);
    assert_success(&out);
    let cases = junit_cases(&stdout(&out));
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].name, "schema");
    assert!(!cases[0].skipped && cases[0].failure.is_none());

    // --format junit anywhere else is a usage error, before any work.
    let out = db.quota(&["migrate", "apply", "--format", "junit"]);
    assert_exit_with(&out, 2, "only for `quota verify` and `quota check`");
    assert!(recorded_versions(&mut db.connect().await).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_reports_an_unreachable_database_as_an_error_case() {
    let out = quota_with_url(
        "postgres://u:junit-secret@127.0.0.1:1/postgres",
        &["verify", "--format", "junit", "--connect-timeout", "2"],
    );
    assert_exit(&out, 3);
    let xml = stdout(&out);
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let error = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an <error> case");
    assert_eq!(error.attribute("type"), Some("connect"));
    assert!(error
        .attribute("message")
        .unwrap()
        .contains("cannot connect"));
    assert!(!xml.contains("junit-secret") && !stderr(&out).contains("junit-secret"));
}

// ---- JSON error documents -----------------------------------------------------------------

/// The `error` object of a failing command's stdout, which must be exactly
/// one JSON document.
#[track_caller]
fn error_doc(out: &Output, code: i64, kind: &str) -> serde_json::Value {
    let doc = json(out);
    let e = &doc["error"];
    assert_eq!(e["kind"], kind, "{doc}");
    assert_eq!(e["exit_code"], code, "{doc}");
    assert_eq!(out.status.code(), Some(code as i32));
    let message = e["message"].as_str().unwrap();
    assert!(
        stderr(out).contains(message),
        "message is the stderr line: {doc}"
    );
    assert!(!e["hint"].as_str().unwrap().is_empty(), "{doc}");
    e.clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_commands_print_one_json_error_document() {
    let db = demo_db().await;
    // Usage error, found by clap before any connection.
    let e = error_doc(
        &db.quota(&["user", "not-a-uuid", "--format", "json"]),
        2,
        "usage",
    );
    assert!(
        e["message"].as_str().unwrap().contains("is not a UUID"),
        "{e}"
    );
    let e = error_doc(
        &db.quota(&["--format=json", "migrate", "apply", "--target", "x"]),
        2,
        "usage",
    );
    assert!(e["hint"].as_str().unwrap().contains("--help"), "{e}");

    // Connection refused: exit 3, the password nowhere.
    let out = quota_with_url(
        "postgres://u:json-secret-pw@127.0.0.1:1/postgres",
        &[
            "migrate",
            "status",
            "--format",
            "json",
            "--connect-timeout",
            "2",
        ],
    );
    let e = error_doc(&out, 3, "connect");
    assert!(e["hint"].as_str().unwrap().starts_with("check "), "{e}");
    assert!(!stdout(&out).contains("json-secret-pw"));
    assert!(!stderr(&out).contains("json-secret-pw"));

    // Precondition: quota not installed yet.
    let e = error_doc(
        &db.quota(&["report", "summary", "--format", "json"]),
        4,
        "precondition",
    );
    assert!(
        e["hint"].as_str().unwrap().contains("quota migrate apply"),
        "{e}"
    );

    // A failed verify prints its verdict, and only that (exit 4: quota is
    // not installed here).
    let out = db.quota(&["verify", "--format", "json"]);
    assert_exit(&out, 4);
    let doc = json(&out);
    assert_eq!(doc["passed"], false);
    assert!(doc.get("error").is_none(), "{doc}");

    // Without --format json stdout stays empty on error.
    let out = db.quota(&["report", "summary"]);
    assert_exit(&out, 4);
    assert!(stdout(&out).is_empty());
}

// ---- rough edges ----------------------------------------------------------------------------

/// Runs quota under `script`, whose pseudo-terminal reports 0 columns when
/// there is no terminal around it (as on many CI runners).
fn quota_in_zero_column_tty(db: &TestDb, args: &[&str]) -> String {
    let mut line = env!("CARGO_BIN_EXE_quota").to_string();
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    let out = Command::new(crate::common::prereq::SCRIPT.path())
        .args(["-qec", &line, "/dev/null"])
        .env("DATABASE_URL", &db.url)
        // Colour on: a terminal that asks for it is where the width was used.
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .output()
        .expect("`script` (util-linux) runs");
    assert!(out.status.success(), "{}", stdout(&out));
    stdout(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_with_zero_columns_gets_full_width_tables() {
    let db = installed_db().await;
    let size = Command::new(crate::common::prereq::SCRIPT.path())
        .args(["-qec", "stty size", "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(stdout(&size).trim(), "0 0", "the pty must report 0 columns");
    let shown = quota_in_zero_column_tty(&db, &["migrate", "status"]);
    assert!(
        shown
            .lines()
            .any(|l| l.contains("V2") && l.contains("increment_usage_if_allowed")),
        "{shown}"
    );
    let shown = quota_in_zero_column_tty(&db, &["user", FREE_USER]);
    assert!(shown.contains(FREE_USER), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_lock_timeout_is_one_line_with_the_blockers_pid() {
    let db = demo_db().await;
    assert_success(&db.quota(&["migrate", "apply", "--target", "2", "-q"]));
    let (mut blocker, pid) = hold_clip_insert(&db).await;
    let args = [
        "migrate",
        "apply",
        "-q",
        "--lock-timeout",
        "200",
        "--retries",
        "2",
    ];
    let out = db.quota(&args);
    // -q: no "retrying" lines, only the error.
    assert_refused(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("gave up on apply after 3 attempts"), "{err}");
    assert!(
        err.contains(&format!("SELECT pg_terminate_backend({pid})")),
        "{err}"
    );
    assert!(!err.contains("<pid>"), "{err}");
    // Without -q the retries are announced.
    let out = db.quota(
        &args[..2]
            .iter()
            .chain(&args[3..])
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_exit(&out, 4);
    assert_eq!(
        stderr(&out).matches("retrying in").count(),
        2,
        "{}",
        stderr(&out)
    );
    // The JSON error carries the same hint.
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let e = error_doc(&db.quota(&json_args), 4, "precondition");
    assert!(
        e["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("pg_terminate_backend({pid})")),
        "{e}"
    );
    blocker.execute("ROLLBACK").await.unwrap();
    assert_eq!(assert_consistent(&db).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn null_scrape_limits_are_at_the_limit_in_reports() {
    let db = installed_db().await;
    db.exec(&format!(
        "UPDATE public.users SET plan_limits_scrapes = NULL, usage_this_month = 0 WHERE id = '{FREE_USER}'"
    ))
    .await;
    let user = json(&db.quota(&["user", FREE_USER, "--format", "json"]));
    assert_eq!(user["limit_reached"], true, "{user}");

    let at = json(&db.quota(&["report", "at-limit", "--format", "json"]));
    let row = at["meters"][0]["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == FREE_USER && at["meters"][0]["meter"] == "scrapes")
        .unwrap_or_else(|| panic!("the blocked user is at its limit: {at}"));
    assert!(row["limit"].is_null(), "{row}");
    let table = stdout(&db.quota(&["report", "at-limit"]));
    assert!(table.contains("none (admits nothing)"), "{table}");

    let summary = json(&db.quota(&["report", "summary", "--format", "json"]));
    // The demo's limited user (5 of 5) and the NULL-limit user.
    assert_eq!(summary["meters"][0]["meter"], "scrapes", "{summary}");
    assert_eq!(summary["meters"][0]["at_limit"], 2, "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_without_tls_names_verify_full() {
    let db = demo_db().await;
    for mode in ["verify-full", "verify-ca"] {
        let url = format!("{}?sslmode={mode}", db.url);
        let out = quota_with_url(&url, &["migrate", "status"]);
        assert_refused(&out, 3);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("with sslmode={mode} the server must have ssl=on")),
            "{err}"
        );
        assert!(!err.contains("sslmode=require the server"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_delimiters_in_a_url_password_say_percent_encode() {
    let db = demo_db().await;
    let u = url::Url::parse(&db.url).unwrap();
    let host = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
    for password in ["Zq7/Xk9#Wm3", "Zq7?Xk9@Wm3", "Zq7@Xk9/Wm3"] {
        let url = format!("postgres://postgres:{password}@{host}{}", u.path());
        let out = quota_with_url(&url, &["migrate", "status"]);
        assert_refused(&out, 2);
        let err = stderr(&out);
        assert!(err.contains("percent-encode"), "{err}");
        assert!(err.contains("%2F") || err.contains("%3F"), "{err}");
        assert!(!err.contains("lookup address"), "{err}");
        for part in password.split(['/', '#', '?', '@']) {
            assert!(!err.contains(part), "password part {part:?} printed: {err}");
        }
        let out = quota_with_url(&url, &["migrate", "status", "--format", "json"]);
        let e = error_doc(&out, 2, "usage");
        assert!(
            e["hint"].as_str().unwrap().starts_with("percent-encode"),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_targets_follow_one_rule() {
    let db = demo_db().await;
    assert_success(&db.quota(&["migrate", "apply", "--target", "2", "-q"]));
    // Already past the target in the command's direction: met, exit 0, a
    // warning naming the command that goes there; nothing changes.
    let met: [(&[&str], &str); 3] = [
        (
            &["migrate", "rollback", "--yes", "--target", "3"],
            "warning: the database is at V2, below --target 3: nothing to roll back (rollback \
             never installs a version); use `quota migrate apply --target 3`",
        ),
        (
            &["migrate", "rollback", "--dry-run", "--target", "3", "-q"],
            "warning: the database is at V2, below --target 3: nothing to roll back (rollback \
             never installs a version); use `quota migrate apply --target 3`",
        ),
        (
            &["migrate", "apply", "--target", "1"],
            "warning: the database is at V2, above --target 1: nothing to apply (apply never \
             removes a version); use `quota migrate rollback --target 1`",
        ),
    ];
    for (args, warning) in met {
        let out = db.quota(args);
        assert_success(&out);
        assert_eq!(stderr(&out).trim(), warning, "{args:?}");
    }
    let out = db.quota(&["migrate", "apply", "--target", "1", "--format", "json"]);
    assert_success(&out);
    let doc = json(&out);
    assert_eq!(doc["database_version"], 2, "{doc}");
    assert_eq!(doc["steps"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(assert_consistent(&db).await, 2);

    // A version no migration has: a usage error for both commands.
    let beyond = (latest() + 1).to_string();
    for args in [
        &["migrate", "rollback", "--yes", "--target", &beyond][..],
        &["migrate", "apply", "--target", &beyond],
    ] {
        let out = db.quota(args);
        assert_refused(&out, 2);
        assert_eq!(
            stderr(&out).trim(),
            format!(
                "error: --target {beyond} is beyond the newest migration (V{})",
                latest()
            ),
            "{args:?}"
        );
    }
    // At the target: nothing to do and nothing to say.
    for args in [
        &["migrate", "apply", "--target", "2"][..],
        &["migrate", "rollback", "--yes", "--target", "2"],
    ] {
        let out = db.quota(args);
        assert_success(&out);
        assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    }
    assert_eq!(assert_consistent(&db).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn attempts_count_transactions_for_apply_rollback_and_repair() {
    let db = demo_db().await;
    let apply = json(&db.quota(&["migrate", "apply", "--format", "json"]));
    assert_eq!(apply["attempts"], versions().len(), "{apply}");
    let again = json(&db.quota(&["migrate", "apply", "--format", "json"]));
    assert_eq!(again["attempts"], 0, "nothing to do: {again}");
    let repair = json(&db.quota(&["migrate", "apply", "--repair", "--format", "json"]));
    // Repair re-runs every applied version in one transaction.
    assert_eq!(repair["attempts"], 1, "{repair}");
    assert_eq!(
        repair["steps"].as_array().unwrap().len(),
        versions().len(),
        "{repair}"
    );
    let rollback = json(&db.quota(&[
        "migrate", "rollback", "--yes", "--target", "1", "--format", "json",
    ]));
    assert_eq!(rollback["attempts"], versions().len() - 1, "{rollback}");
}

#[tokio::test(flavor = "multi_thread")]
async fn race_says_when_concurrency_is_capped() {
    let db = installed_db().await;
    let out = db.quota(&[
        "race",
        "--concurrency",
        "300",
        "--attempts",
        "8",
        "--format",
        "json",
    ]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("--concurrency 300 capped to 8"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out)["concurrency"], 8);
}

/// `quota … | head` closes stdout early: no panic, no error, exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_goes_away_is_not_a_panic() {
    let db = installed_db().await;
    for args in [
        &["migrate", "status"][..],
        &["migrate", "rollback", "--dry-run", "--target", "0"],
        &["verify", "--format", "json"],
    ] {
        let mut child = quota_cmd(&db.url, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run quota");
        // Closed before quota has connected, so its write meets a closed pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for quota");
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_exit(&out, 0);
    }
}

/// A role that row level security filters is told so, instead of hearing
/// that an existing user does not exist.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_hidden_by_row_level_security_is_not_called_missing() {
    let db = installed_db().await;
    let (role, url) = login_role(&db, "rls").await;
    db.exec(&format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, UPDATE ON public.users, public.user_usage TO {role};"
    ))
    .await;
    for args in [
        &["user", FREE_USER][..],
        &["reset-user", FREE_USER, "--yes"],
    ] {
        let out = quota_with_url(&url, args);
        assert_refused(&out, 4);
        let err = stderr(&out);
        assert!(err.contains("row level security"), "{args:?}: {err}");
        assert!(err.contains(&role), "{args:?}: {err}");
    }
    // A genuinely unknown user, seen by the owner, is still just unknown.
    let out = db.quota(&["user", "99999999-9999-4999-8999-999999999999"]);
    assert_refused(&out, 4);
    assert!(!stderr(&out).contains("row level security"));
}

/// A table of the contract dropped after install: a precondition (exit 4)
/// pointing at the schema check, not an internal error; nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_clips_table_is_a_precondition_for_race_and_rollback() {
    let db = installed_db().await;
    db.exec("ALTER TABLE public.clips RENAME TO clips_old")
        .await;
    let out = db.quota(&["race", "--target", "rpc"]);
    assert_refused(&out, 4);
    let out = db.quota(&["race", "--target", "trigger"]);
    assert_refused_with(&out, 4, "quota check schema");
    let out = db.quota(&["migrate", "rollback", "--target", "0", "--yes"]);
    assert_refused_with(&out, 4, "quota check schema");
    db.exec("ALTER TABLE public.clips_old RENAME TO clips")
        .await;
    assert_eq!(assert_consistent(&db).await, latest(), "it stays applied");
}

/// `call --commit` of a refused call says nothing was counted.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_committed_call_says_nothing_counted() {
    let db = installed_db().await;
    let limited = "33333333-3333-4333-8333-333333333333";
    let out = db.quota(&["call", limited, "--commit"]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains("not allowed: nothing counted"), "{text}");
    assert!(!text.contains("the call counted"), "{text}");
}

/// Negative numbers get the option's own range message, not clap's
/// "unexpected argument '-0'".
#[test]
fn negative_numbers_get_the_range_message() {
    for (args, want) in [
        (
            &["report", "near-limit", "--threshold", "-0.5"][..],
            "not a share of the limit",
        ),
        (&["users", "--limit", "-1"], "not in 1..=100000"),
    ] {
        let out = quota_with_url("postgres://u@127.0.0.1:1/d", args);
        assert_refused(&out, 2);
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
}
