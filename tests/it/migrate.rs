//! `quota migrate apply | status | rollback` against real databases.

use sqlx::Executor;

use crate::common::*;

/// Names of everything the migrations install that exists now.
async fn installed_objects(db: &TestDb) -> Vec<String> {
    let mut c = db.connect().await;
    sqlx::query_scalar(
        "SELECT o FROM (VALUES
           ('function increment_usage_if_allowed', to_regprocedure('public.increment_usage_if_allowed(uuid)') IS NOT NULL),
           ('function enforce_clip_limit', to_regprocedure('public.enforce_clip_limit()') IS NOT NULL),
           ('table clip_limits', to_regclass('public.clip_limits') IS NOT NULL),
           ('trigger enforce_clip_limit_trigger', EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'enforce_clip_limit_trigger')),
           ('column users.usage_period_start', EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'usage_period_start')),
           ('column user_usage.clips_period_start', EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'user_usage' AND column_name = 'clips_period_start'))
         ) AS x(o, present) WHERE present ORDER BY o",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
}

/// The embedded versions up to `at`.
fn states_versions(at: i32) -> Vec<i32> {
    versions().into_iter().filter(|v| *v <= at).collect()
}

async fn history_versions(db: &TestDb) -> Vec<i32> {
    let mut c = db.connect().await;
    sqlx::query_scalar("SELECT version FROM quota.schema_history ORDER BY version")
        .fetch_all(&mut c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_installs_everything_and_reapply_is_a_noop() {
    let db = demo_db().await;
    let status = db.quota(&["migrate", "status", "--format", "json"]);
    assert_success(&status);
    let status = json(&status);
    assert_eq!(status["database_version"], 0);
    assert!(status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["state"] == "pending"));

    let out = db.quota(&["migrate", "apply", "--format", "json"]);
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["database_version"], latest());
    assert_eq!(report["steps"].as_array().unwrap().len(), versions().len());
    assert_eq!(installed_objects(&db).await.len(), 6);
    assert_eq!(history_versions(&db).await, versions());

    let again = db.quota(&["migrate", "apply"]);
    assert_success(&again);
    assert!(
        stdout(&again).contains("nothing to apply"),
        "{}",
        stdout(&again)
    );
    assert_eq!(history_versions(&db).await, versions());

    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    let states: Vec<&str> = status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, states_up_to(latest()));
    assert!(status["migrations"][0]["applied_on"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_drift_and_apply_refuses_it() {
    let db = installed_db().await;
    db.exec("UPDATE quota.schema_history SET checksum = '12345' WHERE version = 2")
        .await;
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert_eq!(status["migrations"][1]["state"], "drifted");
    assert_eq!(status["migrations"][0]["state"], "applied");

    let table = db.quota(&["migrate", "status"]);
    assert!(stdout(&table).contains("drifted"));

    let apply = db.quota(&["migrate", "apply"]);
    assert_exit_with(&apply, 4, "V2__increment_usage_if_allowed (drifted)");
}

#[tokio::test(flavor = "multi_thread")]
async fn partial_apply_with_target_then_pending_shown() {
    let db = demo_db().await;
    assert_success(&db.quota(&["migrate", "apply", "--target", "1"]));
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert_eq!(status["database_version"], 1);
    assert_eq!(status["migrations"][1]["state"], "pending");
    let beyond = db.quota(&["migrate", "apply", "--target", "9"]);
    assert_exit(&beyond, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_sql_and_changes_nothing() {
    let db = demo_db().await;
    let out = db.quota(&["migrate", "apply", "--dry-run"]);
    assert_success(&out);
    let sql = stdout(&out);
    assert!(sql.contains("CREATE OR REPLACE FUNCTION public.increment_usage_if_allowed"));
    assert!(sql.contains("CREATE OR REPLACE TRIGGER enforce_clip_limit_trigger"));
    assert!(installed_objects(&db).await.is_empty());
    let mut c = db.connect().await;
    let history: bool =
        sqlx::query_scalar("SELECT to_regclass('quota.schema_history') IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(!history, "a dry run must not even create the history table");
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_to_zero_removes_everything_and_keeps_rows_intact() {
    let db = demo_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    assert!(before.len() >= 8);
    assert_success(&db.quota(&["migrate", "apply"]));

    let out = db.quota(&[
        "migrate", "rollback", "--target", "0", "--yes", "--format", "json",
    ]);
    assert_success(&out);
    let report = json(&out);
    let reverted: Vec<i64> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["version"].as_i64().unwrap())
        .collect();
    assert_eq!(
        reverted,
        versions()
            .into_iter()
            .rev()
            .map(i64::from)
            .collect::<Vec<_>>()
    );
    assert!(
        installed_objects(&db).await.is_empty(),
        "{:?}",
        installed_objects(&db).await
    );
    assert!(history_versions(&db).await.is_empty());
    assert_eq!(snapshot(&mut c).await, before, "application rows changed");

    assert_success(&db.quota(&["migrate", "apply"]));
    assert_eq!(installed_objects(&db).await.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_defaults_to_one_step_and_needs_yes_without_a_tty() {
    let db = installed_db().await;
    let refused = db.quota(&["migrate", "rollback"]);
    assert_exit_with(&refused, 2, "--yes");
    assert_eq!(history_versions(&db).await, versions());

    // One step at a time, down to V2; at V4 the dry run shows V4's revert.
    let mut at = latest();
    while at > 2 {
        if at == 4 {
            let dry = db.quota(&["migrate", "rollback", "--dry-run"]);
            assert_success(&dry);
            assert!(stdout(&dry).contains("DROP TRIGGER IF EXISTS enforce_clip_limit_trigger"));
            assert_eq!(history_versions(&db).await, states_versions(at));
        }
        assert_success(&db.quota(&["migrate", "rollback", "--yes"]));
        at = version_before(at);
        assert_eq!(history_versions(&db).await, states_versions(at));
    }
    assert_eq!(history_versions(&db).await, vec![1, 2]);
    let objects = installed_objects(&db).await;
    assert!(objects.contains(&"function increment_usage_if_allowed".to_string()));
    assert!(!objects.contains(&"table clip_limits".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_concurrent_appliers_serialise() {
    let db = demo_db().await;
    let children: Vec<_> = (0..8)
        .map(|_| {
            quota_cmd(&db.url, &["migrate", "apply", "--format", "json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut applied_steps = 0;
    for out in &outputs {
        assert_success(out);
        applied_steps += json(out)["steps"].as_array().unwrap().len();
    }
    assert_eq!(
        applied_steps,
        versions().len(),
        "each version applied by exactly one process"
    );
    assert_eq!(history_versions(&db).await, versions());
    let mut c = db.connect().await;
    let (functions, triggers, limits): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_proc WHERE proname IN ('increment_usage_if_allowed', 'enforce_clip_limit')),
                (SELECT count(*) FROM pg_trigger WHERE tgname = 'enforce_clip_limit_trigger'),
                (SELECT count(*) FROM public.clip_limits)",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((functions, triggers, limits), (2, 1, 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_contract_is_checked_before_anything_is_installed() {
    let db = empty_db().await;
    db.exec(
        "CREATE TABLE public.users (id uuid PRIMARY KEY, email text, plan text, usage_this_month bigint,
                                    plan_limits_scrapes integer, subscription_tier text);
         CREATE TABLE public.clips (id serial, user_id uuid);",
    )
    .await;
    let out = db.quota(&["migrate", "apply"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    for needle in [
        "table public.user_usage is missing",
        "column public.users.subscription_status (text) is missing",
        "column public.users.usage_this_month is bigint, expected integer",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(installed_objects(&db).await.is_empty());
    let mut c = db.connect().await;
    let history: bool =
        sqlx::query_scalar("SELECT to_regclass('quota.schema_history') IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(!history);
}

/// Roles are cluster-wide, so this one needs a cluster of its own.
#[tokio::test(flavor = "multi_thread")]
async fn plain_postgres_without_supabase_roles_installs_cleanly() {
    let cluster = tokio::task::spawn_blocking(start_cluster).await.unwrap();
    let url = cluster.url("postgres");
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let roles: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_roles WHERE rolname IN ('anon', 'authenticated', 'service_role')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(roles, 0);
    c.execute(
        "CREATE TABLE public.users (id uuid PRIMARY KEY, email text, plan text, subscription_status text,
                                    usage_this_month integer, plan_limits_scrapes integer, subscription_tier text);
         CREATE TABLE public.user_usage (user_id uuid PRIMARY KEY REFERENCES public.users, clips_this_month integer);
         CREATE TABLE public.clips (id serial PRIMARY KEY, user_id uuid);
         INSERT INTO public.users VALUES ('11111111-1111-4111-8111-111111111111', 'a@b', 'FREE', 'none', 0, 2, 'free');
         GRANT UPDATE, TRUNCATE ON public.users TO PUBLIC;",
    )
    .await
    .unwrap();
    let users_acl = "SELECT relacl::text FROM pg_class WHERE oid = 'public.users'::regclass";
    let acl_before: String = sqlx::query_scalar(users_acl)
        .fetch_one(&mut c)
        .await
        .unwrap();
    let out = quota_with_url(&url, &["migrate", "apply"]);
    assert_success(&out);
    // No API roles: V6 records the ACLs and takes nothing from PUBLIC.
    let acl_after: String = sqlx::query_scalar(users_acl)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(acl_after, acl_before);
    let allowed: Vec<bool> = sqlx::query_scalar(
        "SELECT (increment_usage_if_allowed('11111111-1111-4111-8111-111111111111')).allowed FROM generate_series(1, 3)",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(allowed, vec![true, true, false]);
    let public_can: bool = sqlx::query_scalar(
        "SELECT has_function_privilege('public', 'public.increment_usage_if_allowed(uuid)', 'EXECUTE')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(!public_can, "PUBLIC must not keep EXECUTE");
    assert_success(&quota_with_url(
        &url,
        &["migrate", "rollback", "--target", "0", "--yes"],
    ));
}

use sqlx::Connection;

/// Hints quote commands in backticks; the one-line warning keeps both. A
/// target the database is already past is met (exit 0), as for rollback.
#[tokio::test(flavor = "multi_thread")]
async fn apply_below_the_database_version_points_at_rollback() {
    let db = installed_db().await;
    let installed = assert_consistent(&db).await;
    let out = db.quota(&["migrate", "apply", "--target", "2"]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out)
            .trim_end()
            .ends_with("use `quota migrate rollback --target 2`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        assert_consistent(&db).await,
        installed,
        "nothing was removed"
    );
}
