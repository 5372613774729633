//! The installed SQL objects' semantics, proven with real connections:
//! exact admission under concurrency, month rollover, fail-closed limits,
//! unknown users, grants and the cross-user guard.

use std::sync::Arc;

use sqlx::{Connection, PgConnection};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::common::*;

type Row = (bool, i32, Option<i32>, Option<String>, Option<String>);

async fn call(c: &mut PgConnection, user: Uuid) -> Result<Row, sqlx::Error> {
    sqlx::query_as("SELECT * FROM public.increment_usage_if_allowed($1)")
        .bind(user)
        .fetch_one(&mut *c)
        .await
}

async fn usage(c: &mut PgConnection, user: Uuid) -> i32 {
    sqlx::query_scalar("SELECT usage_this_month FROM public.users WHERE id = $1")
        .bind(user)
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

async fn clips_used(c: &mut PgConnection, user: Uuid) -> Option<i32> {
    sqlx::query_scalar("SELECT clips_this_month FROM public.user_usage WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&mut *c)
        .await
        .unwrap()
}

async fn insert_clip(c: &mut PgConnection, user: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO public.clips (user_id, url) VALUES ($1, 'https://example.com')")
        .bind(user)
        .execute(&mut *c)
        .await
        .map(|_| ())
}

/// `connections` connections start together and each makes `calls` attempts;
/// returns how many were admitted, checking every refusal is the expected kind.
async fn hammer<F, Fut>(db: &TestDb, connections: usize, calls: usize, attempt: F) -> usize
where
    F: Fn(PgConnection) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = (PgConnection, bool)> + Send,
{
    let barrier = Arc::new(Barrier::new(connections));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut conn = db.connect().await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut admitted = 0;
            for _ in 0..calls {
                let (c, ok) = attempt(conn).await;
                conn = c;
                admitted += ok as usize;
            }
            admitted
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_connections_admit_exactly_k_through_the_function() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let (limit, k) = (20, 5);
    let user = add_user(&mut c, limit - k, Some(limit), "free").await;
    let admitted = hammer(&db, 16, 4, move |mut conn| async move {
        let row = call(&mut conn, user).await.expect("call succeeds");
        if !row.0 {
            assert_eq!(row.1, limit, "a refusal reports the current usage");
        }
        (conn, row.0)
    })
    .await;
    assert_eq!(admitted, k as usize);
    assert_eq!(
        usage(&mut c, user).await,
        limit,
        "counter equals admissions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_connections_admit_exactly_the_free_clip_limit() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(5), "free").await;
    sqlx::query("INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ($1, 45)")
        .bind(user)
        .execute(&mut c)
        .await
        .unwrap();
    let admitted = hammer(&db, 16, 3, move |mut conn| async move {
        match insert_clip(&mut conn, user).await {
            Ok(()) => (conn, true),
            Err(e) => {
                assert_eq!(code(&e), "23514");
                let db_err = e.as_database_error().unwrap();
                assert!(
                    db_err.message().starts_with("Clip limit reached"),
                    "{}",
                    db_err.message()
                );
                (conn, false)
            }
        }
    })
    .await;
    assert_eq!(admitted, 5);
    assert_eq!(clips_used(&mut c, user).await, Some(50));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM public.clips WHERE user_id = $1")
        .bind(user)
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(rows, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clip_limit_holds_for_a_user_without_a_usage_row() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(5), "no-such-tier").await;
    assert_eq!(clips_used(&mut c, user).await, None);
    let admitted = hammer(&db, 16, 5, move |mut conn| async move {
        let ok = insert_clip(&mut conn, user).await.is_ok();
        (conn, ok)
    })
    .await;
    assert_eq!(admitted, 50, "an unknown tier gets the free limit");
    assert_eq!(clips_used(&mut c, user).await, Some(50));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_clip_carries_detail_and_leaves_the_counter() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(5), "pro").await;
    sqlx::query("INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ($1, 1000)")
        .bind(user)
        .execute(&mut c)
        .await
        .unwrap();
    let err = insert_clip(&mut c, user).await.unwrap_err();
    let pg = err
        .as_database_error()
        .unwrap()
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .unwrap();
    assert_eq!(pg.code(), "23514");
    assert!(
        pg.detail().unwrap().contains("limit=1000 usage=1000"),
        "{:?}",
        pg.detail()
    );
    assert_eq!(clips_used(&mut c, user).await, Some(1000));

    // A clip insert that fails after the trigger leaves no trace either.
    sqlx::query("UPDATE public.user_usage SET clips_this_month = 3 WHERE user_id = $1")
        .bind(user)
        .execute(&mut c)
        .await
        .unwrap();
    let mut tx = c.begin().await.unwrap();
    insert_clip(&mut tx, user).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(clips_used(&mut c, user).await, Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_utc_month_resets_both_counters() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    // The session's TimeZone must not matter: the period is the UTC month.
    sqlx::query("SET TimeZone = 'Pacific/Kiritimati'")
        .execute(&mut c)
        .await
        .unwrap();
    let user = add_user(&mut c, 5, Some(5), "free").await;
    sqlx::query(
        "UPDATE public.users SET usage_period_start = (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date WHERE id = $1;",
    )
    .bind(user)
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO public.user_usage (user_id, clips_this_month, clips_period_start)
         VALUES ($1, 50, (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date)",
    )
    .bind(user)
    .execute(&mut c)
    .await
    .unwrap();

    let row = call(&mut c, user).await.unwrap();
    assert!(row.0);
    assert_eq!(row.1, 1, "first call of the month");
    insert_clip(&mut c, user).await.unwrap();
    assert_eq!(clips_used(&mut c, user).await, Some(1));

    let periods_are_this_utc_month: bool = sqlx::query_scalar(
        "SELECT u.usage_period_start = (date_trunc('month', now() AT TIME ZONE 'UTC'))::date
            AND uu.clips_period_start = (date_trunc('month', now() AT TIME ZONE 'UTC'))::date
           FROM public.users u JOIN public.user_usage uu ON uu.user_id = u.id WHERE u.id = $1",
    )
    .bind(user)
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(periods_are_this_utc_month);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_and_bad_limits() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let err = call(&mut c, Uuid::new_v4()).await.unwrap_err();
    assert_eq!(code(&err), "P0002", "unknown user has its own SQLSTATE");

    for limit in [Some(-1), None, Some(0)] {
        let user = add_user(&mut c, 0, limit, "free").await;
        let row = call(&mut c, user).await.unwrap();
        assert!(!row.0, "limit {limit:?} must fail closed");
        assert_eq!(row.1, 0);
        assert_eq!(usage(&mut c, user).await, 0, "nothing changes when refused");
    }
}

/// Runs one call as `role` with PostgREST-style JWT claims, in a rolled-back transaction.
async fn call_as(
    c: &mut PgConnection,
    role: &str,
    sub: Option<Uuid>,
    user: Uuid,
) -> Result<Row, sqlx::Error> {
    let mut tx = c.begin().await?;
    let claims = serde_json::json!({ "role": role, "sub": sub.map(|s| s.to_string()) }).to_string();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(claims)
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("SET LOCAL ROLE {role}"))
        .execute(&mut *tx)
        .await?;
    let result = call(&mut tx, user).await;
    tx.rollback().await?;
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_and_the_cross_user_guard() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let alice = add_user(&mut c, 0, Some(5), "free").await;
    let bob = add_user(&mut c, 0, Some(5), "free").await;

    let anon = call_as(&mut c, "anon", None, alice).await.unwrap_err();
    assert_eq!(code(&anon), "42501", "anon cannot execute");

    let stolen = call_as(&mut c, "authenticated", Some(bob), alice)
        .await
        .unwrap_err();
    assert_eq!(code(&stolen), "42501", "bob cannot spend alice's quota");

    let own = call_as(&mut c, "authenticated", Some(alice), alice)
        .await
        .unwrap();
    assert!(own.0, "alice can spend her own");

    let service = call_as(&mut c, "service_role", None, alice).await.unwrap();
    assert!(service.0, "service_role is not restricted");
    assert_eq!(
        usage(&mut c, alice).await,
        0,
        "all of the above were rolled back"
    );
}
