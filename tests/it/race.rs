//! `quota race` against a real database: exact admission through both
//! targets, exact restore of a real user (also after Ctrl-C), and the naive
//! path's over-admission shown, not hidden.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::common::*;

/// A user's rows as text: the byte-for-byte view of what a race may touch.
async fn rows_of(c: &mut PgConnection, user: Uuid) -> (String, Option<String>, i64) {
    let u: String = sqlx::query_scalar("SELECT t::text FROM public.users AS t WHERE id = $1")
        .bind(user)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    let uu: Option<String> =
        sqlx::query_scalar("SELECT t::text FROM public.user_usage AS t WHERE user_id = $1")
            .bind(user)
            .fetch_optional(&mut *c)
            .await
            .unwrap();
    let clips: i64 = sqlx::query_scalar("SELECT count(*) FROM public.clips WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    (u, uu, clips)
}

fn race_json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["race", "--format", "json"];
    all.extend_from_slice(args);
    let out = db.quota(&all);
    assert_success(&out);
    json(&out)
}

#[track_caller]
fn assert_exact(r: &serde_json::Value, expected: u64) {
    assert_eq!(r["admitted"], expected, "{r}");
    assert_eq!(r["expected"], expected, "{r}");
    assert_eq!(r["over_admitted"], 0, "{r}");
    let moved = r["counter_after"].as_i64().unwrap() - r["counter_before"].as_i64().unwrap();
    assert_eq!(moved, expected as i64, "counter moved by admissions: {r}");
    assert_eq!(
        r["admitted"].as_u64().unwrap() + r["refused"].as_u64().unwrap(),
        r["attempts"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn rpc_race_on_a_scratch_user_admits_exactly_the_headroom_and_leaves_no_trace() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let r = race_json(
        &db,
        &["--target", "rpc", "-c", "16", "-n", "48", "--headroom", "7"],
    );
    assert_exact(&r, 7);
    assert_eq!(r["user"], "scratch");
    assert_eq!(r["concurrency"], 16);
    assert_eq!(r["target"], "rpc");
    assert_eq!(r["naive"], false);
    assert_eq!(snapshot(&mut c).await, before);
}

#[tokio::test]
async fn a_race_that_can_refuse_nothing_says_so() {
    let db = installed_db().await;
    // Headroom 100, 10 attempts: every attempt fits, nothing could be refused.
    let out = db.quota(&["race", "--headroom", "100", "--attempts", "10", "-c", "4"]);
    assert_success(&out);
    let err = stderr(&out);
    assert!(err.contains("cannot show an over-admission"), "{err}");
    assert!(err.contains("--attempts"), "{err}");
    // Attempts above the headroom: no such warning.
    let out = db.quota(&["race", "--headroom", "3", "--attempts", "10", "-c", "4"]);
    assert_success(&out);
    let err = stderr(&out);
    assert!(!err.contains("cannot show an over-admission"), "{err}");
}

#[tokio::test]
async fn trigger_race_on_a_scratch_user_admits_exactly_the_headroom_and_leaves_no_trace() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let r = race_json(&db, &["--target", "trigger", "-c", "16", "-n", "40"]);
    // Default headroom: half the attempts.
    assert_exact(&r, 20);
    assert_eq!(r["limit"], 50, "the free tier's limit from clip_limits");
    assert_eq!(r["counter_after"], 50);
    assert_eq!(snapshot(&mut c).await, before);
}

#[tokio::test]
async fn racing_an_otherwise_idle_real_user_leaves_its_rows_byte_for_byte() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 3, Some(10), "free").await;
    db.exec(&format!(
        "INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ('{user}', 47);
         INSERT INTO public.clips (user_id, url) VALUES ('{user}', 'https://example.com/kept');"
    ))
    .await;
    let rows = rows_of(&mut c, user).await;
    let all = snapshot(&mut c).await;
    let id = user.to_string();

    let r = race_json(
        &db,
        &["--user", &id, "--target", "rpc", "-c", "12", "-n", "30"],
    );
    assert_exact(&r, 7);
    assert_eq!(r["user"], id);
    assert_eq!(rows_of(&mut c, user).await, rows);

    // 47 + 1 clip inserted above = 48 of 50.
    let r = race_json(
        &db,
        &["--user", &id, "--target", "trigger", "-c", "12", "-n", "30"],
    );
    assert_exact(&r, 2);
    assert_eq!(rows_of(&mut c, user).await, rows);
    assert_eq!(snapshot(&mut c).await, all, "nothing else changed either");
}

#[tokio::test]
async fn a_user_usage_row_created_by_the_race_is_removed_again() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(5), "free").await;
    let rows = rows_of(&mut c, user).await;
    assert_eq!(rows.1, None);
    let r = race_json(
        &db,
        &[
            "--user",
            &user.to_string(),
            "--target",
            "trigger",
            "-c",
            "8",
            "-n",
            "60",
        ],
    );
    assert_exact(&r, 50);
    assert_eq!(rows_of(&mut c, user).await, rows);
}

#[tokio::test]
async fn the_naive_path_over_admits_and_says_so() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    for target in ["rpc", "trigger"] {
        let out = db.quota(&[
            "race",
            "--naive",
            "--target",
            target,
            "-c",
            "16",
            "-n",
            "48",
            "--headroom",
            "4",
            "--format",
            "json",
        ]);
        assert_success(&out);
        let r = json(&out);
        assert_eq!(r["naive"], true);
        assert_eq!(r["expected"], 4);
        assert!(r["over_admitted"].as_u64().unwrap() > 0, "{target}: {r}");
        assert!(stderr(&out).contains("OVER-ADMITTED"), "{}", stderr(&out));
    }
    assert_eq!(snapshot(&mut c).await, before);
}

#[tokio::test]
async fn race_table_output_names_the_verdict() {
    let db = installed_db().await;
    let out = db.quota(&["race", "-c", "4", "-n", "8"]);
    assert_success(&out);
    let text = stdout(&out);
    // The values, not the labels (the "over-admitted" row is always there).
    let value = |label: &str| -> String {
        let row = text
            .lines()
            .find(|l| {
                l.split('┆')
                    .next()
                    .is_some_and(|k| k.trim_matches(['│', ' ']) == label)
            })
            .unwrap_or_else(|| panic!("no {label} row: {text}"));
        row.split('┆')
            .nth(1)
            .unwrap()
            .trim_matches(['│', ' '])
            .to_string()
    };
    assert_eq!(value("over-admitted"), "0", "{text}");
    assert_eq!(value("verdict"), "ok", "{text}");
    assert_eq!(value("admitted"), "4", "{text}");
}

#[tokio::test]
async fn unknown_user_and_missing_enforcement_are_preconditions() {
    let db = installed_db().await;
    let out = db.quota(&["race", "--user", "99999999-9999-4999-8999-999999999999"]);
    assert_exit_with(&out, 4, "no user with id");

    let bare = demo_db().await;
    let mut c = bare.connect().await;
    let before = snapshot(&mut c).await;
    for target in ["rpc", "trigger"] {
        let out = bare.quota(&["race", "--target", target]);
        assert_exit_with(&out, 4, "quota migrate apply");
    }
    assert_eq!(snapshot(&mut c).await, before);

    let out = db.quota(&["race", "--user", "not-a-uuid"]);
    assert_exit(&out, 2);
}

/// Supabase's public.users.id references auth.users.id, and real tables
/// have required columns without defaults: the scratch user gets its
/// auth.users row and placeholders, and all of it is removed afterwards.
/// (This used to be refused: exit 4 pointing at --user.)
#[tokio::test]
async fn a_foreign_key_on_users_gets_a_scratch_row_there_too() {
    let db = installed_db().await;
    db.exec(
        "CREATE TABLE auth.users (id uuid PRIMARY KEY, created_at timestamptz DEFAULT now());
         ALTER TABLE public.users ADD CONSTRAINT users_id_fkey
           FOREIGN KEY (id) REFERENCES auth.users (id) NOT VALID;
         ALTER TABLE public.users ADD COLUMN handle text NOT NULL DEFAULT 'x';
         ALTER TABLE public.users ALTER COLUMN handle DROP DEFAULT;",
    )
    .await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let auth_before: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(&mut c)
        .await
        .unwrap();
    for target in ["rpc", "trigger"] {
        let r = race_json(&db, &["--target", target, "-c", "4", "-n", "10"]);
        assert_exact(&r, 5);
    }
    assert_eq!(snapshot(&mut c).await, before);
    let auth_after: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(
        auth_after, auth_before,
        "the scratch auth.users rows are gone"
    );
}

#[tokio::test]
async fn ctrl_c_mid_race_takes_back_what_the_race_admitted() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(i32::MAX), "free").await;
    let rows = rows_of(&mut c, user).await;
    let child = spawn_quota(
        &db.url,
        &[
            "race",
            "--user",
            &user.to_string(),
            "-c",
            "4",
            "-n",
            "1000000",
        ],
    );
    // Wait until the race is under way.
    wait_until_async(Duration::from_secs(30), "race never started", async || {
        let usage: i32 =
            sqlx::query_scalar("SELECT usage_this_month FROM public.users WHERE id = $1")
                .bind(user)
                .fetch_one(&mut c)
                .await
                .unwrap();
        usage > 50
    })
    .await;
    let out = interrupt_async(child).await;
    assert_exit_with(&out, 130, "taken back");
    assert_eq!(rows_of(&mut c, user).await, rows);
}

/// An application trigger that stamps `updated_at` on every UPDATE runs on
/// the take-back too (no superuser tricks to silence it), and the report
/// says so; the counter is back where it was. (The restore used to silence
/// it with session_replication_role, which needs a superuser.)
#[tokio::test]
async fn take_back_lets_application_triggers_run_and_says_what_they_changed() {
    let db = installed_db().await;
    db.exec(
        "ALTER TABLE public.users ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
         CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$;
         CREATE TRIGGER users_touch BEFORE UPDATE ON public.users
           FOR EACH ROW EXECUTE FUNCTION public.touch();",
    )
    .await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 1, Some(6), "free").await;
    let usage = async |c: &mut PgConnection| -> i32 {
        sqlx::query_scalar("SELECT usage_this_month FROM public.users WHERE id = $1")
            .bind(user)
            .fetch_one(c)
            .await
            .unwrap()
    };
    let before = usage(&mut c).await;
    let r = race_json(&db, &["--user", &user.to_string(), "-c", "8", "-n", "20"]);
    assert_exact(&r, 5);
    assert_eq!(r["taken_back"]["admissions"], 5, "{r}");
    assert_eq!(
        r["taken_back"]["also_changed"],
        serde_json::json!(["updated_at"]),
        "{r}"
    );
    assert_eq!(usage(&mut c).await, before);
}
