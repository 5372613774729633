//! What quota treats as intended (issue 16.7), on the Supabase-shaped
//! cluster: a server-side-only setup (EXECUTE on the RPC revoked from
//! authenticated on purpose) passes `grants` and survives `--repair`, while
//! PUBLIC or anon able to execute still fails; a role inheriting
//! service_role is refused by the guard, by design (it trusts the role
//! name service_role only, so it fails closed).

use sqlx::{Connection, Executor};

use crate::common::{assert_exit, assert_success, json};
use crate::supabase::{
    supabase_installed_db, supabase_installed_db_adding_roles, SupaDb, FREE_USER, PRO_USER,
};

const RPC: &str = "public.increment_usage_if_allowed(uuid)";

/// The RPC's ACL as text, and whether authenticated may execute it.
async fn rpc_acl(db: &SupaDb) -> (String, bool) {
    let mut c = db.connect().await;
    sqlx::query_as(
        "SELECT proacl::text, has_function_privilege('authenticated', oid, 'EXECUTE')
           FROM pg_proc WHERE oid = to_regprocedure($1)",
    )
    .bind(RPC)
    .fetch_one(&mut c)
    .await
    .unwrap()
}

fn grants_detail(db: &SupaDb) -> (Option<i32>, String) {
    let out = db.quota(&["check", "grants", "--format", "json"]);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    (out.status.code(), detail)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_side_only_setup_passes_grants_and_repair_keeps_it() {
    let db = supabase_installed_db().await;
    db.exec(&format!(
        "REVOKE EXECUTE ON FUNCTION {RPC} FROM authenticated"
    ))
    .await;
    let (code, detail) = grants_detail(&db);
    assert_eq!(code, Some(0), "{detail}");
    assert!(
        detail.contains("authenticated cannot execute: server-side only"),
        "{detail}"
    );
    assert!(detail.contains("service_role can execute"), "{detail}");
    assert_success(&db.quota(&["verify", "-q"]));

    // --repair re-runs V2 and V4, which grant EXECUTE to authenticated: the
    // deliberate revoke survives, the ACL exactly as it was.
    let before = rpc_acl(&db).await;
    assert!(!before.1);
    assert_success(&db.quota(&["migrate", "apply", "--repair", "-q"]));
    assert_eq!(rpc_acl(&db).await, before);
    assert_success(&db.quota(&["verify", "-q"]));

    // Still a failure: anon, or PUBLIC, able to execute.
    for grantee in ["anon", "PUBLIC"] {
        db.exec(&format!("GRANT EXECUTE ON FUNCTION {RPC} TO {grantee}"))
            .await;
        let (code, detail) = grants_detail(&db);
        assert_eq!(code, Some(1), "{grantee}: {detail}");
        db.exec(&format!("REVOKE EXECUTE ON FUNCTION {RPC} FROM {grantee}"))
            .await;
    }
    assert_eq!(grants_detail(&db).0, Some(0));
    // And a repair of an ordinary install still grants authenticated.
    db.exec(&format!("GRANT EXECUTE ON FUNCTION {RPC} TO authenticated"))
        .await;
    assert_success(&db.quota(&["migrate", "apply", "--repair", "-q"]));
    assert!(rpc_acl(&db).await.1);
}

/// Calls the RPC for `user` as PostgREST would after switching to `role`
/// with a JWT whose sub is `sub`: Ok, or (SQLSTATE, message).
async fn call_as(db: &SupaDb, role: &str, sub: &str, user: &str) -> Result<(), (String, String)> {
    let mut c = db.connect().await;
    let mut tx = c.begin().await.unwrap();
    tx.execute(format!("SET LOCAL ROLE {role}").as_str())
        .await
        .unwrap();
    let claims = serde_json::json!({ "sub": sub, "role": role }).to_string();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims)
        .execute(&mut *tx)
        .await
        .unwrap();
    let out = sqlx::query("SELECT * FROM public.increment_usage_if_allowed($1::uuid)")
        .bind(user)
        .fetch_all(&mut *tx)
        .await
        .map(|_| ())
        .map_err(|e| {
            let d = e.as_database_error().expect("a database error");
            (
                d.code().unwrap_or_default().to_string(),
                d.message().to_string(),
            )
        });
    tx.rollback().await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_inheriting_service_role_is_refused_by_the_guard_by_design() {
    let db = supabase_installed_db_adding_roles().await;
    db.drop_role_at_end("backend_worker");
    db.exec_admin(
        "CREATE ROLE backend_worker NOLOGIN;
         GRANT service_role TO backend_worker;
         GRANT backend_worker TO postgres;",
    )
    .await;
    // service_role itself may spend any user's quota.
    call_as(&db, "service_role", PRO_USER, FREE_USER)
        .await
        .unwrap();
    // A role that merely inherits it may execute (the privilege comes
    // through service_role), but the guard refuses another user's quota:
    // it trusts the role name service_role only, and fails closed.
    let (code, message) = call_as(&db, "backend_worker", PRO_USER, FREE_USER)
        .await
        .unwrap_err();
    assert_eq!(code, "42501");
    assert!(message.contains("may not spend the quota"), "{message}");
    // Its own user's quota, named by the JWT's sub, is fine.
    call_as(&db, "backend_worker", FREE_USER, FREE_USER)
        .await
        .unwrap();
    // Not an API role: check security does not count it among them.
    let out = db.quota(&["check", "security", "--format", "json"]);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!detail.contains("backend_worker"), "{detail}");
    assert_exit(&out, 0);
}
