//! `quota bench` against a real database: every scenario measured, ratios
//! computed, and the database left exactly as it was found. No timing
//! assertions: speed is reported, not tested.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use crate::common::*;
use crate::pooler;
use crate::supabase;

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
            "naive_clip",
            "rpc_floor",
            "rpc_service_role",
            "rpc_authenticated"
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
        "rpc_service_role_vs_floor",
        "rpc_authenticated_vs_floor",
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
    assert_exit_with(&out, 4, "quota migrate apply");
    assert_eq!(snapshot(&mut c).await, before);
    let out = db.quota(&["bench", "--seconds", "0"]);
    assert_exit(&out, 2);
}

#[tokio::test]
async fn bench_cleans_up_after_ctrl_c() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    let child = spawn_quota(&db.url, &["bench", "--clients", "2", "--seconds", "30"]);
    // Wait until the scratch users exist, i.e. the bench is under way.
    wait_until_async(Duration::from_secs(30), "bench never started", async || {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM public.users WHERE email LIKE 'quota-scratch-%'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        n == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = interrupt_async(child).await;
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

/// The PostgREST-shaped scenarios with their floors, ratios and no skips;
/// `url` is where quota connects.
fn assert_rpc_scenarios_ran(url: &str) {
    let out = quota_with_url(
        url,
        &[
            "bench",
            "--only",
            "rpc_floor,rpc_service_role,rpc_authenticated",
            "--clients",
            "2",
            "--seconds",
            "0.4",
            "--warmup",
            "0.1",
            "--rounds",
            "2",
            "--format",
            "json",
        ],
    );
    assert_success(&out);
    let r = json(&out);
    let scenarios = r["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["rpc_floor", "rpc_service_role", "rpc_authenticated"],
        "{r}"
    );
    for s in scenarios {
        assert!(s["ops"].as_u64().unwrap() > 0, "{s}");
        assert!(s["ops_per_sec"].as_f64().unwrap() > 0.0, "{s}");
        assert!(
            s["p99_ms"].as_f64().unwrap() >= s["p50_ms"].as_f64().unwrap(),
            "{s}"
        );
    }
    assert!(scenarios[0]["floor"].is_null() && scenarios[0]["ratio_to_floor"].is_null());
    for s in &scenarios[1..] {
        assert_eq!(s["floor"], "rpc_floor", "{s}");
        assert!(s["ratio_to_floor"].as_f64().unwrap() > 0.0, "{s}");
    }
    assert_eq!(
        r["ratios"]["rpc_authenticated_vs_floor"],
        scenarios[2]["ratio_to_floor"]
    );
    assert_eq!(r["skipped"], serde_json::json!([]), "{r}");
}

#[tokio::test]
async fn rpc_scenarios_run_on_the_demo_schema_and_leave_nothing() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    assert_rpc_scenarios_ran(&db.url);
    assert_eq!(
        state(&mut c).await,
        before,
        "the bench left something behind"
    );
}

#[tokio::test]
async fn rpc_scenarios_run_through_the_transaction_pooler_and_leave_nothing() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = state(&mut c).await;
    assert_rpc_scenarios_ran(&pooler::through(&db.url, pooler::Mode::Transaction));
    assert_eq!(
        state(&mut c).await,
        before,
        "the bench left something behind"
    );
}

#[tokio::test]
async fn rpc_scenarios_run_on_supabase_as_postgres_and_leave_nothing() {
    let db = supabase::supabase_installed_db().await;
    let mut c = db.connect_admin().await;
    let before = state(&mut c).await;
    assert_rpc_scenarios_ran(&db.url);
    assert_eq!(
        state(&mut c).await,
        before,
        "the bench left something behind"
    );
}

#[tokio::test]
async fn rpc_scenarios_run_on_supabase_through_the_transaction_pooler() {
    let db = supabase::supabase_installed_db().await;
    let mut c = db.connect_admin().await;
    let before = state(&mut c).await;
    assert_rpc_scenarios_ran(&pooler::through(&db.url, pooler::Mode::Transaction));
    assert_eq!(
        state(&mut c).await,
        before,
        "the bench left something behind"
    );
}

/// The exact message the authenticated scenario sends really runs as
/// `authenticated` with the user's JWT: it counts against that user, and
/// the same message with the JWT of someone else is refused by the guard.
#[tokio::test]
async fn the_authenticated_shape_runs_as_the_user_and_the_guard_sees_it() {
    let db = supabase::supabase_installed_db().await;
    let mut c = db.connect().await;
    let user: uuid::Uuid = supabase::FREE_USER.parse().unwrap();
    let usage = || "SELECT usage_this_month FROM public.users WHERE id = $1";
    let before: i32 = sqlx::query_scalar(usage())
        .bind(user)
        .fetch_one(&mut c)
        .await
        .unwrap();
    let own = quota::authenticated_claims(user);
    let sql = quota::postgrest_call("authenticated", &own, user).unwrap();
    let rows = c.fetch_all(sqlx::raw_sql(&sql)).await.unwrap();
    let role: String = sqlx::Row::get(&rows[0], 0);
    assert_eq!(role, "authenticated");
    let after: i32 = sqlx::query_scalar(usage())
        .bind(user)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(after, before + 1, "the call counted against the JWT's user");

    let someone_else = quota::authenticated_claims(uuid::Uuid::new_v4());
    let sql = quota::postgrest_call("authenticated", &someone_else, user).unwrap();
    let err = c.fetch_all(sqlx::raw_sql(&sql)).await.unwrap_err();
    assert_eq!(code(&err), "42501", "{err}");
    c.execute("ROLLBACK").await.unwrap();
    let still: i32 = sqlx::query_scalar(usage())
        .bind(user)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(still, after, "a refused call changes nothing");
}

/// A login that may not switch to the API roles gets the bare scenarios
/// and a note for each PostgREST-shaped one, not a failure.
#[tokio::test]
async fn rpc_scenarios_are_skipped_with_a_note_where_the_role_cannot_be_switched() {
    let db = installed_db().await;
    let (name, url) = login_role(&db, "bench").await;
    db.exec(&format!(
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO {name};
         GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {name};
         ALTER ROLE {name} BYPASSRLS;
         GRANT CREATE ON DATABASE \"{}\" TO {name};
         GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO {name};
         GRANT EXECUTE ON FUNCTION public.enforce_clip_limit() TO {name};",
        db.name
    ))
    .await;
    let out = quota_with_url(
        &url,
        &[
            "bench",
            "--only",
            "rpc_floor,rpc_service_role,rpc_authenticated",
            "--clients",
            "1",
            "--seconds",
            "0.2",
            "--warmup",
            "0",
            "--format",
            "json",
        ],
    );
    assert_success(&out);
    let r = json(&out);
    let names: Vec<&str> = r["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rpc_floor"], "{r}");
    let skipped: Vec<&str> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["rpc_service_role", "rpc_authenticated"], "{r}");
    assert!(r["skipped"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("not a member of authenticated"));
    let out = quota_with_url(
        &url,
        &["bench", "--only", "rpc_authenticated", "--seconds", "0.2"],
    );
    assert_exit_with(&out, 4, "rpc_authenticated");
}

/// JSON rendered by quota's literal reads back exactly, whatever
/// standard_conforming_strings says, hostile text included.
#[tokio::test]
async fn json_literals_read_back_exactly_under_both_string_settings() {
    let db = empty_db().await;
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut value = serde_json::json!({"quote": "it's", "backslash": "a\\'; DROP TABLE x; --"});
    for (i, h) in hostile_values().into_iter().enumerate() {
        if !h.contains('\0') {
            value[format!("h{i}")] = serde_json::Value::String(h);
        }
    }
    let lit = quota::JsonText::new(&value).unwrap();
    for setting in ["on", "off"] {
        c.execute(format!("SET standard_conforming_strings = {setting}").as_str())
            .await
            .unwrap();
        let rows = c
            .fetch_all(sqlx::raw_sql(&format!("SELECT {}::text", lit.as_sql())))
            .await
            .unwrap();
        let back: String = sqlx::Row::get(&rows[0], 0);
        let parsed: serde_json::Value = serde_json::from_str(&back).unwrap();
        assert_eq!(parsed, value, "standard_conforming_strings = {setting}");
    }
}

/// The bench's scratch trigger is the installed one in every respect but
/// its table: same function (the real `public.enforce_clip_limit()`, not a
/// copy), same timing, events and level (AFTER INSERT FOR EACH STATEMENT
/// with the transition table, as V7; `quota bench` fills the level from the
/// live trigger, tests/it/bulk.rs runs it at V6 and V7).
#[tokio::test]
async fn the_scratch_trigger_matches_the_installed_trigger() {
    let db = installed_db().await;
    let setup = include_str!("../../sql/queries/bench_setup.sql")
        .replace("{schema}", "quota_bench_triggertest")
        .replace(
            "{for_each}",
            "REFERENCING NEW TABLE AS inserted_clips\n  FOR EACH STATEMENT",
        );
    db.exec(&setup).await;
    let mut c = db.connect().await;
    let triggers: Vec<(String, i16, bool, String)> = sqlx::query_as(
        "SELECT t.tgrelid::regclass::text, t.tgtype,
                t.tgfoid = 'public.enforce_clip_limit()'::regprocedure,
                regexp_replace(pg_get_triggerdef(t.oid), ' ON \\S+ ', ' ON T ')
           FROM pg_trigger AS t
          WHERE t.tgname = 'enforce_clip_limit_trigger'
          ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(triggers.len(), 2, "{triggers:?}");
    let (installed, scratch) = (&triggers[0], &triggers[1]);
    assert_eq!(installed.0, "clips");
    assert_eq!(scratch.0, "quota_bench_triggertest.clips_trigger");
    assert_eq!(scratch.1, installed.1, "same timing, events and level");
    assert!(
        scratch.2 && installed.2,
        "both call public.enforce_clip_limit()"
    );
    assert_eq!(scratch.3, installed.3);
    assert!(scratch.3.contains("AFTER INSERT"), "{}", scratch.3);
}
