//! `quota verify` / `quota check`: passes on a fresh install, and each
//! sabotage an operator could make in a dashboard fails the right check.

use crate::common::*;

/// Runs `verify --format json` and returns (exit code, the JSON).
fn verify(db: &TestDb) -> (Option<i32>, serde_json::Value) {
    let out = db.quota(&["verify", "--format", "json"]);
    (out.status.code(), json(&out))
}

fn failing(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

/// Applies `sabotage` to a fresh install; `verify` must exit 1 naming `name`
/// (and `check <name>` alone must fail too).
async fn sabotaged(sabotage: &str, name: &str) -> (TestDb, serde_json::Value) {
    let db = installed_db().await;
    let (code, before) = verify(&db);
    assert_eq!(code, Some(0), "fresh install must pass: {before}");
    db.exec(sabotage).await;
    let (code, report) = verify(&db);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["passed"], false);
    assert!(
        failing(&report).contains(&name.to_string()),
        "{name} should fail: {report}"
    );
    let c = check(&report, name);
    assert!(!c["detail"].as_str().unwrap().is_empty());
    assert!(
        !c["hint"].as_str().unwrap().is_empty(),
        "a failure says what to run next: {c}"
    );
    let one = db.quota(&["check", name, "--format", "json"]);
    assert_exit(&one, 1);
    assert_eq!(json(&one)["checks"][0]["status"], "fail");
    (db, report)
}

/// The newest embedded migration that (re)creates the clip trigger.
fn trigger_defined_in() -> i32 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            let version: i32 = name.strip_prefix('V')?.split_once("__")?.0.parse().ok()?;
            let sql = std::fs::read_to_string(&path).ok()?;
            sql.contains("TRIGGER enforce_clip_limit_trigger\n")
                .then_some(version)
        })
        .max()
        .expect("a migration creates the clip trigger")
}

fn detail(report: &serde_json::Value, name: &str) -> String {
    check(report, name)["detail"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_on_a_fresh_install_with_a_stable_json_shape() {
    let db = installed_db().await;
    let (code, report) = verify(&db);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["passed"], true);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["routine", "schema", "trigger", "grants", "security", "drift", "tiers"]
    );
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{c}");
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{c}");
        assert!(c["detail"].is_string() && c["hint"].is_string());
    }
    assert!(detail(&report, "security").contains("42501"));
    // Drift names the version each object matches, the trigger's too.
    let trigger_version = trigger_defined_in();
    assert!(
        detail(&report, "drift").contains(&format!(
            "enforce_clip_limit_trigger matches V{trigger_version}"
        )),
        "{report}"
    );

    let table = db.quota(&["verify"]);
    assert_success(&table);
    let text = stdout(&table);
    assert!(text.contains("all checks passed"), "{text}");
    for name in names {
        assert!(text.contains(name), "{text}");
    }
    let one = db.quota(&["check", "routine"]);
    assert_success(&one);
    assert!(stdout(&one).contains("FUNCTION returning record"));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_fails_before_install_and_says_to_apply() {
    let db = demo_db().await;
    // Nothing of quota installed: exit 4 (a precondition), the report printed.
    let (code, report) = verify(&db);
    assert_eq!(code, Some(4));
    let failed = failing(&report);
    for name in ["routine", "trigger", "grants", "security", "drift"] {
        assert!(failed.contains(&name.to_string()), "{report}");
        assert!(check(&report, name)["hint"]
            .as_str()
            .unwrap()
            .contains("quota migrate apply"));
    }
    assert_eq!(check(&report, "schema")["status"], "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_granted_to_anon_fails_grants() {
    let (_, report) = sabotaged(
        "GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO anon",
        "grants",
    )
    .await;
    assert!(detail(&report, "grants").contains("anon can execute"));
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_granted_to_public_fails_grants() {
    let (_, report) = sabotaged(
        "GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO PUBLIC",
        "grants",
    )
    .await;
    assert!(detail(&report, "grants").contains("PUBLIC can execute"));
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_revoked_from_service_role_fails_grants() {
    let (db, report) = sabotaged(
        "REVOKE EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) FROM service_role",
        "grants",
    )
    .await;
    assert!(detail(&report, "grants").contains("service_role cannot execute"));
    // The hint's way back works.
    assert_success(&db.quota(&["migrate", "apply", "--repair"]));
    assert_eq!(verify(&db).0, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn search_path_reset_fails_security() {
    let (_, report) = sabotaged(
        "ALTER FUNCTION public.increment_usage_if_allowed(uuid) RESET search_path",
        "security",
    )
    .await;
    assert!(detail(&report, "security").contains("no pinned search_path"));
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_trigger_fails_trigger() {
    let (_, report) = sabotaged(
        "ALTER TABLE public.clips DISABLE TRIGGER enforce_clip_limit_trigger",
        "trigger",
    )
    .await;
    assert!(detail(&report, "trigger").contains("disabled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn retyped_contract_column_fails_schema() {
    let (_, report) = sabotaged(
        "ALTER TABLE public.user_usage ALTER COLUMN clips_this_month TYPE bigint",
        "schema",
    )
    .await;
    assert!(
        detail(&report, "schema")
            .contains("public.user_usage.clips_this_month is bigint, expected integer"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_policy_for_authenticated_fails_security() {
    let (db, report) = sabotaged(
        "GRANT UPDATE ON public.users TO authenticated;
         CREATE POLICY users_update_own ON public.users FOR UPDATE TO authenticated
           USING (id = auth.uid());",
        "security",
    )
    .await;
    let d = detail(&report, "security");
    assert!(d.contains("authenticated can UPDATE public.users"), "{d}");
    assert!(
        d.contains("users_update_own") && d.contains("usage_this_month"),
        "{d}"
    );
    // Without the policy RLS stops every row, but a table-level UPDATE still
    // lets the role LOCK the table: only that finding remains, and taking
    // the grant back makes the check pass again.
    db.exec("DROP POLICY users_update_own ON public.users")
        .await;
    let (code, report) = verify(&db);
    assert_eq!(code, Some(1));
    let d = detail(&report, "security");
    assert!(d.contains("ACCESS EXCLUSIVE"), "{d}");
    assert!(!d.contains("can UPDATE public.users"), "{d}");
    db.exec("REVOKE UPDATE ON public.users FROM authenticated")
        .await;
    assert_eq!(verify(&db).0, Some(0));
    // A user inserting their own counter row is a write too.
    db.exec(
        "CREATE POLICY usage_insert_own ON public.user_usage FOR INSERT TO authenticated
           WITH CHECK (user_id = auth.uid())",
    )
    .await;
    let (code, report) = verify(&db);
    assert_eq!(code, Some(1));
    assert!(
        detail(&report, "security").contains("authenticated can INSERT public.user_usage"),
        "{report}"
    );
    db.exec("DROP POLICY usage_insert_own ON public.user_usage")
        .await;
    // A policy for a role the API role belongs to counts as well.
    let editors = format!("quota_test_editors_{}", &db.name[db.name.len() - 12..]);
    db.roles.drop_at_end(&editors);
    db.exec(
        "CREATE ROLE quota_test_editors_{name} NOLOGIN;
         GRANT quota_test_editors_{name} TO anon;
         CREATE POLICY limits_edit ON public.clip_limits FOR ALL TO quota_test_editors_{name} USING (true);
         GRANT UPDATE ON public.clip_limits TO quota_test_editors_{name};"
            .replace("{name}", &db.name[db.name.len() - 12..])
            .as_str(),
    )
    .await;
    let (code, report) = verify(&db);
    assert_eq!(code, Some(1));
    let d = detail(&report, "security");
    assert!(
        d.contains("anon can UPDATE public.clip_limits") && d.contains("limits_edit"),
        "{d}"
    );
    db.exec(
        &"DROP POLICY limits_edit ON public.clip_limits;
          REVOKE UPDATE ON public.clip_limits FROM quota_test_editors_{name};
          REVOKE quota_test_editors_{name} FROM anon;
          DROP ROLE quota_test_editors_{name};"
            .replace("{name}", &db.name[db.name.len() - 12..]),
    )
    .await;
    assert_eq!(verify(&db).0, Some(0));
    // Without RLS the privilege alone is enough.
    db.exec("ALTER TABLE public.user_usage DISABLE ROW LEVEL SECURITY")
        .await;
    let (code, report) = verify(&db);
    assert_eq!(code, Some(1));
    assert!(
        detail(&report, "security").contains("row level security is disabled"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hand_edited_body_fails_drift_and_repair_restores_it() {
    let (db, report) = sabotaged(
        "CREATE OR REPLACE FUNCTION public.enforce_clip_limit() RETURNS trigger
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
           AS $enforce_clip_limit$ BEGIN RETURN NEW; END $enforce_clip_limit$",
        "drift",
    )
    .await;
    assert!(
        detail(&report, "drift").contains("public.enforce_clip_limit(): body differs from V7"),
        "{report}"
    );
    assert!(check(&report, "drift")["hint"]
        .as_str()
        .unwrap()
        .contains("quota migrate apply --repair"));

    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let dry = db.quota(&["migrate", "apply", "--repair", "--dry-run"]);
    assert_success(&dry);
    assert!(stdout(&dry).contains("$enforce_clip_limit$"));
    assert_eq!(verify(&db).0, Some(1), "a dry run changes nothing");

    let out = db.quota(&["migrate", "apply", "--repair", "--format", "json"]);
    assert_success(&out);
    let repaired = json(&out);
    assert_eq!(repaired["command"], "repair");
    assert_eq!(
        repaired["steps"].as_array().unwrap().len(),
        versions().len()
    );
    let (code, report) = verify(&db);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(snapshot(&mut c).await, before, "repair leaves data alone");
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM quota.schema_history")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(history, versions().len() as i64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_cross_user_guard_fails_security() {
    let (_, report) = sabotaged(
        "CREATE OR REPLACE FUNCTION public.increment_usage_if_allowed(p_user_id uuid)
           RETURNS TABLE (allowed boolean, new_usage integer, effective_limit integer, plan text, subscription_status text)
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
           AS $f$ BEGIN
             RETURN QUERY SELECT true, 1, u.plan_limits_scrapes, u.plan, u.subscription_status
               FROM public.users AS u WHERE u.id = p_user_id;
             IF NOT FOUND THEN RAISE EXCEPTION 'no user' USING ERRCODE = 'no_data_found'; END IF;
           END $f$",
        "security",
    )
    .await;
    assert!(
        detail(&report, "security").contains("cross-user guard missing"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_check_and_unreachable_server_are_one_line_errors() {
    let db = installed_db().await;
    assert_exit(&db.quota(&["check", "nonsense"]), 2);
    let out = quota_with_url(
        "postgres://postgres:hunter2secret@127.0.0.1:1/postgres",
        &["verify"],
    );
    assert_exit(&out, 3);
    assert!(!stderr(&out).contains("hunter2secret"));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

/// Plain PostgreSQL without Supabase's roles: absent roles are reported,
/// never failed, so `verify` passes.
#[tokio::test(flavor = "multi_thread")]
async fn absent_supabase_roles_are_reported_not_failed() {
    let cluster = start_cluster();
    let url = cluster.url("postgres");
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE public.users (id uuid PRIMARY KEY, email text, plan text, subscription_status text,
           usage_this_month integer NOT NULL DEFAULT 0, plan_limits_scrapes integer, subscription_tier text);
         CREATE TABLE public.user_usage (user_id uuid PRIMARY KEY REFERENCES public.users,
           clips_this_month integer NOT NULL DEFAULT 0);
         CREATE TABLE public.clips (id bigserial PRIMARY KEY, user_id uuid NOT NULL);",
    )
    .execute(&mut c)
    .await
    .unwrap();
    assert_success(&quota_with_url(&url, &["migrate", "apply"]));
    let out = quota_with_url(&url, &["verify", "--format", "json"]);
    assert_exit(&out, 0);
    let report = json(&out);
    let grants = check(&report, "grants");
    assert_eq!(grants["status"], "warn", "{report}");
    assert!(grants["detail"]
        .as_str()
        .unwrap()
        .contains("role service_role does not exist"));
    assert_eq!(check(&report, "security")["status"], "pass", "{report}");
    // The guard is still tested, as the current user with JWT claims.
    assert!(detail(&report, "security").contains("42501"), "{report}");
}

fn hint(report: &serde_json::Value, name: &str) -> String {
    check(report, name)["hint"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_free_tier_fails_the_trigger_check_and_repair_restores_it() {
    let (db, report) = sabotaged(
        "DELETE FROM public.clip_limits WHERE tier = 'free'",
        "trigger",
    )
    .await;
    assert!(
        detail(&report, "trigger").contains("no 'free' row"),
        "{report}"
    );
    assert_success(&db.quota(&["migrate", "apply", "--repair"]));
    let (code, report) = verify(&db);
    assert_eq!(code, Some(0), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rls_disabled_on_counters_gets_a_hint_naming_that_table() {
    let (_db, report) = sabotaged(
        "ALTER TABLE public.user_usage DISABLE ROW LEVEL SECURITY",
        "security",
    )
    .await;
    let hint = hint(&report, "security");
    assert!(
        hint.contains("ALTER TABLE public.user_usage ENABLE ROW LEVEL SECURITY"),
        "{hint}"
    );
}

/// A drifted history row refuses apply; `--repair` re-runs this build's file,
/// re-records the checksum, and everything passes again.
#[tokio::test(flavor = "multi_thread")]
async fn repair_re_records_a_drifted_history() {
    let (db, report) = sabotaged(
        "UPDATE quota.schema_history SET checksum = '123' WHERE version = 2",
        "drift",
    )
    .await;
    assert!(hint(&report, "drift").contains("--repair"), "{report}");
    let refused = db.quota(&["migrate", "apply"]);
    assert_exit_with(&refused, 4, "--repair");

    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    assert_success(&db.quota(&["migrate", "apply", "--repair"]));
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert!(
        status["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] == "applied"),
        "{status}"
    );
    assert_eq!(snapshot(&mut c).await, before, "repair leaves data alone");
    assert_success(&db.quota(&["migrate", "apply"]));
    let (code, report) = verify(&db);
    assert_eq!(code, Some(0), "{report}");
}
