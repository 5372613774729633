//! Supabase's documented signup trigger (`handle_new_user` on `auth.users`
//! inserting the profile into `public.users`), which the Supabase-shaped
//! fixture has: `race` and `bench` without `--user` make scratch users the
//! way a signup does, adopt the profile the trigger made, and leave no row
//! behind in `auth.users`, `users`, `user_usage` or `clips`.

use std::process::Output;

use sqlx::PgConnection;

use crate::common::{assert_exit, assert_success, json, stderr};
use crate::supabase::{supabase_installed_db, SupaDb};

/// Rows in every table a scratch user touches.
async fn tally(c: &mut PgConnection) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    for table in [
        "auth.users",
        "public.users",
        "public.user_usage",
        "public.clips",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *c)
            .await
            .unwrap();
        all.push((table.to_string(), n));
    }
    all
}

/// The three runs the issue names, small: both race targets and a bench.
fn runs() -> Vec<Vec<&'static str>> {
    vec![
        vec!["race", "--target", "rpc", "-n", "24", "--format", "json"],
        vec![
            "race", "--target", "trigger", "-n", "24", "--format", "json",
        ],
        vec![
            "bench",
            "--seconds",
            "0.3",
            "--warmup",
            "0",
            "--clients",
            "2",
            "--rounds",
            "1",
            "--format",
            "json",
        ],
    ]
}

/// Runs race (both targets) and bench on `db`; each must exit 0, the races
/// admit exactly what they expect, and no row is left behind.
async fn race_and_bench_leave_nothing(db: &SupaDb) {
    let mut c = db.connect_admin().await;
    let before = tally(&mut c).await;
    for args in runs() {
        let out: Output = db.quota(&args);
        assert_success(&out);
        let report = json(&out);
        if args[0] == "race" {
            assert_eq!(report["over_admitted"], 0, "{report}");
            assert_eq!(report["admitted"], report["expected"], "{report}");
        }
        assert_eq!(tally(&mut c).await, before, "{args:?} left rows behind");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fixture_has_supabases_signup_trigger() {
    let db = supabase_installed_db().await;
    let mut c = db.connect_admin().await;
    let (definer, config): (bool, Vec<String>) = sqlx::query_as(
        "SELECT p.prosecdef, coalesce(p.proconfig, '{}')
           FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
          WHERE t.tgrelid = 'auth.users'::regclass AND NOT t.tgisinternal
            AND p.oid = 'public.handle_new_user()'::regprocedure",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(definer);
    assert_eq!(config, vec!["search_path=\"\"".to_string()]);
    db.exec_admin(
        "INSERT INTO auth.users (id, aud, role, email, raw_user_meta_data)
         VALUES ('66666666-6666-4666-8666-666666666666', 'authenticated', 'authenticated',
                 'six@example.com', '{\"full_name\": \"Six\"}')",
    )
    .await;
    let (email, name): (String, String) = sqlx::query_as(
        "SELECT email, full_name FROM public.users WHERE id = '66666666-6666-4666-8666-666666666666'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((email.as_str(), name.as_str()), ("six@example.com", "Six"));
}

/// The fixture as it is: the trigger copies `new.email` into
/// `public.users.email NOT NULL`. Without an e-mail on the scratch
/// `auth.users` row this failed, blaming `auth.users`.
#[tokio::test(flavor = "multi_thread")]
async fn race_and_bench_adopt_the_profile_the_signup_trigger_makes() {
    let db = supabase_installed_db().await;
    // Record the e-mail of every profile the trigger makes: the scratch
    // auth.users row carries the placeholder e-mail on a reserved domain.
    db.exec_admin(
        "CREATE TABLE public.seen_profiles (email text, full_name text);
         CREATE FUNCTION public.note_profile() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.seen_profiles VALUES (new.email, new.full_name); RETURN new; END $$;
         CREATE TRIGGER note_profile AFTER INSERT ON public.users
           FOR EACH ROW EXECUTE FUNCTION public.note_profile();",
    )
    .await;
    race_and_bench_leave_nothing(&db).await;
    let mut c = db.connect_admin().await;
    let seen: Vec<(String, String)> =
        sqlx::query_as("SELECT email, full_name FROM public.seen_profiles")
            .fetch_all(&mut c)
            .await
            .unwrap();
    // One profile per scratch user (1 + 1 races, 2 bench clients), each
    // made once: by the trigger, with the placeholder e-mail, and adopted.
    assert_eq!(seen.len(), 4, "{seen:?}");
    for (email, name) in &seen {
        assert!(
            email.starts_with("quota-scratch-") && email.ends_with("@quota.invalid"),
            "{email}"
        );
        assert_eq!(name, "", "empty metadata: no full_name");
    }
}

/// A nullable e-mail and a trigger that inserts only the id: its profile
/// used to collide with quota's own insert (users_pkey). quota adopts it and
/// fills the missing e-mail.
#[tokio::test(flavor = "multi_thread")]
async fn a_profile_without_email_is_adopted_and_its_email_filled() {
    let db = supabase_installed_db().await;
    db.exec_admin(
        "ALTER TABLE public.users ALTER COLUMN email DROP NOT NULL,
                                  ALTER COLUMN full_name DROP NOT NULL;
         CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
         BEGIN INSERT INTO public.users (id) VALUES (new.id); RETURN new; END $$;
         CREATE TABLE public.seen_emails (email text);
         CREATE FUNCTION public.note_email() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO public.seen_emails VALUES (new.email); RETURN new; END $$;
         CREATE TRIGGER note_email AFTER UPDATE ON public.users
           FOR EACH ROW EXECUTE FUNCTION public.note_email();",
    )
    .await;
    race_and_bench_leave_nothing(&db).await;
    let mut c = db.connect_admin().await;
    let filled: Vec<String> = sqlx::query_scalar("SELECT email FROM public.seen_emails")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert!(!filled.is_empty(), "the adopted profiles were updated");
    assert!(
        filled.iter().all(|e| e.ends_with("@quota.invalid")),
        "the missing e-mail is filled: {filled:?}"
    );
}

/// A signup trigger that also creates the clip counter row: quota adopts
/// that one too instead of colliding on user_usage's key.
#[tokio::test(flavor = "multi_thread")]
async fn a_counter_row_made_by_the_signup_trigger_is_adopted() {
    let db = supabase_installed_db().await;
    db.exec_admin(
        "CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
         BEGIN
           INSERT INTO public.users (id, email, full_name) VALUES (new.id, new.email, 'new');
           INSERT INTO public.user_usage (user_id) VALUES (new.id);
           RETURN new;
         END $$;",
    )
    .await;
    race_and_bench_leave_nothing(&db).await;
}

/// A trigger whose profile insert the scratch row cannot satisfy: the error
/// names the table the trigger writes, exit 4, and nothing is left.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_signup_trigger_is_blamed_on_the_table_it_writes() {
    let db = supabase_installed_db().await;
    db.exec_admin(
        "CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
         BEGIN
           INSERT INTO public.users (id, email, full_name)
           VALUES (new.id, new.email, new.raw_user_meta_data ->> 'full_name');
           RETURN new;
         END $$;",
    )
    .await;
    let mut c = db.connect_admin().await;
    let before = tally(&mut c).await;
    for args in [
        &["race", "--target", "rpc"][..],
        &["race", "--target", "trigger"],
    ] {
        let out = db.quota(args);
        assert_exit(&out, 4);
        let err = stderr(&out);
        assert!(
            err.contains("public.users (written by a trigger on auth.users) requires values"),
            "{err}"
        );
        assert!(err.contains("full_name"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert_eq!(tally(&mut c).await, before);
}

/// A referenced table that is not Supabase Auth's (no `raw_user_meta_data`):
/// its scratch row gets the placeholder e-mail, and a `role` column meaning
/// something else keeps its default instead of `authenticated`.
#[tokio::test(flavor = "multi_thread")]
async fn a_parent_table_not_shaped_like_auth_users_keeps_its_role_default() {
    let db = crate::common::installed_db().await;
    db.exec(
        "CREATE SCHEMA accounts;
         CREATE TABLE accounts.people (
           id uuid PRIMARY KEY,
           email text UNIQUE CHECK (email LIKE '%@%'),
           role text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'owner')));
         ALTER TABLE public.users ADD CONSTRAINT users_id_fkey
           FOREIGN KEY (id) REFERENCES accounts.people (id) NOT VALID;",
    )
    .await;
    let mut c = db.connect().await;
    for target in ["rpc", "trigger"] {
        let out = db.quota(&["race", "--target", target, "-n", "10", "--format", "json"]);
        assert_success(&out);
        assert_eq!(json(&out)["over_admitted"], 0);
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts.people")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(left, 0, "the scratch rows are gone");
}
