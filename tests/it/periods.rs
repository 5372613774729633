//! Period markers never move backwards (V5). `now()` is the start of the
//! transaction: a transaction opened before midnight UTC on a month's last
//! day that writes after the new month's first write used to set the
//! marker back, so the next call "started a new month" and reset the
//! counter. Shown with the server's clock moved by libfaketime across a
//! real month boundary while transactions stay open, at V4 (over-admission)
//! and at V5 (exactly the limit), for the RPC and for the trigger.

use sqlx::{Executor, PgConnection};
use time::{Date, Month, OffsetDateTime, Time};

use crate::common::faketime::FakeClock;
use crate::common::{assert_success, installed_db, TestDb, FREE_USER};

const SCRAPE_LIMIT: i32 = 5;
const CLIP_LIMIT: i32 = 3;
/// Transactions opened before midnight, used after it.
const OLD: usize = 3;

fn utc(year: i32, month: Month, day: u8, h: u8, m: u8, s: u8) -> OffsetDateTime {
    OffsetDateTime::new_utc(
        Date::from_calendar_date(year, month, day).unwrap(),
        Time::from_hms(h, m, s).unwrap(),
    )
}

/// What a month boundary let through.
#[derive(Debug)]
struct Boundary {
    /// Scrapes admitted in total, and the marker after each old commit.
    rpc_admitted: i32,
    rpc_markers: Vec<String>,
    /// Clips admitted in total, and the marker after each old commit.
    clips_admitted: i32,
    clip_markers: Vec<String>,
}

/// One RPC call for FREE_USER on `conn`: admitted or not.
async fn call(conn: &mut PgConnection) -> bool {
    sqlx::query_scalar(&format!(
        "SELECT allowed FROM public.increment_usage_if_allowed('{FREE_USER}')"
    ))
    .fetch_one(conn)
    .await
    .unwrap()
}

/// One clip insert for FREE_USER on `conn`: admitted, or refused with
/// 23514 (anything else fails the test).
async fn insert_clip(conn: &mut PgConnection) -> bool {
    match conn
        .execute(
            format!("INSERT INTO public.clips (user_id, url) VALUES ('{FREE_USER}', 'x')").as_str(),
        )
        .await
    {
        Ok(_) => true,
        Err(e) => {
            let code = e.as_database_error().and_then(|d| d.code());
            assert_eq!(code.as_deref(), Some("23514"), "{e}");
            false
        }
    }
}

async fn marker(conn: &mut PgConnection, sql: &str) -> String {
    sqlx::query_scalar(sql).fetch_one(conn).await.unwrap()
}

const USAGE_MARKER: &str = "SELECT usage_period_start::text FROM public.users \
                            WHERE id = '11111111-1111-4111-8111-111111111111'";
const CLIP_MARKER: &str = "SELECT clips_period_start::text FROM public.user_usage \
                           WHERE user_id = '11111111-1111-4111-8111-111111111111'";

async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Waits (without a deadline that a loaded machine could miss: up to a
/// minute) until backend `pid` waits for a lock.
async fn until_waiting_for_a_lock(db: &TestDb, pid: i32) {
    let mut c = db.connect().await;
    for _ in 0..1200 {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock')",
        )
        .bind(pid)
        .fetch_one(&mut c)
        .await
        .unwrap();
        if waiting {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the old transaction never waited for the counter's row lock");
}

/// The first round with real concurrency: a new-month transaction writes
/// first and holds the row lock, the old transaction's write waits for it,
/// then goes on against the committed new-month row. Returns admissions.
async fn blocked_round(db: &TestDb, mut old: PgConnection, clips: bool) -> i32 {
    let mut holder = db.connect().await;
    holder.execute("BEGIN").await.unwrap();
    let mut admitted = if clips {
        i32::from(insert_clip(&mut holder).await)
    } else {
        i32::from(call(&mut holder).await)
    };
    let pid = backend_pid(&mut old).await;
    let waiter = tokio::spawn(async move {
        let ok = if clips {
            insert_clip(&mut old).await
        } else {
            call(&mut old).await
        };
        old.execute(if ok { "COMMIT" } else { "ROLLBACK" })
            .await
            .unwrap();
        ok
    });
    until_waiting_for_a_lock(db, pid).await;
    holder.execute("COMMIT").await.unwrap();
    admitted += i32::from(waiter.await.unwrap());
    admitted
}

/// Opens a transaction whose now() is the clock's present.
async fn open_old(db: &TestDb) -> PgConnection {
    let mut c = db.connect().await;
    c.execute("BEGIN").await.unwrap();
    let day: String = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date::text")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(day, "2031-01-31", "the server's clock is faked");
    c
}

/// Installs up to `version` on a cluster whose clock reads 23:59 on 31
/// January (UTC), opens old transactions, moves the clock past midnight,
/// and runs, for the RPC and then for the trigger: one round where an old
/// transaction's write waits for a new-month transaction's row lock; then,
/// for each other old transaction, one call in the new month, then the old
/// transaction's call and its COMMIT; then new-month calls until one is
/// refused. The marker is read after each old transaction ends.
async fn across_the_boundary(version: &str) -> Boundary {
    let clock =
        tokio::task::spawn_blocking(|| FakeClock::start(utc(2031, Month::January, 31, 23, 59, 0)))
            .await
            .unwrap();
    let db = clock.demo_db(&format!("quota_period_v{version}")).await;
    assert_success(&db.quota(&["migrate", "apply", "-q", "--target", version]));
    db.exec(&format!(
        "UPDATE public.users SET plan_limits_scrapes = {SCRAPE_LIMIT}, usage_this_month = 0,
                subscription_tier = 'free' WHERE id = '{FREE_USER}';
         UPDATE public.clip_limits SET monthly_limit = {CLIP_LIMIT} WHERE tier = 'free';
         DELETE FROM public.clips WHERE user_id = '{FREE_USER}';
         INSERT INTO public.user_usage (user_id, clips_this_month) VALUES ('{FREE_USER}', 0)
           ON CONFLICT (user_id) DO UPDATE SET clips_this_month = 0;"
    ))
    .await;
    let mut old_rpc = Vec::new();
    let mut old_clips = Vec::new();
    for _ in 0..OLD {
        old_rpc.push(open_old(&db).await);
        old_clips.push(open_old(&db).await);
    }
    let blocked_rpc = open_old(&db).await;
    let blocked_clip = open_old(&db).await;

    clock.set(utc(2031, Month::February, 1, 0, 0, 30));
    let mut new = db.connect().await;
    let day: String = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date::text")
        .fetch_one(&mut new)
        .await
        .unwrap();
    assert_eq!(day, "2031-02-01", "the clock moved past midnight");
    let old_now: String = sqlx::query_scalar("SELECT (now() AT TIME ZONE 'UTC')::date::text")
        .fetch_one(&mut old_rpc[0])
        .await
        .unwrap();
    assert_eq!(old_now, "2031-01-31", "an old transaction's now() stays");

    let mut rpc_admitted = blocked_round(&db, blocked_rpc, false).await;
    let mut rpc_markers = vec![marker(&mut new, USAGE_MARKER).await];
    for old in &mut old_rpc {
        rpc_admitted += i32::from(call(&mut new).await);
        rpc_admitted += i32::from(call(old).await);
        old.execute("COMMIT").await.unwrap();
        rpc_markers.push(marker(&mut new, USAGE_MARKER).await);
    }
    while call(&mut new).await {
        rpc_admitted += 1;
        assert!(rpc_admitted < 100, "the RPC never refuses");
    }

    let mut clips_admitted = blocked_round(&db, blocked_clip, true).await;
    let mut clip_markers = vec![marker(&mut new, CLIP_MARKER).await];
    for old in &mut old_clips {
        clips_admitted += i32::from(insert_clip(&mut new).await);
        if insert_clip(old).await {
            clips_admitted += 1;
            old.execute("COMMIT").await.unwrap();
        } else {
            old.execute("ROLLBACK").await.unwrap();
        }
        clip_markers.push(marker(&mut new, CLIP_MARKER).await);
    }
    while insert_clip(&mut new).await {
        clips_admitted += 1;
        assert!(clips_admitted < 100, "the trigger never refuses");
    }
    let clips: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM public.clips WHERE user_id = '{FREE_USER}'"
    ))
    .fetch_one(&mut new)
    .await
    .unwrap();
    assert_eq!(
        clips,
        i64::from(clips_admitted),
        "every admitted clip is a row"
    );
    drop((new, old_rpc, old_clips));
    drop(db);
    tokio::task::spawn_blocking(move || drop(clock))
        .await
        .unwrap();
    Boundary {
        rpc_admitted,
        rpc_markers,
        clips_admitted,
        clip_markers,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn at_v4_a_transaction_from_last_month_sets_the_marker_back_and_over_admits() {
    let b = across_the_boundary("4").await;
    eprintln!("V4 across the boundary: {b:?}");
    assert!(b.rpc_admitted > SCRAPE_LIMIT, "{b:?}");
    assert!(b.clips_admitted > CLIP_LIMIT, "{b:?}");
    assert!(b.rpc_markers.iter().all(|m| m == "2031-01-01"), "{b:?}");
    assert!(b.clip_markers.iter().all(|m| m == "2031-01-01"), "{b:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn at_v5_a_month_boundary_admits_exactly_the_limit_and_the_marker_stays() {
    let b = across_the_boundary("5").await;
    eprintln!("V5 across the boundary: {b:?}");
    assert_eq!(b.rpc_admitted, SCRAPE_LIMIT, "{b:?}");
    assert_eq!(b.clips_admitted, CLIP_LIMIT, "{b:?}");
    assert!(b.rpc_markers.iter().all(|m| m == "2031-02-01"), "{b:?}");
    assert!(b.clip_markers.iter().all(|m| m == "2031-02-01"), "{b:?}");
}

/// Without any clock trick: a marker already in a later period than the
/// caller's now() (what a later transaction's write leaves) is kept, and
/// the usage counted there is charged on, never reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_marker_in_a_later_period_is_never_moved_back_nor_reset() {
    let db = installed_db().await;
    let later = "(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')::date";
    // At V4 the marker goes back to this month.
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "-q", "--target", "4"]));
    db.exec(&format!(
        "UPDATE public.users SET plan_limits_scrapes = 5, usage_this_month = 4,
                usage_period_start = {later} WHERE id = '{FREE_USER}'"
    ))
    .await;
    let mut c = db.connect().await;
    assert!(call(&mut c).await);
    let back: bool = sqlx::query_scalar(&format!(
        "SELECT usage_period_start < {later} FROM public.users WHERE id = '{FREE_USER}'"
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(back, "V4 sets a later marker back");
    assert_success(&db.quota(&["migrate", "apply", "-q"]));

    db.exec(&format!(
        "UPDATE public.users SET plan_limits_scrapes = 5, usage_this_month = 4,
                usage_period_start = {later}, subscription_tier = 'free' WHERE id = '{FREE_USER}';
         UPDATE public.clip_limits SET monthly_limit = 3 WHERE tier = 'free';
         INSERT INTO public.user_usage (user_id, clips_this_month, clips_period_start)
           VALUES ('{FREE_USER}', 2, {later})
           ON CONFLICT (user_id) DO UPDATE SET clips_this_month = 2, clips_period_start = {later};"
    ))
    .await;
    let expected: String = sqlx::query_scalar(&format!("SELECT {later}::text"))
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert!(call(&mut c).await, "4 of 5: one more");
    assert!(!call(&mut c).await, "5 of 5: refused, not reset");
    let (usage, at): (i32, String) = sqlx::query_as(&format!(
        "SELECT usage_this_month, usage_period_start::text FROM public.users WHERE id = '{FREE_USER}'"
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((usage, at), (5, expected.clone()));

    assert!(insert_clip(&mut c).await, "2 of 3: one more");
    assert!(!insert_clip(&mut c).await, "3 of 3: refused, not reset");
    let (clips, at): (i32, String) = sqlx::query_as(&format!(
        "SELECT clips_this_month, clips_period_start::text FROM public.user_usage WHERE user_id = '{FREE_USER}'"
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((clips, at), (3, expected));
}
