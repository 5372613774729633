//! `quota bench --meter NAME --user UUID…` on mapped meters, through
//! PgBouncer in transaction mode as `postgres`: a short run exits 0 with
//! the meter's ratio to the floor of its shape, and leaves the subjects'
//! counters, markers, limits and tiers, the application's rows and its
//! schema exactly as they were. Bad input changes nothing.

use crate::common::{assert_exit_with, assert_success, json, stdout};
use crate::mapped::{schema_dump, Mapped, DOCUMENTS, FREE, NEARLY, PRO, PROFILES};

/// Everything the bench may touch, as text rows: the subjects' rows, the
/// counter table's rows, quota's limits per tier, the metered table's row
/// count, and any scratch schema left behind.
async fn snapshot(m: &Mapped) -> Vec<String> {
    let mut c = m.db.connect_admin().await;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT x FROM (
           SELECT format('profile %s', to_jsonb(p)) AS x FROM public.profiles p
           UNION ALL
           SELECT format('page_usage %s', to_jsonb(u)) FROM public.page_usage u
            WHERE to_regclass('public.page_usage') IS NOT NULL
           UNION ALL
           SELECT format('limits %s', to_jsonb(l)) FROM quota.meter_limits l
           UNION ALL
           SELECT format('documents %s', (SELECT count(*) FROM public.documents))
            WHERE to_regclass('public.documents') IS NOT NULL
           UNION ALL
           SELECT format('schema %s', nspname) FROM pg_namespace WHERE nspname LIKE 'quota_bench%'
         ) AS all_of_it ORDER BY x",
    )
    .fetch_all(&mut c)
    .await
    .unwrap_or_else(|e| {
        // page_usage and documents exist only in schema (c).
        assert!(e.to_string().contains("does not exist"), "{e}");
        Vec::new()
    });
    rows
}

/// Profiles only (schema a has no page_usage or documents).
async fn profiles(m: &Mapped) -> Vec<String> {
    let mut c = m.db.connect_admin().await;
    sqlx::query_scalar(
        "SELECT x FROM (
           SELECT format('profile %s', to_jsonb(p)) AS x FROM public.profiles p
           UNION ALL
           SELECT format('schema %s', nspname) FROM pg_namespace WHERE nspname LIKE 'quota_bench%'
         ) AS all_of_it ORDER BY x",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

const SHORT: [&str; 6] = ["--seconds", "0.5", "--rounds", "1", "--warmup", "0.2"];

fn bench(m: &Mapped, meter: &str, users: &[&str], format: &str) -> std::process::Output {
    let mut args = vec!["--format", format, "bench", "--meter", meter];
    for u in users {
        args.extend(["--user", *u]);
    }
    args.extend(SHORT);
    m.quota(&args)
}

fn assert_ratio(report: &serde_json::Value, floor: &str, metered: &str) {
    let names: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [floor, metered], "{report}");
    for s in report["scenarios"].as_array().unwrap() {
        assert!(s["ops"].as_u64().unwrap() > 0, "{report}");
    }
    let ratio = report["ratio_to_floor"].as_f64().unwrap();
    assert!(ratio > 0.0, "{report}");
    assert_eq!(
        report["scenarios"][1]["ratio_to_floor"].as_f64(),
        Some(ratio),
        "{report}"
    );
    assert_eq!(
        report["scenarios"][1]["floor"].as_str(),
        Some(floor),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rpc_meter_against_its_update_floor_leaves_the_subjects_as_they_were() {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    m.install();
    // PRO sits 10 credits below a bigint limit of 5e9: saved and written back exactly.
    let before = (profiles(&m).await, schema_dump(&m.db).await);

    let out = bench(&m, "credits", &[FREE, PRO], "json");
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["meter"], "credits", "{report}");
    assert_eq!(report["kind"], "rpc", "{report}");
    assert_eq!(report["clients"], 2, "{report}");
    assert_ratio(&report, "update_floor", "function");
    assert_eq!((profiles(&m).await, schema_dump(&m.db).await), before);

    // The table: the same columns as the default bench, and the ratio.
    let out = bench(&m, "credits", &[NEARLY], "table");
    assert_success(&out);
    let text = stdout(&out);
    assert!(
        text.contains("vs floor") && text.contains("function / update floor :"),
        "{text}"
    );
    assert_eq!((profiles(&m).await, schema_dump(&m.db).await), before);
    assert_success(&m.quota(&["verify"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_a_trigger_meter_against_an_insert_floor_leaves_counters_rows_and_schema() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    m.install();
    // FREE has a counter row with a period marker; PRO has none (created
    // for the bench, deleted again).
    m.db.exec(&format!(
        "INSERT INTO public.documents (owner_id, title, pages) VALUES ('{FREE}', 'a', 7)"
    ))
    .await;
    let before = (snapshot(&m).await, schema_dump(&m.db).await);
    assert!(
        before
            .0
            .iter()
            .any(|r| r.starts_with("page_usage") && r.contains(FREE)),
        "{:?}",
        before.0
    );
    assert!(!before
        .0
        .iter()
        .any(|r| r.starts_with("page_usage") && r.contains(PRO)));

    let out = bench(&m, "pages", &[FREE, PRO], "json");
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["kind"], "trigger", "{report}");
    assert_ratio(&report, "insert_floor", "trigger");
    assert_eq!((snapshot(&m).await, schema_dump(&m.db).await), before);
    assert_success(&m.quota(&["verify"]));

    // The metered twin runs the installed trigger function itself: edited
    // by hand to refuse every insert, the trigger scenario fails (exit 5)
    // and everything is still written back.
    m.db.exec(
        "CREATE OR REPLACE FUNCTION quota.charge_pages() RETURNS trigger LANGUAGE plpgsql \
         SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ BEGIN \
         RAISE EXCEPTION 'edited by hand' USING ERRCODE = 'check_violation'; END $$",
    )
    .await;
    let edited = (snapshot(&m).await, schema_dump(&m.db).await);
    assert_eq!(edited.0, before.0);
    let out = bench(&m, "pages", &[FREE, PRO], "table");
    assert_exit_with(&out, 5, "edited by hand");
    assert!(crate::common::stderr(&out).contains("bench scenario trigger failed"));
    assert!(
        edited == (snapshot(&m).await, schema_dump(&m.db).await),
        "not restored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_with_its_code_and_changes_nothing() {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    let before = profiles(&m).await;
    // Not installed yet: a precondition (exit 4).
    let out = bench(&m, "credits", &[FREE], "table");
    assert_exit_with(&out, 4, "meter credits is not installed");
    m.install();
    let before_installed = profiles(&m).await;
    assert_eq!(before_installed, before);
    // A meter the file does not have: a usage error (exit 2).
    let out = bench(&m, "tokens", &[FREE], "table");
    assert_exit_with(&out, 2, "no meter tokens");
    // No subject given: exit 2; a subject that does not exist: exit 4.
    let out = m.quota(&["bench", "--meter", "credits", "--seconds", "0.5"]);
    assert_exit_with(&out, 2, "--user UUID");
    let out = bench(
        &m,
        "credits",
        &["99999999-9999-4999-8999-999999999999"],
        "table",
    );
    assert_exit_with(
        &out,
        4,
        "no subject with id 99999999-9999-4999-8999-999999999999",
    );
    assert_eq!(profiles(&m).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_bench_writes_the_subjects_back() {
    use std::time::Duration;

    use crate::common::{interrupt_async, spawn_quota, wait_until_async};
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    m.install();
    let before = profiles(&m).await;
    let child = spawn_quota(
        &m.url,
        &[
            "--config",
            m.config.to_str().unwrap(),
            "bench",
            "--meter",
            "credits",
            "--user",
            PRO,
            "--seconds",
            "120",
        ],
    );
    // Under way once PRO has the bench's unreachable limit.
    let limit =
        format!("SELECT coalesce(credits_limit, 0) FROM public.profiles WHERE id = '{PRO}'");
    wait_until_async(
        Duration::from_secs(60),
        "the bench never started",
        async || m.scalar_i64(&limit).await == i64::from(i32::MAX),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = interrupt_async(child).await;
    assert_exit_with(&out, 130, "written back");
    assert_eq!(profiles(&m).await, before);
}

/// Without quota.toml, `--meter scrapes` and `--meter clips` are the
/// default bench's pairs; another name is exit 2, and `--user` needs a meter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_mappings_meters_by_name() {
    let db = crate::common::installed_db().await;
    let run = |meter: &str| {
        let mut args = vec![
            "--format",
            "json",
            "bench",
            "--clients",
            "2",
            "--meter",
            meter,
        ];
        args.extend(SHORT);
        db.quota(&args)
    };
    for (meter, pair) in [
        ("scrapes", ["update_floor", "function"]),
        ("clips", ["insert_floor", "trigger"]),
    ] {
        let out = run(meter);
        assert_success(&out);
        let report = json(&out);
        let names: Vec<&str> = report["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, pair, "{report}");
    }
    assert_exit_with(&run("tokens"), 2, "no meter tokens");
    let out = db.quota(&["bench", "--user", FREE]);
    assert_exit_with(&out, 2, "--meter");
}

/// (b): a daily rpc meter counted in a table of its own, per account,
/// limits per tier: the account's tier is switched to a scratch tier for
/// the bench and back; a counter row the bench created is deleted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn b_an_account_meter_in_its_own_table_with_tier_limits() {
    use crate::mapped::{ACME, TEAMS, TINY};
    let m = Mapped::new(&[PROFILES, TEAMS], "teams.toml").await;
    m.install();
    assert_success(&m.quota(&["call", "--commit", "--meter", "api_calls", ACME]));
    let state = async || -> Vec<String> {
        let mut c = m.db.connect_admin().await;
        sqlx::query_scalar(
            "SELECT x FROM (
               SELECT format('account %s', to_jsonb(a)) AS x FROM public.accounts a
               UNION ALL SELECT format('usage %s', to_jsonb(u)) FROM public.api_usage u
               UNION ALL SELECT format('limits %s', to_jsonb(l)) FROM quota.meter_limits l
             ) AS all_of_it ORDER BY x",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    };
    let before = state().await;
    assert!(
        before
            .iter()
            .any(|r| r.starts_with("usage") && r.contains(ACME)),
        "{before:?}"
    );
    let out = bench(&m, "api_calls", &[ACME, TINY], "json");
    assert_success(&out);
    assert_ratio(&json(&out), "update_floor", "function");
    assert_eq!(state().await, before);
}
