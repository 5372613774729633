//! Hostile callers on a Supabase-shaped database (quota connected as the
//! non-superuser `postgres`): every attack a security audit found, run the
//! way PostgREST runs a request — one transaction, `SET LOCAL ROLE`, the JWT
//! passed with `set_config(..., true)` — as a test that fails if the attack
//! succeeds. Where it is cheap, the same attack is first shown to work on
//! V3 (what quota installed before), so each test is known to be able to
//! fail.

use sqlx::{Connection, Executor, PgConnection};

use crate::common::{assert_exit, assert_exit_with, assert_success, json, stderr, stdout};
use crate::supabase::{
    supabase_db, supabase_installed_db, supabase_installed_db_adding_roles, SupaDb, FREE_USER,
    LIMITED_USER,
};

/// The JWT claims PostgREST passes for a signed-in user.
pub(crate) fn claims(sub: &str) -> String {
    serde_json::json!({ "sub": sub, "role": "authenticated", "aud": "authenticated" }).to_string()
}

/// How a request ended: rows affected/returned, or (SQLSTATE, message).
pub(crate) type Outcome = Result<u64, (String, String)>;

/// Opens a transaction the way PostgREST starts a request: `BEGIN; SET
/// LOCAL ROLE <role>; set_config(<name>, <value>, true)...` (`role` None
/// switches no role).
pub(crate) async fn begin_request<'c>(
    conn: &'c mut PgConnection,
    role: Option<&str>,
    settings: &[(&str, &str)],
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut tx = conn.begin().await.unwrap();
    if let Some(role) = role {
        tx.execute(format!("SET LOCAL ROLE {role}").as_str())
            .await
            .unwrap();
    }
    for (name, value) in settings {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx
}

/// Runs `sql` as one PostgREST request: `BEGIN; SET LOCAL ROLE <role>;
/// set_config(<name>, <value>, true)...; <sql>; COMMIT` (ROLLBACK on error).
/// `role` None switches no role.
pub(crate) async fn request(
    conn: &mut PgConnection,
    role: Option<&str>,
    settings: &[(&str, &str)],
    sql: &str,
) -> Outcome {
    let mut tx = begin_request(conn, role, settings).await;
    match sqlx::query(sql).fetch_all(&mut *tx).await {
        Ok(rows) => {
            tx.commit().await.unwrap();
            Ok(rows.len() as u64)
        }
        Err(e) => {
            let db = e.as_database_error().expect("a database error");
            let out = (
                db.code().unwrap_or_default().to_string(),
                db.message().to_string(),
            );
            tx.rollback().await.unwrap();
            Err(out)
        }
    }
}

async fn usage(db: &SupaDb, user: &str) -> (i32, i32) {
    let mut c = db.connect_admin().await;
    sqlx::query_as(
        "SELECT u.usage_this_month, COALESCE(uu.clips_this_month, 0)
           FROM public.users AS u LEFT JOIN public.user_usage AS uu ON uu.user_id = u.id
          WHERE u.id = $1::uuid",
    )
    .bind(user)
    .fetch_one(&mut c)
    .await
    .unwrap()
}

/// Rolls the database back to V3 (the functions and trigger as they were).
fn back_to_v3(db: &SupaDb) {
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "3", "-q"]));
}

fn to_latest(db: &SupaDb) {
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
}

// ---- type shadowing through pg_temp --------------------------------------------------------

/// A login role holding only `authenticated` shadows jsonb, json and date
/// with temporary domains whose CHECK records who ran it, what it could read,
/// and tries to make the attacker SUPERUSER; then runs `call` in the same
/// transaction. Returns what the trap saw, as "user:auth_users_rows".
async fn shadowing_attack(db: &SupaDb, call: &str) -> (Vec<String>, Result<(), String>) {
    shadowing_attack_as(db, "authenticated", call).await
}

/// [`shadowing_attack`] by a login role holding only `member_of`.
async fn shadowing_attack_as(
    db: &SupaDb,
    member_of: &str,
    call: &str,
) -> (Vec<String>, Result<(), String>) {
    let (attacker, url) = db.login_member_of(member_of).await;
    let mut c = PgConnection::connect(&url).await.unwrap();
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims(FREE_USER))
        .execute(&mut *tx)
        .await
        .unwrap();
    let trap = format!(
        "CREATE TABLE pg_temp.seen (who text, auth_users bigint);
         GRANT ALL ON pg_temp.seen TO PUBLIC;
         -- setval survives the rollback of a failed statement; rows do not.
         CREATE SEQUENCE pg_temp.owner_reads;
         GRANT ALL ON SEQUENCE pg_temp.owner_reads TO PUBLIC;
         CREATE FUNCTION pg_temp.evil() RETURNS boolean LANGUAGE plpgsql AS $e$
         BEGIN
           IF current_user = 'postgres' THEN
             PERFORM pg_catalog.setval('pg_temp.owner_reads', (SELECT count(*) FROM auth.users) + 1);
           END IF;
           INSERT INTO pg_temp.seen
             SELECT current_user, (SELECT count(*) FROM auth.users);
           BEGIN
             ALTER ROLE {attacker} SUPERUSER;
           EXCEPTION WHEN OTHERS THEN NULL;
           END;
           RETURN true;
         EXCEPTION WHEN OTHERS THEN
           RETURN true;
         END $e$;
         CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.evil());
         CREATE DOMAIN pg_temp.json AS pg_catalog.json CHECK (pg_temp.evil());
         CREATE DOMAIN pg_temp.date AS pg_catalog.date CHECK (pg_temp.evil());"
    );
    tx.execute(sqlx::raw_sql(&trap)).await.unwrap();
    tx.execute("SAVEPOINT before_call").await.unwrap();
    let called = tx
        .execute(call)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    if called.is_err() {
        tx.execute("ROLLBACK TO SAVEPOINT before_call")
            .await
            .unwrap();
    }
    let mut seen: Vec<(String, i64)> = sqlx::query_as("SELECT who, auth_users FROM pg_temp.seen")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let (ran, n): (bool, i64) =
        sqlx::query_as("SELECT is_called, last_value FROM pg_temp.owner_reads")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    if ran && seen.is_empty() {
        seen.push(("postgres".to_string(), n - 1));
    }
    tx.rollback().await.unwrap();
    let superuser: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(!superuser, "{attacker} became SUPERUSER");
    let seen = seen.iter().map(|(w, n)| format!("{w}:{n}")).collect();
    (seen, called)
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_temp_domains_do_not_run_inside_the_rpc() {
    let db = supabase_installed_db_adding_roles().await;
    let call = format!("SELECT * FROM public.increment_usage_if_allowed('{FREE_USER}')");
    back_to_v3(&db);
    // Reverting V5 and V4 restores V3 exactly: drift compares with V3's
    // definitions and finds only V4 and V5 pending; the trigger check
    // expects V3's BEFORE.
    let drift = json(&db.quota(&["check", "drift", "--format", "json"]));
    let detail = drift["checks"][0]["detail"].as_str().unwrap().to_string();
    let pending: Vec<&str> = detail.split("; ").collect();
    assert_eq!(pending[0], "V4__harden_functions is not applied", "{drift}");
    assert!(
        pending.iter().all(|p| p.ends_with(" is not applied")),
        "only later versions pending: {drift}"
    );
    assert_success(&db.quota(&["check", "trigger"]));
    let (seen, _) = shadowing_attack(&db, &call).await;
    assert!(
        seen.iter().any(|s| s.starts_with("postgres:")),
        "V3's search_path='' lets pg_temp.jsonb run as the owner: {seen:?}"
    );
    to_latest(&db);
    let (seen, called) = shadowing_attack(&db, &call).await;
    assert!(seen.is_empty(), "the trap ran: {seen:?}");
    called.expect("the caller's own call still works");
}

#[tokio::test(flavor = "multi_thread")]
async fn pg_temp_domains_do_not_run_inside_the_trigger() {
    let db = supabase_installed_db_adding_roles().await;
    let insert = format!(
        "INSERT INTO public.clips (user_id, url, title) VALUES ('{FREE_USER}', 'https://e.x', 't')"
    );
    back_to_v3(&db);
    let (seen, _) = shadowing_attack(&db, &insert).await;
    assert!(
        seen.iter().any(|s| s.starts_with("postgres:")),
        "V3's trigger lets pg_temp.date run as the owner: {seen:?}"
    );
    to_latest(&db);
    let before = usage(&db, FREE_USER).await;
    let (seen, called) = shadowing_attack(&db, &insert).await;
    assert!(seen.is_empty(), "the trap ran: {seen:?}");
    called.expect("the caller's own clip is still inserted");
    assert_eq!(usage(&db, FREE_USER).await, before, "rolled back");
}

#[tokio::test(flavor = "multi_thread")]
async fn anon_cannot_reach_the_trigger_through_pg_temp() {
    let db = supabase_installed_db_adding_roles().await;
    // Supabase's default privileges give anon INSERT on clips; only RLS
    // (no insert policy for anon) stands in the way — after the trigger, on V3.
    let insert = format!(
        "INSERT INTO public.clips (user_id, url, title) VALUES ('{FREE_USER}', 'https://e.x', 't')"
    );
    back_to_v3(&db);
    let (seen, called) = shadowing_attack_as(&db, "anon", &insert).await;
    assert!(
        seen.iter().any(|s| s.starts_with("postgres:")),
        "V3's BEFORE trigger ran anon's trap as the owner, reading auth.users: {seen:?} {called:?}"
    );
    to_latest(&db);
    let (seen, called) = shadowing_attack_as(&db, "anon", &insert).await;
    assert!(seen.is_empty(), "the trap ran: {seen:?}");
    let err = called.unwrap_err();
    assert!(err.contains("row-level security"), "{err}");
}

// ---- the cross-user guard ----------------------------------------------------------------

/// Every way a JWT can reach the RPC: (label, role, settings) for a caller
/// whose sub is `sub`.
type JwtPath = (&'static str, &'static str, Vec<(&'static str, String)>);

fn jwt_paths(sub: &str) -> Vec<JwtPath> {
    vec![
        (
            "claims JSON",
            "authenticated",
            vec![("request.jwt.claims", claims(sub))],
        ),
        (
            "legacy per-claim settings only",
            "authenticated",
            vec![
                ("request.jwt.claim.sub", sub.to_string()),
                ("request.jwt.claim.role", "authenticated".to_string()),
            ],
        ),
        (
            "claims without a role",
            "authenticated",
            vec![(
                "request.jwt.claims",
                serde_json::json!({ "sub": sub }).to_string(),
            )],
        ),
        (
            "custom role inheriting authenticated",
            "premium_users",
            vec![("request.jwt.claims", claims(sub))],
        ),
        (
            "claims whose role says service_role",
            "authenticated",
            vec![(
                "request.jwt.claims",
                serde_json::json!({ "sub": sub, "role": "service_role" }).to_string(),
            )],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guard_refuses_another_users_id_on_every_jwt_path() {
    let db = supabase_installed_db_adding_roles().await;
    db.drop_role_at_end("premium_users");
    db.exec_admin(
        "DO $r$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'premium_users') THEN
             CREATE ROLE premium_users NOLOGIN;
           END IF;
         END $r$;
         GRANT authenticated TO premium_users;
         GRANT premium_users TO postgres;",
    )
    .await;
    let mut c = db.connect().await;
    let victim = LIMITED_USER;
    let call = format!("SELECT * FROM public.increment_usage_if_allowed('{victim}')");
    // V3's guard only looked at claims whose role said authenticated.
    back_to_v3(&db);
    let mut open = Vec::new();
    for (label, role, settings) in jwt_paths(FREE_USER) {
        let settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (*n, v.as_str())).collect();
        if request(&mut c, Some(role), &settings, &call).await.is_ok() {
            open.push(label);
        }
    }
    assert!(open.len() >= 3, "V3 was open on: {open:?}");
    to_latest(&db);
    // Make the victim's quota spendable, so only the guard stands in the way.
    db.exec_admin(&format!(
        "UPDATE public.users SET usage_this_month = 0 WHERE id = '{victim}'"
    ))
    .await;
    let before = usage(&db, victim).await;
    for (label, role, settings) in jwt_paths(FREE_USER) {
        let settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (*n, v.as_str())).collect();
        match request(&mut c, Some(role), &settings, &call).await {
            Err((code, msg)) => assert_eq!(code, "42501", "{label}: {msg}"),
            Ok(_) => panic!("{label}: spent another user's quota"),
        }
        // The caller's own id passes on the same path.
        let own = format!("SELECT * FROM public.increment_usage_if_allowed('{FREE_USER}')");
        request(&mut c, Some(role), &settings, &own)
            .await
            .unwrap_or_else(|e| panic!("{label}: own id refused: {e:?}"));
    }
    // anon: no EXECUTE at all; with or without a sub.
    let anon = request(
        &mut c,
        Some("anon"),
        &[("request.jwt.claims", &claims(victim))],
        &call,
    )
    .await;
    assert_eq!(anon.unwrap_err().0, "42501");
    // No role switched but a JWT present: still the sub's quota only.
    let no_role = request(&mut c, None, &[("request.jwt.claim.sub", FREE_USER)], &call).await;
    assert_eq!(no_role.unwrap_err().0, "42501");
    assert_eq!(usage(&db, victim).await, before, "the victim was charged");
    // service_role and a direct session with no JWT may spend anyone's.
    request(
        &mut c,
        Some("service_role"),
        &[("request.jwt.claims", &claims(FREE_USER))],
        &call,
    )
    .await
    .unwrap();
    request(&mut c, None, &[], &call).await.unwrap();
    assert_eq!(usage(&db, victim).await.0, before.0 + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_security_probes_every_jwt_path() {
    let db = supabase_installed_db().await;
    back_to_v3(&db);
    // Only the guard is left wrong: V2's body with a safe search_path.
    db.exec(
        "ALTER FUNCTION public.increment_usage_if_allowed(uuid) SET search_path = pg_catalog, pg_temp;
         ALTER FUNCTION public.enforce_clip_limit() SET search_path = pg_catalog, pg_temp;",
    )
    .await;
    // anon, were it granted EXECUTE, is probed too (the grants check fails
    // on the grant itself).
    db.exec("GRANT EXECUTE ON FUNCTION public.increment_usage_if_allowed(uuid) TO anon")
        .await;
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        "as anon with an anonymous JWT",
        "only the legacy request.jwt.claim.sub/.role settings",
        "claims without a role claim",
        "no role switched",
    ] {
        assert!(detail.contains(path), "{path} not probed: {detail}");
    }
    assert!(!detail.contains("search_path"), "{detail}");
    to_latest(&db);
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_success(&out);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("on all 6 JWT paths"), "{detail}");
}

// ---- the migration history -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_history_is_out_of_the_apis_reach() {
    let db = supabase_installed_db().await;
    let mut c = db.connect().await;
    for role in ["anon", "authenticated"] {
        for sql in [
            "SELECT * FROM quota.schema_history",
            "INSERT INTO quota.schema_history VALUES (9, 'forged', '2030-01-01T00:00:00Z', '1')",
            "DELETE FROM quota.schema_history",
        ] {
            let out = request(&mut c, Some(role), &[], sql).await;
            assert_eq!(out.unwrap_err().0, "42501", "{role}: {sql}");
        }
    }
    let exposed: bool =
        sqlx::query_scalar("SELECT to_regclass('public.quota_schema_history') IS NOT NULL")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(!exposed);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_installs_history_is_moved_by_apply() {
    let db = supabase_installed_db().await;
    // What an older quota left at V4: the history in public, open to anon.
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "4", "-q"]));
    db.exec(
        "ALTER TABLE quota.schema_history SET SCHEMA public;
         ALTER TABLE public.schema_history RENAME TO quota_schema_history;
         GRANT ALL ON public.quota_schema_history TO anon, authenticated;
         DROP SCHEMA quota;",
    )
    .await;
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert_eq!(
        status["database_version"], 4,
        "status reads the old place: {status}"
    );
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("still in public.quota_schema_history"),
        "{detail}"
    );
    let out = db.quota(&["migrate", "apply"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("database at V{}", crate::common::latest())),
        "{}",
        stdout(&out)
    );
    let mut c = db.connect().await;
    let (old, rows): (bool, i64) = sqlx::query_as(
        "SELECT to_regclass('public.quota_schema_history') IS NOT NULL,
                (SELECT count(*) FROM quota.schema_history)",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(!old, "moved, not copied");
    assert_eq!(rows, crate::common::versions().len() as i64);
    let read = request(
        &mut c,
        Some("anon"),
        &[],
        "SELECT * FROM quota.schema_history",
    )
    .await;
    assert_eq!(read.unwrap_err().0, "42501");
    assert_success(&db.quota(&["verify"]));
    // Rolling everything back leaves the schema and an empty history.
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "0", "-q"]));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM quota.schema_history")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

// ---- the trigger after RLS and ON CONFLICT ----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_insert_rls_refuses_leaks_nothing_and_charges_nothing() {
    let db = supabase_installed_db().await;
    let mut c = db.connect().await;
    // LIMITED_USER is at 50 of 50 clips; FREE_USER tries to add one for them.
    let insert = format!(
        "INSERT INTO public.clips (user_id, url, title) VALUES ('{LIMITED_USER}', 'https://e.x', 't')"
    );
    let jwt = claims(FREE_USER);
    back_to_v3(&db);
    let (_, msg) = request(
        &mut c,
        Some("authenticated"),
        &[("request.jwt.claims", &jwt)],
        &insert,
    )
    .await
    .unwrap_err();
    assert!(msg.contains("Clip limit reached"), "V3 leaked: {msg}");
    to_latest(&db);
    let before = (usage(&db, LIMITED_USER).await, usage(&db, FREE_USER).await);
    let (code, msg) = request(
        &mut c,
        Some("authenticated"),
        &[("request.jwt.claims", &jwt)],
        &insert,
    )
    .await
    .unwrap_err();
    assert_eq!(code, "42501", "{msg}");
    assert!(msg.contains("row-level security"), "{msg}");
    assert!(!msg.contains("Clip limit") && !msg.contains("50"), "{msg}");
    assert_eq!(
        (usage(&db, LIMITED_USER).await, usage(&db, FREE_USER).await),
        before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_users_own_insert_over_the_limit_keeps_the_apis_contract() {
    let db = supabase_installed_db().await;
    let mut c = db.connect().await;
    let insert = format!(
        "INSERT INTO public.clips (user_id, url, title) VALUES ('{LIMITED_USER}', 'https://e.x', 't')"
    );
    let before = usage(&db, LIMITED_USER).await;
    let mut tx = c.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims(LIMITED_USER))
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = tx.execute(insert.as_str()).await.unwrap_err();
    let db_err = err.as_database_error().unwrap();
    assert_eq!(db_err.code().as_deref(), Some("23514"));
    assert!(
        db_err.message().starts_with("Clip limit reached"),
        "{}",
        db_err.message()
    );
    let pg = db_err
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .unwrap();
    let detail = pg.detail().unwrap_or_default();
    assert!(
        detail.contains("limit=50") && detail.contains("usage=50"),
        "{detail}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(usage(&db, LIMITED_USER).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_conflict_do_nothing_charges_only_inserted_rows() {
    let db = supabase_installed_db().await;
    db.exec("CREATE UNIQUE INDEX clips_user_url ON public.clips (user_id, url)")
        .await;
    let mut c = db.connect().await;
    let jwt = claims(FREE_USER);
    let settings = [("request.jwt.claims", jwt.as_str())];
    let first = format!(
        "INSERT INTO public.clips (user_id, url, title) VALUES ('{FREE_USER}', 'a', 't') RETURNING id"
    );
    // PostgREST's Prefer: resolution=ignore-duplicates.
    let batch = format!(
        "INSERT INTO public.clips (user_id, url, title)
         VALUES ('{FREE_USER}', 'a', 't'), ('{FREE_USER}', 'a', 't'), ('{FREE_USER}', 'b', 't'),
                ('{FREE_USER}', 'a', 't')
         ON CONFLICT DO NOTHING RETURNING id"
    );
    // One new row, then a batch of which only one row is new.
    let mut first_then_batch = async || {
        assert_eq!(
            request(&mut c, Some("authenticated"), &settings, &first).await,
            Ok(1)
        );
        assert_eq!(
            request(&mut c, Some("authenticated"), &settings, &batch).await,
            Ok(1)
        );
    };
    back_to_v3(&db);
    let before = usage(&db, FREE_USER).await.1;
    first_then_batch().await;
    assert_eq!(
        usage(&db, FREE_USER).await.1,
        before + 5,
        "V3 charged every row offered"
    );
    db.exec("DELETE FROM public.clips").await;
    to_latest(&db);
    let before = usage(&db, FREE_USER).await.1;
    first_then_batch().await;
    assert_eq!(
        usage(&db, FREE_USER).await.1,
        before + 2,
        "one per inserted row"
    );
}

// ---- rollback and the application's data -------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_applications_clip_limits_is_never_adopted_nor_dropped() {
    let db = supabase_db().await;
    db.exec(
        "CREATE TABLE public.clip_limits (tier text PRIMARY KEY, monthly_limit integer NOT NULL);
         INSERT INTO public.clip_limits VALUES ('free', 10), ('team', 5000), ('pro', 2000);",
    )
    .await;
    let out = db.quota(&["migrate", "apply"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("public.clip_limits"), "{err}");
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert_eq!(status["database_version"], 0, "nothing installed: {status}");
    // Up to V2 does not touch it; rolling back leaves it whole.
    assert_success(&db.quota(&["migrate", "apply", "--target", "2", "-q"]));
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "0", "-q"]));
    let mut c = db.connect().await;
    let rows: Vec<(String, i32)> =
        sqlx::query_as("SELECT tier, monthly_limit FROM public.clip_limits ORDER BY tier")
            .fetch_all(&mut c)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("free".into(), 10),
            ("pro".into(), 2000),
            ("team".into(), 5000)
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_applications_period_column_is_never_adopted() {
    let db = supabase_db().await;
    db.exec("ALTER TABLE public.users ADD COLUMN usage_period_start date")
        .await;
    let out = db.quota(&["migrate", "apply"]);
    assert_exit_with(&out, 4, "public.users.usage_period_start");
    let out = db.quota(&["migrate", "apply", "--dry-run"]);
    assert_exit(&out, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_shows_the_limits_it_would_drop() {
    let db = supabase_installed_db().await;
    db.exec(
        "INSERT INTO public.clip_limits VALUES ('enterprise', 10000);
         UPDATE public.clip_limits SET monthly_limit = 60 WHERE tier = 'free';",
    )
    .await;
    // One step (V4) keeps the table: nothing to warn about.
    let one = db.quota(&["migrate", "rollback", "--dry-run"]);
    assert_success(&one);
    assert!(!stdout(&one).contains("enterprise"), "{}", stdout(&one));
    let dry = db.quota(&["migrate", "rollback", "--dry-run", "--target", "2"]);
    assert_success(&dry);
    let text = stdout(&dry);
    assert!(text.contains("enterprise=10000 (added)"), "{text}");
    assert!(text.contains("free=60 (changed from 50)"), "{text}");
    let dry = json(&db.quota(&[
        "migrate",
        "rollback",
        "--dry-run",
        "--target",
        "2",
        "--format",
        "json",
    ]));
    assert_eq!(
        dry["discarded_limits"],
        serde_json::json!([
            { "tier": "enterprise", "monthly_limit": 10000, "seeded": null },
            { "tier": "free", "monthly_limit": 60, "seeded": 50 }
        ])
    );
    // The confirmation question names them (without a terminal it is
    // printed with the refusal).
    let asked = db.quota(&["migrate", "rollback", "--target", "2"]);
    assert_exit_with(
        &asked,
        2,
        "enterprise=10000 (added), free=60 (changed from 50)",
    );
    let done = db.quota(&["migrate", "rollback", "--yes", "--target", "2"]);
    assert_success(&done);
    assert!(
        stdout(&done).contains("enterprise=10000 (added)"),
        "{}",
        stdout(&done)
    );
}

// ---- what check security must see, and its hints fix ---------------------------------------------

/// The SQL statements in a hint: every `...` span, split at `;`.
pub(crate) fn hint_statements(hint: &str) -> Vec<String> {
    hint.split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|sql| sql.split(';'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `sabotage` (as supabase_admin) makes `check security` fail with a detail
/// containing `expect`; running every statement of its hints as postgres
/// makes it pass again. Returns the hint.
async fn fails_then_hints_fix(db: &SupaDb, sabotage: &str, expect: &str) -> String {
    assert_success(&db.quota(&["check", "security"]));
    db.exec_admin(sabotage).await;
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    let detail = report["checks"][0]["detail"].as_str().unwrap().to_string();
    let hint = report["checks"][0]["hint"].as_str().unwrap().to_string();
    assert!(detail.contains(expect), "{expect:?} not in {detail}");
    let statements = hint_statements(&hint);
    assert!(!statements.is_empty(), "no SQL in the hint: {hint}");
    let mut c = db.connect().await;
    for sql in &statements {
        c.execute(sql.as_str())
            .await
            .unwrap_or_else(|e| panic!("hint statement failed: {sql}: {e}"));
    }
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_success(&out);
    hint
}

#[tokio::test(flavor = "multi_thread")]
async fn truncate_trigger_and_references_fail_security() {
    let db = supabase_installed_db().await;
    let hint = fails_then_hints_fix(
        &db,
        "GRANT TRUNCATE, TRIGGER, REFERENCES ON public.users, public.user_usage TO anon, authenticated",
        "TRUNCATE",
    )
    .await;
    assert!(
        hint.contains(
            "REVOKE TRUNCATE, TRIGGER, REFERENCES ON public.user_usage FROM anon, authenticated"
        ),
        "{hint}"
    );
    let mut c = db.connect().await;
    let truncate = request(
        &mut c,
        Some("authenticated"),
        &[],
        "TRUNCATE public.user_usage",
    )
    .await;
    assert_eq!(truncate.unwrap_err().0, "42501");
}

#[tokio::test(flavor = "multi_thread")]
async fn inserting_ones_own_profile_with_limits_fails_security() {
    let db = supabase_installed_db().await;
    let hint = fails_then_hints_fix(
        &db,
        "CREATE POLICY \"Users can insert own profile\" ON public.users
           FOR INSERT TO authenticated WITH CHECK (auth.uid() = id)",
        "can INSERT public.users",
    )
    .await;
    assert!(hint.contains("GRANT INSERT ("), "column-level: {hint}");
    // After the fix a new user can still create a profile, but not its limits.
    // The fixture's signup trigger makes the profile; this project lets the
    // user make it (the policy above), so the trigger's row goes again.
    db.exec_admin(
        "INSERT INTO auth.users (id, aud, role, email) VALUES ('55555555-5555-4555-8555-555555555555', 'authenticated', 'authenticated', 'n@example.com');
         DELETE FROM public.users WHERE id = '55555555-5555-4555-8555-555555555555';",
    )
    .await;
    let mut c = db.connect().await;
    let new_user = "55555555-5555-4555-8555-555555555555";
    let jwt = claims(new_user);
    let settings = [("request.jwt.claims", jwt.as_str())];
    let greedy = format!(
        "INSERT INTO public.users (id, email, full_name, plan_limits_scrapes, subscription_tier)
         VALUES ('{new_user}', 'n@example.com', 'N', 1000000, 'pro')"
    );
    assert_eq!(
        request(&mut c, Some("authenticated"), &settings, &greedy)
            .await
            .unwrap_err()
            .0,
        "42501"
    );
    let plain = format!(
        "INSERT INTO public.users (id, email, full_name) VALUES ('{new_user}', 'n@example.com', 'N')"
    );
    request(&mut c, Some("authenticated"), &settings, &plain)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_ones_own_row_to_reset_usage_fails_security() {
    let db = supabase_installed_db().await;
    fails_then_hints_fix(
        &db,
        // V6 took the default DELETE away; the sabotage grants it back.
        "GRANT DELETE ON public.user_usage TO authenticated;
         CREATE POLICY \"Users can delete own usage\" ON public.user_usage
           FOR DELETE TO authenticated USING (auth.uid() = user_id)",
        "can DELETE public.user_usage",
    )
    .await;
    let mut c = db.connect().await;
    let jwt = claims(LIMITED_USER);
    let delete = format!("DELETE FROM public.user_usage WHERE user_id = '{LIMITED_USER}'");
    let out = request(
        &mut c,
        Some("authenticated"),
        &[("request.jwt.claims", &jwt)],
        &delete,
    )
    .await;
    assert_eq!(out.unwrap_err().0, "42501");
    assert_eq!(usage(&db, LIMITED_USER).await.1, 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_updatable_owner_rights_view_fails_security() {
    let db = supabase_installed_db().await;
    db.exec("CREATE VIEW public.profiles AS SELECT id, full_name, usage_this_month, plan_limits_scrapes FROM public.users")
        .await;
    let mut c = db.connect().await;
    let raise = format!(
        "UPDATE public.profiles SET plan_limits_scrapes = 1000000 WHERE id = '{FREE_USER}' RETURNING id"
    );
    // Supabase's default privileges give anon ALL on the view: as anon!
    assert_eq!(request(&mut c, Some("anon"), &[], &raise).await, Ok(1));
    db.exec_admin(&format!(
        "UPDATE public.users SET plan_limits_scrapes = 5 WHERE id = '{FREE_USER}'"
    ))
    .await;
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    let detail = report["checks"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("public.profiles"), "{detail}");
    let hint = report["checks"][0]["hint"].as_str().unwrap();
    assert!(
        hint.contains("ALTER VIEW public.profiles SET (security_invoker = true)"),
        "{hint}"
    );
    for sql in hint_statements(hint) {
        c.execute(sql.as_str()).await.unwrap();
    }
    assert_success(&db.quota(&["check", "security"]));
    assert_eq!(
        request(&mut c, Some("anon"), &[], &raise)
            .await
            .unwrap_err()
            .0,
        "42501"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn table_wide_update_gets_a_column_level_hint_that_keeps_profile_edits() {
    let db = supabase_installed_db().await;
    let hint = fails_then_hints_fix(
        &db,
        "GRANT UPDATE ON public.users TO anon, authenticated",
        "authenticated can UPDATE public.users",
    )
    .await;
    assert!(
        hint.contains("REVOKE UPDATE ON public.users FROM anon, authenticated"),
        "{hint}"
    );
    assert!(
        hint.contains("GRANT UPDATE (") && hint.contains("full_name"),
        "{hint}"
    );
    assert!(!hint.contains("usage_this_month"), "{hint}");
    assert!(!hint.contains("DROP POLICY"), "{hint}");
    let mut c = db.connect().await;
    let jwt = claims(FREE_USER);
    let settings = [("request.jwt.claims", jwt.as_str())];
    let edit = format!(
        "UPDATE public.users SET full_name = 'New Name' WHERE id = '{FREE_USER}' RETURNING id"
    );
    assert_eq!(
        request(&mut c, Some("authenticated"), &settings, &edit).await,
        Ok(1)
    );
    let raise = format!("UPDATE public.users SET usage_this_month = 0 WHERE id = '{FREE_USER}'");
    assert_eq!(
        request(&mut c, Some("authenticated"), &settings, &raise)
            .await
            .unwrap_err()
            .0,
        "42501"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_inheriting_authenticated_is_checked_and_policy_names_are_quoted() {
    let db = supabase_installed_db_adding_roles().await;
    db.drop_role_at_end("Premium Users");
    let hint = fails_then_hints_fix(
        &db,
        "DO $r$ BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'Premium Users') THEN
             CREATE ROLE \"Premium Users\" NOLOGIN;
           END IF;
         END $r$;
         GRANT authenticated TO \"Premium Users\";
         GRANT UPDATE ON public.user_usage TO \"Premium Users\";
         CREATE POLICY \"premium can fix usage\" ON public.user_usage
           FOR UPDATE TO \"Premium Users\" USING (true);",
        "Premium Users can UPDATE public.user_usage",
    )
    .await;
    assert!(hint.contains("\"Premium Users\""), "{hint}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grant_on_the_history_fails_security() {
    let db = supabase_installed_db().await;
    let hint = fails_then_hints_fix(
        &db,
        "GRANT USAGE ON SCHEMA quota TO anon; GRANT SELECT, INSERT ON quota.schema_history TO anon",
        "anon can reach the migration history",
    )
    .await;
    assert!(
        hint.contains("REVOKE ALL ON SCHEMA quota FROM anon"),
        "{hint}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_search_path_fails_security_and_its_hint_fixes_it() {
    let db = supabase_installed_db().await;
    let hint = fails_then_hints_fix(
        &db,
        "ALTER FUNCTION public.enforce_clip_limit() SET search_path = ''",
        "leaves pg_temp implicit",
    )
    .await;
    assert!(hint.contains("pg_catalog, pg_temp"), "{hint}");
}
