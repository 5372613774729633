//! Hostile conditions: odd schemas, missing privileges, a hand-edited
//! history, TLS and connection failures, malformed input. Every refusal is
//! one line with the right exit code, no password, nothing changed.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

use crate::common::*;

// ---- odd schemas ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn extra_columns_rls_and_foreign_keys_to_auth_users_are_left_alone() {
    let db = empty_db().await;
    db.exec(
        "CREATE SCHEMA auth;
         CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
         CREATE TABLE public.users (
           id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
           email text, plan text, subscription_status text, usage_this_month integer,
           plan_limits_scrapes integer, subscription_tier text,
           avatar_url text, settings jsonb NOT NULL DEFAULT '{}', tags text[],
           email_lower text GENERATED ALWAYS AS (lower(email)) STORED);
         CREATE TABLE public.user_usage (
           user_id uuid PRIMARY KEY REFERENCES public.users (id),
           clips_this_month integer, scrapes_lifetime bigint DEFAULT 0);
         CREATE TABLE public.clips (
           id bigserial PRIMARY KEY, user_id uuid REFERENCES auth.users (id),
           url text, meta jsonb, created_at timestamptz DEFAULT now());
         ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
         ALTER TABLE public.user_usage ENABLE ROW LEVEL SECURITY;
         ALTER TABLE public.clips ENABLE ROW LEVEL SECURITY;
         CREATE POLICY nobody ON public.users USING (false);
         INSERT INTO auth.users VALUES ('11111111-1111-4111-8111-111111111111', 'Odd@Example.com');
         INSERT INTO public.users (id, email, plan, subscription_status, usage_this_month,
                                   plan_limits_scrapes, subscription_tier, avatar_url, settings, tags)
         VALUES ('11111111-1111-4111-8111-111111111111', 'Odd@Example.com', 'FREE', 'none', 1, 3,
                 'free', 'https://x/a.png', '{\"theme\": \"dark\"}', '{a,b}');
         INSERT INTO public.user_usage VALUES ('11111111-1111-4111-8111-111111111111', 49, 7);",
    )
    .await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;

    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_eq!(assert_consistent(&db).await, latest());
    let allowed: Vec<bool> = sqlx::query_scalar(&format!(
        "SELECT (public.increment_usage_if_allowed('{FREE_USER}')).allowed FROM generate_series(1, 3)"
    ))
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(
        allowed,
        vec![true, true, false],
        "usage 1 of 3: two more admitted"
    );
    let clip = format!("INSERT INTO public.clips (user_id, url) VALUES ('{FREE_USER}', 'u')");
    c.execute(clip.as_str()).await.unwrap();
    let refused = c.execute(clip.as_str()).await.unwrap_err();
    assert_eq!(
        code(&refused),
        "23514",
        "49 of 50 used: one more clip, then refused"
    );

    // Undo the exercise, then roll back: every extra column, policy and key as it was.
    c.execute(sqlx::raw_sql(&format!(
        "DELETE FROM public.clips; UPDATE public.users SET usage_this_month = 1;
         UPDATE public.user_usage SET clips_this_month = 49 WHERE user_id = '{FREE_USER}'"
    )))
    .await
    .unwrap();
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "--target", "0", "-q"]));
    assert_eq!(assert_consistent(&db).await, 0);
    assert_eq!(snapshot(&mut c).await, before);
    let (rls, fks, policies): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_class WHERE relrowsecurity AND oid IN
                  ('public.users'::regclass, 'public.user_usage'::regclass, 'public.clips'::regclass)),
                (SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND confrelid = 'auth.users'::regclass),
                (SELECT count(*) FROM pg_policies WHERE policyname = 'nobody')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((rls, fks, policies), (3, 2, 1));
}

// ---- missing privileges -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_role_without_ddl_rights_is_told_what_to_grant() {
    let db = demo_db().await;
    let (role, url) = login_role(&db, "quota_ro").await;
    db.exec(&format!(
        "GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT ON public.users, public.user_usage, public.clips TO {role};"
    ))
    .await;
    let out = quota_with_url(&url, &["migrate", "apply"]);
    assert_refused(&out, 4);
    let err = stderr(&out);
    for needle in [
        "permission denied while applying",
        // Its first DDL is the schema of the migration history.
        "permission denied for database",
        "GRANT CREATE ON DATABASE",
        &format!("GRANT CREATE ON SCHEMA public TO {role}"),
        &format!("GRANT postgres TO {role}"),
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    assert!(!err.contains(&password_of(&url)), "password printed: {err}");
    assert_eq!(assert_consistent(&db).await, 0);

    // Installed by the owner; the read-only role cannot take it out either.
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    let out = quota_with_url(&url, &["migrate", "rollback", "--yes"]);
    assert_refused(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("GRANT"), "says what to grant: {err}");
    assert_eq!(assert_consistent(&db).await, latest());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_without_execute_is_told_what_to_grant() {
    let db = demo_db().await;
    let (role, url) = login_role(&db, "quota_noexec").await;
    // Hardened databases revoke the advisory-lock functions from PUBLIC
    // (pg_catalog is per database: this touches no other test).
    db.exec(&format!(
        "GRANT USAGE, CREATE ON SCHEMA public TO {role};
         GRANT SELECT ON public.users, public.user_usage, public.clips TO {role};
         REVOKE EXECUTE ON FUNCTION pg_catalog.pg_try_advisory_xact_lock(bigint) FROM PUBLIC;"
    ))
    .await;
    let out = quota_with_url(&url, &["migrate", "apply"]);
    assert_refused(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains("permission denied for function pg_try_advisory_xact_lock"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "GRANT EXECUTE ON FUNCTION pg_try_advisory_xact_lock TO {role}"
        )),
        "{err}"
    );
    assert_eq!(assert_consistent(&db).await, 0);
}

// ---- the history edited by hand -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edited_history_is_reported_never_silently_reapplied() {
    // A row for a version this build does not know: refuse to apply or revert past it.
    let db = installed_db().await;
    let mut c = db.connect().await;
    db.exec(
        "INSERT INTO quota.schema_history VALUES (9, 'from_the_future', '2030-01-01T00:00:00Z', '1')",
    )
    .await;
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert_eq!(status["migrations"][versions().len()]["state"], "unknown");
    let out = db.quota(&["migrate", "apply"]);
    assert_refused_with(
        &out,
        4,
        &format!(
            "the database is at version 9, newer than this quota (knows up to {})",
            latest()
        ),
    );
    let out = db.quota(&["migrate", "rollback", "--yes", "--target", "0"]);
    assert_refused_with(&out, 4, "newer quota");
    let objects = objects_by_version(&mut c).await;
    assert!(
        objects.iter().all(|o| o.2),
        "all still installed: {objects:?}"
    );

    // A checksum that is not a number: a clear precondition, nothing done.
    db.exec(
        "DELETE FROM quota.schema_history WHERE version = 9;
             UPDATE quota.schema_history SET checksum = 'edited' WHERE version = 2",
    )
    .await;
    for args in [&["migrate", "status"][..], &["migrate", "apply"][..]] {
        let out = db.quota(args);
        assert_refused_with(&out, 4, "malformed row");
        assert!(stderr(&out).contains("V2"), "{}", stderr(&out));
    }
    let objects = objects_by_version(&mut c).await;
    assert!(
        objects.iter().all(|o| o.2),
        "all still installed: {objects:?}"
    );
}

// ---- connections ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_require_connects_over_tls_and_fails_cleanly_without_it() {
    let cluster = tokio::task::spawn_blocking(|| {
        quota::cluster::Cluster::start(quota::cluster::ClusterOptions {
            ssl: true,
            ..Default::default()
        })
        .expect("start a TLS cluster")
    })
    .await
    .unwrap();
    // Refuse every connection that is not TLS, so success proves TLS.
    let mut admin =
        sqlx::PgConnection::connect(&format!("{}?sslmode=require", cluster.admin_url()))
            .await
            .unwrap();
    let hba = cluster.data_dir().join("pg_hba.conf");
    let old = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("hostnossl all all 0.0.0.0/0 reject\n{old}")).unwrap();
    admin.execute("SELECT pg_reload_conf()").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let url = cluster.url("postgres");
    let out = quota_with_url(
        &format!("{url}?sslmode=require"),
        &["migrate", "status", "-v"],
    );
    assert_success(&out);
    assert!(stdout(&out).contains("pending"), "{}", stdout(&out));

    let out = quota_with_url(&format!("{url}?sslmode=disable"), &["migrate", "status"]);
    assert_refused_with(&out, 3, "no encryption");
    assert!(!stderr(&out).contains(cluster.password()));

    // The shared test server has no TLS: require must fail, clearly.
    let plain = format!("{}?sslmode=require", url_for("postgres"));
    let out = quota_with_url(&plain, &["migrate", "status"]);
    assert_refused(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("TLS") && err.contains("ssl=on"), "{err}");
    assert!(!err.contains(&password_of(&plain)));
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_exit_3_and_never_printed() {
    let db = empty_db().await;
    let wrong = "Wr0ng-pw-%40-for-quota";
    let url = url_as(&db.url, "postgres", wrong);
    for args in [&["migrate", "status"][..], &["migrate", "apply", "-v"][..]] {
        let out = quota_with_url(&url, args);
        assert_refused(&out, 3);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("password authentication failed"), "{all}");
        for secret in [wrong, "Wr0ng-pw-@-for-quota"] {
            assert!(!all.contains(secret), "password printed: {all}");
        }
    }
    // Given on the command line instead, in the wrong place: still redacted.
    let out = quota_with_url(&db.url, &["migrate", "status", &url]);
    assert_refused(&out, 2);
    assert!(!stderr(&out).contains("Wr0ng-pw"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    // Accepts TCP connections (the kernel's backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = Instant::now();
    let out = quota_with_url(
        &format!("postgres://u:secret-pw@127.0.0.1:{port}/d"),
        &["migrate", "status", "--connect-timeout", "1"],
    );
    let took = started.elapsed();
    assert_refused(&out, 3);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "took {took:?}"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("127.0.0.1:{port}: no answer within 1s")),
        "{err}"
    );
    assert!(!err.contains("secret-pw"));

    // A routed-nowhere address: refused, unreachable or silent, never longer than the bound.
    let started = Instant::now();
    let out = quota_with_url(
        "postgres://u:secret-pw@10.255.255.1:5432/d",
        &["migrate", "status", "--connect-timeout", "1"],
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert_refused_with(&out, 3, "10.255.255.1:5432");
    assert!(!stderr(&out).contains("secret-pw"));
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_arguments_are_usage_errors_and_change_nothing() {
    let db = demo_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let huge = "9".repeat(100_000);
    let beyond = (latest() + 1).to_string();
    let mut cases: Vec<Vec<String>> = [
        &["migrate", "apply", "--target", "abc"][..],
        &["migrate", "apply", "--target", "-1"],
        &["migrate", "apply", "--target", ""],
        &["migrate", "apply", "--target", "３"],
        &["migrate", "apply", "--target", "99999999999999999999"],
        &["migrate", "apply", "--target", &beyond],
        &["migrate", "apply", "--lock-timeout", "0"],
        &["migrate", "apply", "--lock-timeout", "600001"],
        &["migrate", "apply", "--retries", "-5"],
        &["migrate", "apply", "--lock-wait", "1e9"],
        &["migrate", "apply", "--connect-timeout", "0"],
        &["migrate", "rollback", "--target", "x", "--yes"],
        &["migrate", "status", "--format", "yaml"],
        &["migrate", "frobnicate"],
    ]
    .iter()
    .map(|a| a.iter().map(|s| s.to_string()).collect())
    .collect();
    cases.push(vec![
        "migrate".into(),
        "apply".into(),
        "--target".into(),
        huge.clone(),
    ]);
    cases.push(vec!["migrate".into(), huge.clone()]);
    cases.push(vec!["migrate".into(), "apply".into(), format!("--{huge}")]);
    for value in hostile_values() {
        cases.push(vec![
            "migrate".into(),
            "apply".into(),
            "--target".into(),
            value,
        ]);
    }
    for args in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = db.quota(&args);
        let shown: String = args.join(" ").chars().take(80).collect();
        assert_refused(&out, 2);
        assert!(stdout(&out).is_empty(), "{shown}: {}", stdout(&out));
        assert!(
            !stderr(&out).contains(&huge),
            "{shown}: the 100 KB value was echoed"
        );
    }
    assert_eq!(snapshot(&mut c).await, before);
    assert_eq!(assert_consistent(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_database_urls_are_one_line_errors_without_the_password() {
    let huge_host = "h".repeat(100_000);
    // (URL, expected exit, the password that must not be printed)
    let cases: Vec<(String, i32, &str)> = vec![
        (String::new(), 2, ""),
        ("   ".into(), 2, ""),
        (
            "postgres://u:p%ZZsecret@127.0.0.1:1/d".into(),
            3,
            "p%ZZsecret",
        ),
        (
            "postgres://ü:пароль-тайна@127.0.0.1:1/дб".into(),
            3,
            "пароль-тайна",
        ),
        (
            "postgres://u:pass word@127.0.0.1:1/d".into(),
            3,
            "pass word",
        ),
        (
            "postgres://u:sekrit99@127.0.0.1:1/d?sslmode=bogus".into(),
            2,
            "sekrit99",
        ),
        (
            "postgres://u:sekrit99@127.0.0.1:notaport/d".into(),
            2,
            "sekrit99",
        ),
        ("postgres://u:sekrit99@[::1/d".into(), 2, "sekrit99"),
        ("mysql://u:sekrit99@127.0.0.1:1/d".into(), 2, "sekrit99"),
        ("not a url at all".into(), 2, ""),
        (
            format!("postgres://u:sekrit99@{huge_host}:1/d"),
            3,
            "sekrit99",
        ),
        (
            format!("postgres://u:sekrit99@127.0.0.1:1/{huge_host}"),
            3,
            "sekrit99",
        ),
    ];
    for (url, code, secret) in &cases {
        let shown: String = url.chars().take(60).collect();
        let out = quota_with_url(url, &["migrate", "status", "--connect-timeout", "2"]);
        // One exit code each: a URL the driver parses is not a usage error
        // (2), whatever its password or host looks like; nothing listens on
        // port 1 and no host is named h×100000, so connecting fails (3).
        let got = out.status.code();
        assert_eq!(
            got,
            Some(*code),
            "{shown}: exit {got:?}, stderr {}",
            stderr(&out)
        );
        assert_refused(&out, *code);
        if !secret.is_empty() {
            assert!(!stderr(&out).contains(secret), "{shown}: {}", stderr(&out));
        }
        assert!(
            !stderr(&out).contains(&huge_host),
            "{shown}: the huge value was echoed"
        );
    }
}
