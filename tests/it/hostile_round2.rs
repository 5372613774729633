//! Hostile callers, round 2 (issue 16): what runs inside quota's writes,
//! and who the RPC's guard can and cannot tell apart. Each attack runs the
//! way PostgREST runs a request (one transaction, `SET LOCAL ROLE
//! authenticated`, the claims by `set_config(..., true)`) by a login that
//! only switches roles, like PostgREST's `authenticator`; it is first shown
//! to work, then `check security` fails on the configuration, every SQL
//! statement of its hints is run, the check passes, the attack fails and the
//! application's own writes keep working. Clip inserts and views:
//! `hostile_clips.rs`.

use sqlx::{Connection, Executor, PgConnection};

use crate::common::{self, assert_exit, json};
use crate::hostile::{claims, hint_statements, request, Outcome};
use crate::supabase::{
    supabase_installed_db, supabase_installed_db_adding_roles, SupaDb, FREE_USER, PRO_USER,
};

/// `quota check security` as JSON: (exit code, status, detail, hint).
pub(crate) fn security(db: &SupaDb) -> (i32, String, String, String) {
    let out = db.quota(&["check", "security", "--format", "json"]);
    let code = out.status.code().unwrap_or(-1);
    let report = json(&out);
    let check = &report["checks"][0];
    let field = |k: &str| check[k].as_str().unwrap_or_default().to_string();
    (code, field("status"), field("detail"), field("hint"))
}

/// Asserts `check security` fails with `expect` in its detail; runs every
/// SQL statement of the hints (as postgres, or as the superuser when
/// `as_admin`); asserts it passes. Returns the hint.
pub(crate) async fn fails_then_hints_fix(db: &SupaDb, expect: &str, as_admin: bool) -> String {
    let (code, status, detail, hint) = security(db);
    assert_eq!((code, status.as_str()), (1, "fail"), "{detail}");
    assert!(detail.contains(expect), "{expect:?} not in {detail}");
    let statements = hint_statements(&hint);
    assert!(!statements.is_empty(), "no SQL in the hint: {hint}");
    let mut c = if as_admin {
        db.connect_admin().await
    } else {
        db.connect().await
    };
    for sql in &statements {
        c.execute(sql.as_str())
            .await
            .unwrap_or_else(|e| panic!("hint statement failed: {sql}: {e}"));
    }
    let (code, status, detail, _) = security(db);
    assert_eq!((code, status.as_str()), (0, "pass"), "{detail}");
    hint
}

/// A login that may only switch to `authenticated` (NOINHERIT, as
/// PostgREST's `authenticator`): the connection an attack runs on.
pub(crate) async fn switching_login(db: &SupaDb) -> PgConnection {
    let name = format!("sw_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    db.drop_role_at_end(&name);
    db.exec_admin(&format!(
        "CREATE ROLE {name} LOGIN NOINHERIT PASSWORD '{password}';
         GRANT authenticated TO {name};
         GRANT CONNECT ON DATABASE \"{}\" TO {name};",
        db.name
    ))
    .await;
    PgConnection::connect(&common::url_as(&db.url, &name, &password))
        .await
        .unwrap()
}

/// One request as `authenticated` for `sub` that first runs `setup` (many
/// statements: the caller's temporary objects), then `sql`.
async fn request_with_setup(conn: &mut PgConnection, sub: &str, setup: &str, sql: &str) -> Outcome {
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims(sub))
        .execute(&mut *tx)
        .await
        .unwrap();
    if !setup.is_empty() {
        tx.execute(sqlx::raw_sql(setup)).await.unwrap();
    }
    let result = sqlx::query(sql).fetch_all(&mut *tx).await;
    match result {
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

/// (FREE_USER's plan_limits_scrapes, the free tier's clip limit).
async fn limits(db: &SupaDb) -> (i32, i32) {
    let mut c = db.connect_admin().await;
    sqlx::query_as(
        "SELECT (SELECT plan_limits_scrapes FROM public.users WHERE id = $1::uuid),
                (SELECT monthly_limit FROM public.clip_limits WHERE tier = 'free')",
    )
    .bind(FREE_USER)
    .fetch_one(&mut c)
    .await
    .unwrap()
}

async fn reset_limits(db: &SupaDb) {
    db.exec_admin(&format!(
        "UPDATE public.users SET plan_limits_scrapes = 5, usage_this_month = 0 WHERE id = '{FREE_USER}';
         UPDATE public.clip_limits SET monthly_limit = 50 WHERE tier = 'free';"
    ))
    .await;
}

fn rpc(user: &str) -> String {
    format!("SELECT * FROM public.increment_usage_if_allowed('{user}')")
}

fn own_clip(user: &str) -> String {
    format!("INSERT INTO public.clips (user_id, url, title) VALUES ('{user}', 'https://x', 'x')")
}

/// A temporary domain named `text` whose CHECK runs `statement` (as
/// whoever evaluates it) and passes.
fn text_domain(statement: &str) -> String {
    format!(
        "CREATE FUNCTION pg_temp.evil() RETURNS boolean LANGUAGE plpgsql AS $e$
         BEGIN
           {statement};
           RETURN true;
         EXCEPTION WHEN OTHERS THEN RETURN true;
         END $e$;
         CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.evil());"
    )
}

/// "Note when the user reaches the limit", linted as Supabase's linter
/// suggests: `SET search_path = ''` and a `text` variable. With an empty
/// path PostgreSQL still searches pg_temp first for types.
const NOTE_TRIGGER: &str = "
    CREATE TABLE public.limit_notes (note text NOT NULL, at timestamptz NOT NULL DEFAULT now());
    CREATE FUNCTION public.note_limit() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
    DECLARE
      v_note text;
    BEGIN
      v_note := TG_TABLE_NAME || ' reached';
      INSERT INTO public.limit_notes (note) VALUES (v_note);
      RETURN NULL;
    END $$;
    CREATE TRIGGER note_limit AFTER UPDATE ON public.users
      FOR EACH ROW EXECUTE FUNCTION public.note_limit();
    CREATE TRIGGER note_clip_limit AFTER INSERT OR UPDATE ON public.user_usage
      FOR EACH ROW EXECUTE FUNCTION public.note_limit();";

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_note_trigger_with_an_empty_search_path_runs_a_callers_text_domain() {
    let db = supabase_installed_db_adding_roles().await;
    db.exec(NOTE_TRIGGER).await;
    let raise_own = text_domain(&format!(
        "UPDATE public.users SET plan_limits_scrapes = 777777 WHERE id = '{FREE_USER}' AND plan_limits_scrapes <> 777777"
    ));
    let raise_free = text_domain(
        "UPDATE public.clip_limits SET monthly_limit = 777777 WHERE tier = 'free' AND monthly_limit <> 777777",
    );
    // The attack works: through the RPC, then through a clip insert.
    let mut a = switching_login(&db).await;
    request_with_setup(&mut a, FREE_USER, &raise_own, &rpc(FREE_USER))
        .await
        .unwrap();
    assert_eq!(limits(&db).await, (777777, 50));
    let mut a = switching_login(&db).await;
    request_with_setup(&mut a, FREE_USER, &raise_free, &own_clip(FREE_USER))
        .await
        .unwrap();
    assert_eq!(limits(&db).await.1, 777777);
    reset_limits(&db).await;

    let hint = fails_then_hints_fix(
        &db,
        "public.note_limit() (trigger note_clip_limit on public.user_usage",
        false,
    )
    .await;
    assert!(
        hint.contains("ALTER FUNCTION public.note_limit() SET search_path = pg_catalog, pg_temp"),
        "{hint}"
    );
    assert!(hint.contains("schema-qualify"), "{hint}");

    // Fixed: the same attacks change no limit, and the writes still work.
    let mut a = switching_login(&db).await;
    assert_eq!(
        request_with_setup(&mut a, FREE_USER, &raise_own, &rpc(FREE_USER)).await,
        Ok(1)
    );
    let mut a = switching_login(&db).await;
    assert_eq!(
        request_with_setup(&mut a, FREE_USER, &raise_free, &own_clip(FREE_USER)).await,
        Ok(0)
    );
    assert_eq!(limits(&db).await, (5, 50));
    let mut c = db.connect().await;
    let jwt = claims(FREE_USER);
    let edit = format!(
        "UPDATE public.users SET full_name = 'Renamed' WHERE id = '{FREE_USER}' RETURNING id"
    );
    assert_eq!(
        request(
            &mut c,
            Some("authenticated"),
            &[("request.jwt.claims", &jwt)],
            &edit
        )
        .await,
        Ok(1)
    );
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM public.limit_notes")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(
        notes >= 3,
        "the application's trigger still writes its notes: {notes}"
    );
}

/// An unpinned trigger that names its table without a schema: inside the
/// RPC it runs with the RPC's path, pg_catalog, pg_temp.
const EVENT_TRIGGER: &str = "
    CREATE TABLE public.usage_events (user_id uuid NOT NULL, at timestamptz NOT NULL DEFAULT now());
    CREATE FUNCTION public.log_usage() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO usage_events (user_id) VALUES (NEW.id);
      RETURN NULL;
    END $$;
    CREATE TRIGGER log_usage AFTER UPDATE ON public.users
      FOR EACH ROW EXECUTE FUNCTION public.log_usage();";

#[tokio::test(flavor = "multi_thread")]
async fn an_unpinned_trigger_naming_a_table_unqualified_runs_a_callers_temporary_table() {
    let db = supabase_installed_db_adding_roles().await;
    db.exec(EVENT_TRIGGER).await;
    // No attacker: the RPC is broken, and verify says so now.
    let mut a = switching_login(&db).await;
    let broken = request_with_setup(&mut a, PRO_USER, "", &rpc(PRO_USER)).await;
    assert_eq!(broken.unwrap_err().0, "42P01");
    assert_exit(&db.quota(&["verify"]), 1);
    // The caller's temporary usage_events, whose trigger runs as the owner.
    let temp_table = format!(
        "CREATE TEMP TABLE usage_events (user_id uuid);
         GRANT ALL ON pg_temp.usage_events TO PUBLIC;
         CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS $g$
         BEGIN
           UPDATE public.users SET plan_limits_scrapes = 777777
            WHERE id = '{FREE_USER}' AND plan_limits_scrapes <> 777777;
           RETURN NULL;
         END $g$;
         CREATE TRIGGER grab AFTER INSERT ON pg_temp.usage_events
           FOR EACH ROW EXECUTE FUNCTION pg_temp.grab();"
    );
    let mut a = switching_login(&db).await;
    request_with_setup(&mut a, FREE_USER, &temp_table, &rpc(FREE_USER))
        .await
        .unwrap();
    assert_eq!(limits(&db).await.0, 777777);
    reset_limits(&db).await;

    let hint = fails_then_hints_fix(&db, "names usage_events without a schema", false).await;
    assert!(
        hint.contains(
            "ALTER FUNCTION public.log_usage() SET search_path = pg_catalog, public, pg_temp"
        ),
        "{hint}"
    );
    let mut a = switching_login(&db).await;
    assert_eq!(
        request_with_setup(&mut a, FREE_USER, &temp_table, &rpc(FREE_USER)).await,
        Ok(1)
    );
    assert_eq!(limits(&db).await.0, 5);
    let mut c = db.connect().await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM public.usage_events")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(events >= 1, "the application's own table gets the events");
}

/// What the guard cannot tell: a login that inherits `authenticated`
/// switches no role, so the guard sees a direct session.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_inheriting_authenticated_is_flagged_and_its_hint_closes_it() {
    let db = supabase_installed_db_adding_roles().await;
    let (login, url) = db.login_member_of("authenticated").await;
    let mut raw = PgConnection::connect(&url).await.unwrap();
    // Another user's id, no JWT at all: a direct session to the guard.
    let spent = sqlx::query(&rpc(PRO_USER)).fetch_all(&mut raw).await;
    assert_eq!(spent.unwrap().len(), 1, "the attack works before the fix");
    // A superuser created the login and granted the role: only it (or a
    // role with ADMIN on authenticated, PostgreSQL 16+) may revoke it.
    let hint = fails_then_hints_fix(
        &db,
        &format!("the login role {login} inherits authenticated"),
        true,
    )
    .await;
    assert!(
        hint.contains(&format!("REVOKE authenticated FROM {login}")),
        "{hint}"
    );
    let mut raw = PgConnection::connect(&url).await.unwrap();
    let refused = sqlx::query(&rpc(PRO_USER)).fetch_all(&mut raw).await;
    let e = refused.unwrap_err();
    assert_eq!(e.as_database_error().unwrap().code().unwrap(), "42501");
}

/// A login holding service_role is listed as a warning: `check security`
/// still passes (exit 0), and the warning names it.
#[tokio::test(flavor = "multi_thread")]
async fn a_login_inheriting_service_role_is_a_warning() {
    let db = supabase_installed_db_adding_roles().await;
    let (login, _) = db.login_member_of("service_role").await;
    let (code, status, detail, hint) = security(&db);
    assert_eq!((code, status.as_str()), (0, "warn"), "{detail}");
    assert!(
        detail.contains(&format!("{login} inherits service_role")),
        "{detail}"
    );
    assert!(
        hint.contains(&format!("REVOKE service_role FROM {login}")),
        "{hint}"
    );
}

/// A pinned trigger function that calls an unpinned one: the callee runs
/// with the caller's path, so it is checked as well, found by its name in
/// the caller's source.
#[tokio::test(flavor = "multi_thread")]
async fn a_function_the_trigger_calls_is_checked_too() {
    let db = supabase_installed_db_adding_roles().await;
    db.exec(
        "CREATE TABLE public.usage_events (user_id uuid NOT NULL);
         CREATE FUNCTION public.record_event(p uuid) RETURNS void LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO usage_events (user_id) VALUES (p);
         END $$;
         CREATE FUNCTION public.on_usage() RETURNS trigger LANGUAGE plpgsql
           SET search_path = pg_catalog, pg_temp AS $$
         BEGIN
           PERFORM public.record_event(NEW.id);
           RETURN NULL;
         END $$;
         CREATE TRIGGER on_usage AFTER UPDATE ON public.users
           FOR EACH ROW EXECUTE FUNCTION public.on_usage();",
    )
    .await;
    let mut a = switching_login(&db).await;
    let broken = request_with_setup(&mut a, FREE_USER, "", &rpc(FREE_USER)).await;
    assert_eq!(
        broken.unwrap_err().0,
        "42P01",
        "the callee cannot see its table"
    );
    let hint = fails_then_hints_fix(
        &db,
        "public.record_event(p uuid) (called by public.on_usage())",
        false,
    )
    .await;
    assert!(
        hint.contains("ALTER FUNCTION public.record_event(p uuid) SET search_path = pg_catalog, public, pg_temp"),
        "{hint}"
    );
    assert!(
        !hint.contains("public.on_usage() SET"),
        "the caller is fine: {hint}"
    );
    let mut a = switching_login(&db).await;
    assert_eq!(
        request_with_setup(&mut a, FREE_USER, "", &rpc(FREE_USER)).await,
        Ok(1)
    );
}

/// An ordinary trigger on clips runs as the user inserting the clip, not
/// inside quota's writes: unpinned, it leaves `check security` passing.
/// The same function on user_usage (written by quota's clip trigger) runs
/// as quota's owner and fails it; made SECURITY DEFINER on clips, it runs
/// as its owner and fails it too.
#[tokio::test(flavor = "multi_thread")]
async fn an_ordinary_clips_trigger_is_not_inside_quotas_writes() {
    let db = supabase_installed_db().await;
    db.exec(
        "CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RETURN NULL; END $$;
         CREATE TRIGGER stamp AFTER INSERT ON public.clips
           FOR EACH ROW EXECUTE FUNCTION public.stamp();",
    )
    .await;
    let (code, status, detail, _) = security(&db);
    assert_eq!((code, status.as_str()), (0, "pass"), "{detail}");
    assert!(!detail.contains("public.stamp()"), "{detail}");

    db.exec("ALTER FUNCTION public.stamp() SECURITY DEFINER")
        .await;
    let (code, status, detail, _) = security(&db);
    assert_eq!((code, status.as_str()), (1, "fail"), "{detail}");
    assert!(
        detail.contains("public.stamp() (trigger stamp on public.clips)"),
        "{detail}"
    );

    db.exec(
        "ALTER FUNCTION public.stamp() SECURITY INVOKER;
         CREATE TRIGGER stamp AFTER INSERT ON public.user_usage
           FOR EACH ROW EXECUTE FUNCTION public.stamp();",
    )
    .await;
    let (code, status, detail, _) = security(&db);
    assert_eq!((code, status.as_str()), (1, "fail"), "{detail}");
    assert!(
        detail.contains("public.stamp() (trigger stamp on public.user_usage)"),
        "{detail}"
    );
}
