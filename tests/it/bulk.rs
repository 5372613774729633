//! Bulk inserts (V7): the clip trigger charges per statement. A multi-row
//! insert is admitted whole or refused whole (23514), each user in it is
//! charged exactly its rows, only rows really inserted are charged, and
//! concurrent multi-row inserts from real connections admit exactly the
//! headroom in whole statements. Rolling back to V6 restores the row
//! trigger, and its checks pass there.

use std::sync::Arc;

use sqlx::postgres::PgDatabaseError;
use sqlx::{Executor, PgConnection};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::common::*;
use crate::hostile::{begin_request, claims};

/// A refusal: (SQLSTATE, message, detail).
type Refusal = (String, String, String);

fn refusal(e: &sqlx::Error) -> Refusal {
    let pg = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
        .unwrap_or_else(|| panic!("a database error: {e}"));
    (
        pg.code().to_string(),
        pg.message().to_string(),
        pg.detail().unwrap_or_default().to_string(),
    )
}

/// A user of `tier` with `clips` used this month (no usage row when None).
async fn user_with_clips(c: &mut PgConnection, tier: &str, clips: Option<i32>) -> Uuid {
    let user = add_user(c, 0, Some(5), tier).await;
    if let Some(clips) = clips {
        sqlx::query("INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ($1, $2)")
            .bind(user)
            .bind(clips)
            .execute(&mut *c)
            .await
            .unwrap();
    }
    user
}

/// `n` clips for `user` in one `INSERT ... SELECT`.
async fn insert_many(c: &mut PgConnection, user: Uuid, n: i32) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO public.clips (user_id, url)
         SELECT $1, 'https://example.com/' || g FROM generate_series(1, $2) AS g",
    )
    .bind(user)
    .bind(n)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected())
}

async fn used(c: &mut PgConnection, user: Uuid) -> Option<i32> {
    sqlx::query_scalar("SELECT clips_this_month FROM public.user_usage WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&mut *c)
        .await
        .unwrap()
}

async fn rows(c: &mut PgConnection, user: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM public.clips WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_row_insert_is_refused_whole_over_the_headroom_and_admitted_whole_when_it_fits() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    // pro: 1000 a month. 901 used leaves 99: a 100-row insert fails whole.
    let user = user_with_clips(&mut c, "pro", Some(901)).await;
    let err = insert_many(&mut c, user, 100).await.unwrap_err();
    let r = refusal(&err);
    assert_eq!(r.0, "23514", "{r:?}");
    assert!(r.1.starts_with("Clip limit reached"), "{r:?}");
    assert!(r.1.contains("this statement adds 100"), "{r:?}");
    assert!(
        r.2.starts_with(&format!("limit=1000 usage=901 user_id={user}"))
            && r.2.ends_with("clips=100"),
        "{r:?}"
    );
    assert_eq!(
        used(&mut c, user).await,
        Some(901),
        "the counter is unchanged"
    );
    assert_eq!(
        rows(&mut c, user).await,
        0,
        "no clip of the statement stays"
    );

    // 900 used leaves exactly 100: admitted whole, up to the limit.
    c.execute(
        format!("UPDATE public.user_usage SET clips_this_month = 900 WHERE user_id = '{user}'")
            .as_str(),
    )
    .await
    .unwrap();
    assert_eq!(insert_many(&mut c, user, 100).await.unwrap(), 100);
    assert_eq!(used(&mut c, user).await, Some(1000));
    assert_eq!(rows(&mut c, user).await, 100);

    // At the limit a one-row insert gets V5's message and DETAIL exactly.
    let r = refusal(&insert_many(&mut c, user, 1).await.unwrap_err());
    assert_eq!(
        r,
        (
            "23514".to_string(),
            "Clip limit reached: 1000 of 1000 clips used this month".to_string(),
            format!("limit=1000 usage=1000 user_id={user}")
        )
    );
    // An insert that inserts nothing charges nothing and is not refused.
    assert_eq!(insert_many(&mut c, user, 0).await.unwrap(), 0);
    assert_eq!(used(&mut c, user).await, Some(1000));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_user_insert_charges_each_user_exactly_and_fails_whole_for_one_over() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let a = user_with_clips(&mut c, "free", Some(10)).await;
    let b = user_with_clips(&mut c, "pro", Some(0)).await;
    let fresh = user_with_clips(&mut c, "no-such-tier", None).await; // free limit, no row yet
    let insert = |spec: Vec<(Uuid, i32)>| {
        let values: Vec<String> = spec
            .iter()
            .flat_map(|(u, n)| (0..*n).map(move |_| format!("('{u}')")))
            .collect();
        format!(
            "INSERT INTO public.clips (user_id) VALUES {}",
            values.join(", ")
        )
    };
    // Interleaved rows, users in no particular order.
    let sql = insert(vec![(b, 2), (a, 3), (fresh, 5), (a, 4), (b, 1)]);
    c.execute(sql.as_str()).await.unwrap();
    assert_eq!(used(&mut c, a).await, Some(17));
    assert_eq!(used(&mut c, b).await, Some(3));
    assert_eq!(
        used(&mut c, fresh).await,
        Some(5),
        "first use creates the row"
    );

    // a has 33 left of 50; 34 more fail the whole statement, b's rows too.
    let sql = insert(vec![(b, 3), (a, 34), (fresh, 1)]);
    let r = refusal(&c.execute(sql.as_str()).await.unwrap_err());
    assert_eq!(r.0, "23514", "{r:?}");
    assert!(
        r.2.contains(&format!("user_id={a}")),
        "names the user over: {r:?}"
    );
    assert_eq!(used(&mut c, a).await, Some(17));
    assert_eq!(used(&mut c, b).await, Some(3));
    assert_eq!(used(&mut c, fresh).await, Some(5));
    assert_eq!(rows(&mut c, b).await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn first_use_creates_the_row_and_a_new_month_resets_it() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    // No usage row: 51 clips are more than the free limit, refused whole,
    // and no row is left behind; 50 are admitted and create it.
    let user = user_with_clips(&mut c, "free", None).await;
    let r = refusal(&insert_many(&mut c, user, 51).await.unwrap_err());
    assert_eq!(r.0, "23514", "{r:?}");
    assert_eq!(
        used(&mut c, user).await,
        None,
        "no row created by a refusal"
    );
    assert_eq!(insert_many(&mut c, user, 50).await.unwrap(), 50);
    assert_eq!(used(&mut c, user).await, Some(50));

    // Last month's 50 count for nothing now: 30 clips admitted, the
    // counter restarts at 30 and the marker moves to this month (UTC).
    c.execute(
        format!(
            "UPDATE public.user_usage SET clips_period_start = date '2000-01-01' WHERE user_id = '{user}'"
        )
        .as_str(),
    )
    .await
    .unwrap();
    assert_eq!(insert_many(&mut c, user, 30).await.unwrap(), 30);
    let (count, this_month): (i32, bool) = sqlx::query_as(
        "SELECT clips_this_month,
                clips_period_start = (date_trunc('month', now() AT TIME ZONE 'UTC'))::date
           FROM public.user_usage WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((count, this_month), (30, true));
    // 20 left: 21 refused, 20 admitted.
    assert!(insert_many(&mut c, user, 21).await.is_err());
    assert_eq!(insert_many(&mut c, user, 20).await.unwrap(), 20);
    assert_eq!(used(&mut c, user).await, Some(50));
}

#[tokio::test(flavor = "multi_thread")]
async fn skipped_duplicates_and_rls_refused_rows_charge_nothing() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = user_with_clips(&mut c, "free", Some(0)).await;
    let with_ids = |ids: std::ops::RangeInclusive<i64>, tail: &str| {
        format!(
            "INSERT INTO public.clips (id, user_id) OVERRIDING SYSTEM VALUE
             SELECT -g, '{user}' FROM generate_series({}, {}) AS g {tail}",
            ids.start(),
            ids.end()
        )
    };
    c.execute(with_ids(1..=10, "").as_str()).await.unwrap();
    assert_eq!(used(&mut c, user).await, Some(10));
    // Ten duplicates skipped, five inserted: five charged.
    let done = c
        .execute(with_ids(1..=15, "ON CONFLICT DO NOTHING").as_str())
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 5);
    assert_eq!(used(&mut c, user).await, Some(15));
    // All duplicates: nothing inserted, nothing charged, nothing refused.
    c.execute(
        format!("UPDATE public.user_usage SET clips_this_month = 50 WHERE user_id = '{user}'")
            .as_str(),
    )
    .await
    .unwrap();
    c.execute(with_ids(1..=15, "ON CONFLICT DO NOTHING").as_str())
        .await
        .unwrap();
    assert_eq!(used(&mut c, user).await, Some(50));

    // Row level security (insert only your own clips) refuses another
    // user's clips before the trigger: 42501, not 23514, nothing charged.
    let other = user_with_clips(&mut c, "free", Some(0)).await;
    let sub = other.to_string();
    let claims = claims(&sub);
    let mut tx = begin_request(
        &mut c,
        Some("authenticated"),
        &[("request.jwt.claims", &claims)],
    )
    .await;
    let err = tx
        .execute(
            format!(
                "INSERT INTO public.clips (user_id) SELECT '{user}' FROM generate_series(1, 5)"
            )
            .as_str(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), "42501", "{err}");
    tx.rollback().await.unwrap();
    let mut tx = begin_request(
        &mut c,
        Some("authenticated"),
        &[("request.jwt.claims", &claims)],
    )
    .await;
    let err = tx
        .execute(format!("INSERT INTO public.clips (user_id) SELECT '{other}'::uuid FROM generate_series(1, 3) UNION ALL SELECT '{user}'::uuid").as_str())
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        "42501",
        "one refused row refuses the statement: {err}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(used(&mut c, user).await, Some(50));
    assert_eq!(used(&mut c, other).await, Some(0));
}

/// Ten clips for `charged` as one request, which must be refused.
async fn insert_for(
    c: &mut PgConnection,
    charged: Uuid,
    role: Option<&str>,
    settings: Vec<(&str, String)>,
) -> Refusal {
    let settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let mut tx = begin_request(c, role, &settings).await;
    let sql = format!(
        "INSERT INTO public.clips (user_id) SELECT '{charged}' FROM generate_series(1, 10)"
    );
    let r = refusal(&tx.execute(sql.as_str()).await.unwrap_err());
    tx.rollback().await.unwrap();
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bulk_refusal_discloses_figures_only_to_the_user_charged() {
    let db = installed_db().await;
    db.exec(
        "CREATE POLICY \"Anyone signed in may insert clips\" ON public.clips
           FOR INSERT TO authenticated, service_role WITH CHECK (true)",
    )
    .await;
    let mut c = db.connect().await;
    let charged = user_with_clips(&mut c, "free", Some(45)).await;
    let caller = user_with_clips(&mut c, "free", Some(0)).await;
    // Another user, both ways PostgREST passes the sub: no figures.
    for settings in [
        vec![("request.jwt.claims", claims(&caller.to_string()))],
        vec![
            ("request.jwt.claim.sub", caller.to_string()),
            ("request.jwt.claim.role", "authenticated".to_string()),
        ],
        vec![],
    ] {
        let r = insert_for(&mut c, charged, Some("authenticated"), settings).await;
        assert_eq!(r.0, "23514", "{r:?}");
        assert!(r.1.starts_with("Clip limit reached"), "{r:?}");
        assert_eq!(r.1, format!("Clip limit reached for user {charged}"));
        assert_eq!(
            r.2,
            "The clip is charged to another user than the caller; that user's usage and limit are not disclosed."
        );
    }
    // The user charged, service_role and a direct session: the figures.
    for (role, settings) in [
        (
            Some("authenticated"),
            vec![("request.jwt.claims", claims(&charged.to_string()))],
        ),
        (Some("service_role"), vec![]),
        (None, vec![]),
    ] {
        let r = insert_for(&mut c, charged, role, settings).await;
        assert_eq!(r.0, "23514", "{r:?}");
        assert!(r.2.starts_with("limit=50 usage=45"), "{role:?}: {r:?}");
    }
    assert_eq!(used(&mut c, charged).await, Some(45));
}

/// Eight connections start together, each trying two 10-clip statements at
/// a user with 35 clips of headroom (and 5 more for a second user in the
/// same statement, rows in either order): exactly three statements are
/// admitted, whole; clips and counters agree; nothing deadlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_multi_row_inserts_admit_exactly_the_headroom_in_whole_statements() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let tight = user_with_clips(&mut c, "free", Some(15)).await; // 35 left of 50
    let roomy = user_with_clips(&mut c, "pro", Some(0)).await;
    let connections = 8;
    let barrier = Arc::new(Barrier::new(connections));
    let mut tasks = Vec::new();
    for i in 0..connections {
        let mut conn = db.connect().await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            // 10 rows for the tight user, 5 for the roomy one, interleaved,
            // the roomy user's rows first on odd connections.
            let order = if i % 2 == 0 { "" } else { "DESC" };
            let sql = format!(
                "INSERT INTO public.clips (user_id)
                 SELECT CASE WHEN g <= 10 THEN '{tight}'::uuid ELSE '{roomy}'::uuid END
                   FROM generate_series(1, 15) AS g ORDER BY g {order}"
            );
            barrier.wait().await;
            let mut admitted = 0;
            for _ in 0..2 {
                match conn.execute(sql.as_str()).await {
                    Ok(done) => {
                        assert_eq!(done.rows_affected(), 15);
                        admitted += 1;
                    }
                    Err(e) => {
                        let r = refusal(&e);
                        assert_eq!(r.0, "23514", "only limit refusals, no deadlock: {r:?}");
                        assert!(r.2.contains(&format!("user_id={tight}")), "{r:?}");
                    }
                }
            }
            admitted
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += t.await.unwrap();
    }
    assert_eq!(
        admitted, 3,
        "35 clips of headroom hold three 10-clip statements"
    );
    assert_eq!(used(&mut c, tight).await, Some(45));
    assert_eq!(rows(&mut c, tight).await, 30);
    assert_eq!(used(&mut c, roomy).await, Some(15));
    assert_eq!(rows(&mut c, roomy).await, 15);
}

/// One user, headroom 35, eight connections each inserting 10-clip
/// statements until refused: never over, counter = rows, whole statements.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_connections_of_10_row_inserts_never_exceed_the_limit() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = user_with_clips(&mut c, "free", Some(15)).await;
    let barrier = Arc::new(Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut conn = db.connect().await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            match insert_many(&mut conn, user, 10).await {
                Ok(n) => n,
                Err(e) => {
                    assert_eq!(code(&e), "23514", "{e}");
                    0
                }
            }
        }));
    }
    let mut inserted = 0;
    for t in tasks {
        inserted += t.await.unwrap();
    }
    assert_eq!(inserted, 30);
    assert_eq!(used(&mut c, user).await, Some(45));
    assert_eq!(rows(&mut c, user).await, 30);
}

/// Rolling V7 back restores V4's row trigger and V5's function, which the
/// checks accept at V6; a bulk insert is still all or nothing there (the
/// row trigger refuses at the row over the limit, and the statement rolls
/// back). Applying again installs the statement trigger.
#[tokio::test(flavor = "multi_thread")]
async fn rollback_to_v6_restores_the_row_trigger_and_apply_brings_the_statement_trigger_back() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let level = async |c: &mut PgConnection| -> (bool, Option<String>) {
        sqlx::query_as(
            "SELECT (tgtype & 1) = 1, tgnewtable::text FROM pg_trigger
              WHERE tgname = 'enforce_clip_limit_trigger' AND tgrelid = 'public.clips'::regclass",
        )
        .fetch_one(&mut *c)
        .await
        .unwrap()
    };
    assert_eq!(
        level(&mut c).await,
        (false, Some("inserted_clips".to_string()))
    );
    // At V7 every check passes and drift names V7's trigger; at V6 drift
    // fails only because V7 is pending: the installed definitions are V6's.
    let checks = |db: &TestDb, fires: &str, latest: bool| {
        let out = db.quota(&["check", "trigger", "--format", "json"]);
        assert_success(&out);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(fires),
            "{out:?}"
        );
        let out = db.quota(&["check", "drift", "--format", "json"]);
        let detail = json(&out)["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .to_string();
        if latest {
            assert_success(&out);
            assert!(
                detail.contains("public.enforce_clip_limit() matches V7")
                    && detail.contains("enforce_clip_limit_trigger matches V7"),
                "{detail}"
            );
            assert_success(&db.quota(&["verify", "-q"]));
        } else {
            assert_eq!(
                detail, "V7__bulk_clip_charging is not applied",
                "nothing but the pending version differs"
            );
        }
    };
    checks(&db, "AFTER INSERT FOR EACH STATEMENT", true);

    assert_success(&db.quota(&["migrate", "rollback", "--yes", "-q", "--target", "6"]));
    assert_eq!(level(&mut c).await, (true, None));
    assert_consistent(&db).await;
    checks(&db, "AFTER INSERT FOR EACH ROW", false);
    let user = user_with_clips(&mut c, "free", Some(40)).await;
    assert_eq!(
        code(&insert_many(&mut c, user, 11).await.unwrap_err()),
        "23514"
    );
    assert_eq!(used(&mut c, user).await, Some(40));
    assert_eq!(insert_many(&mut c, user, 10).await.unwrap(), 10);
    assert_eq!(used(&mut c, user).await, Some(50));

    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_eq!(
        level(&mut c).await,
        (false, Some("inserted_clips".to_string()))
    );
    assert_consistent(&db).await;
    checks(&db, "AFTER INSERT FOR EACH STATEMENT", true);
}

/// `quota bench` attaches its scratch trigger the way the live one fires:
/// per statement at V7, per row at V6 (a per-row copy of V7's function
/// would fail every insert: it reads the statement's transition table).
#[tokio::test(flavor = "multi_thread")]
async fn bench_prices_the_trigger_shape_the_database_has() {
    let db = installed_db().await;
    let bench = [
        "bench",
        "--clients",
        "2",
        "--seconds",
        "0.3",
        "--warmup",
        "0.1",
        "--only",
        "insert_floor,trigger",
    ];
    assert_success(&db.quota(&bench));
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "-q", "--target", "6"]));
    assert_success(&db.quota(&bench));
}

/// The transition table is the trigger's one unqualified name: a caller's
/// temporary table of the same name does not stand in for it (the parser
/// finds the trigger's ephemeral relation before any schema, pg_temp
/// included), so the caller cannot choose whom or how much is charged.
#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_table_named_like_the_transition_table_changes_nothing() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let caller = user_with_clips(&mut c, "free", Some(0)).await;
    let victim = user_with_clips(&mut c, "free", Some(0)).await;
    let claims = claims(&caller.to_string());
    let mut tx = begin_request(
        &mut c,
        Some("authenticated"),
        &[("request.jwt.claims", &claims)],
    )
    .await;
    tx.execute(
        format!(
            "CREATE TEMP TABLE inserted_clips (user_id uuid);
             INSERT INTO inserted_clips SELECT '{victim}' FROM generate_series(1, 40);"
        )
        .as_str(),
    )
    .await
    .unwrap();
    tx.execute(
        format!("INSERT INTO public.clips (user_id) SELECT '{caller}' FROM generate_series(1, 3)")
            .as_str(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(used(&mut c, caller).await, Some(3));
    assert_eq!(used(&mut c, victim).await, Some(0));
}
