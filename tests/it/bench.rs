//! `quota bench` against a real database: every scenario measured, ratios
//! computed, and the database left exactly as it was found. No timing
//! assertions: speed is reported, not tested.

use sqlx::PgConnection;

use crate::common::*;

/// Application rows plus what a leak would add: catalog objects, tiers.
async fn state(c: &mut PgConnection) -> (Vec<String>, Vec<(String, i64)>, Vec<String>) {
    let rows = snapshot(c).await;
    let mut counts = Vec::new();
    for catalog in [
        "pg_class",
        "pg_namespace",
        "pg_trigger",
        "pg_proc",
        "pg_type",
        "pg_depend",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM pg_catalog.{catalog}"))
            .fetch_one(&mut *c)
            .await
            .unwrap();
        counts.push((catalog.to_string(), n));
    }
    let tiers: Vec<String> =
        sqlx::query_scalar("SELECT t::text FROM public.clip_limits AS t ORDER BY tier")
            .fetch_all(&mut *c)
            .await
            .unwrap();
    (rows, counts, tiers)
}

#[tokio::test]
async fn bench_reports_every_scenario_and_ratios_and_leaves_the_database_as_found() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    let out = db.quota(&[
        "bench",
        "--clients",
        "3",
        "--seconds",
        "0.5",
        "--warmup",
        "0.2",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["clients"], 3);
    let names: Vec<&str> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "update_floor",
            "function",
            "naive",
            "insert_floor",
            "trigger",
            "naive_clip"
        ]
    );
    for s in r["scenarios"].as_array().unwrap() {
        assert!(s["ops"].as_u64().unwrap() > 0, "{s}");
        assert!(s["ops_per_sec"].as_f64().unwrap() > 0.0, "{s}");
        let (p50, p99) = (s["p50_ms"].as_f64().unwrap(), s["p99_ms"].as_f64().unwrap());
        assert!(p50 > 0.0 && p99 >= p50, "{s}");
    }
    for ratio in [
        "function_vs_update",
        "trigger_vs_insert",
        "naive_vs_function",
    ] {
        assert!(r["ratios"][ratio].as_f64().unwrap() > 0.0, "{ratio}: {r}");
    }
    assert_eq!(r["goals"]["function_vs_update"], 0.85);
    assert_eq!(
        state(&mut c).await,
        before,
        "the bench left something behind"
    );
}

#[tokio::test]
async fn bench_table_prints_ratios() {
    let db = installed_db().await;
    let out = db.quota(&[
        "bench",
        "--clients",
        "2",
        "--seconds",
        "0.3",
        "--warmup",
        "0",
    ]);
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.contains("function / update floor"), "{text}");
    assert!(text.contains("trigger  / insert floor"), "{text}");
}

#[tokio::test]
async fn bench_needs_the_installed_enforcement_and_changes_nothing_without_it() {
    let db = demo_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let out = db.quota(&["bench", "--seconds", "0.2"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("quota migrate apply"),
        "{}",
        stderr(&out)
    );
    assert_eq!(snapshot(&mut c).await, before);
    let out = db.quota(&["bench", "--seconds", "0"]);
    assert_exit(&out, 2);
}

#[tokio::test]
async fn bench_cleans_up_after_ctrl_c() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    let child = quota_cmd(&db.url, &["bench", "--clients", "2", "--seconds", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the scratch users exist, i.e. the bench is under way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM public.users WHERE email LIKE 'quota-scratch-%'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if n == 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "bench never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_exit(&out, 130);
    assert_eq!(state(&mut c).await, before);
}

/// Supabase-style FK: the scratch users get their auth.users rows, the
/// bench runs, and nothing of it stays. (This used to be refused.)
#[tokio::test]
async fn bench_runs_where_users_reference_auth_users_and_leaves_nothing() {
    let db = installed_db().await;
    db.exec(
        "CREATE TABLE auth.users (id uuid PRIMARY KEY);
         ALTER TABLE public.users ADD CONSTRAINT users_id_fkey
           FOREIGN KEY (id) REFERENCES auth.users (id) NOT VALID;",
    )
    .await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    let out = db.quota(&[
        "bench",
        "--seconds",
        "0.2",
        "--warmup",
        "0",
        "--clients",
        "2",
    ]);
    assert_success(&out);
    assert_eq!(state(&mut c).await, before);
    let auth: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(auth, 0, "scratch auth.users rows removed");
}

/// A CHECK that refuses scratch users: no bench, and what the failed setup
/// had created (tier, scratch tables) is gone again.
#[tokio::test]
async fn bench_refuses_without_scratch_users_and_undoes_its_partial_setup() {
    let db = installed_db().await;
    db.exec(
        "ALTER TABLE public.users ADD CONSTRAINT no_scratch
           CHECK (email NOT LIKE 'quota-scratch-%') NOT VALID;",
    )
    .await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    let out = db.quota(&["bench", "--seconds", "0.2"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("cannot create a scratch user") && err.contains("scratch users"),
        "{err}"
    );
    assert_eq!(state(&mut c).await, before);
}

#[tokio::test]
async fn only_runs_the_chosen_scenarios_and_ratios_need_both_sides() {
    let db = installed_db().await;
    let out = db.quota(&[
        "bench",
        "--only",
        "function,update_floor",
        "--clients",
        "2",
        "--seconds",
        "0.3",
        "--warmup",
        "0",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let r = json(&out);
    let names: Vec<&str> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["update_floor", "function"]);
    assert!(r["ratios"]["function_vs_update"].as_f64().unwrap() > 0.0);
    assert!(r["ratios"]["trigger_vs_insert"].is_null());
    let out = db.quota(&["bench", "--only", "everything"]);
    assert_exit(&out, 2);
}
