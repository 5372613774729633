//! The clip trigger's refusal tells usage figures only to the user being
//! charged (V5). Someone whom a permissive INSERT policy lets insert a clip
//! for another user (the dashboard's template `WITH CHECK (true)`) still
//! gets SQLSTATE 23514 and "Clip limit reached", but no limit or usage; the
//! charged user, service_role and a direct session still get the DETAIL.
//! Run the way PostgREST runs a request: one transaction, `SET LOCAL ROLE`,
//! the JWT passed with `set_config(..., true)`.

use sqlx::postgres::PgDatabaseError;
use sqlx::{Executor, PgConnection};

use crate::common::assert_success;
use crate::hostile::{begin_request, claims};
use crate::supabase::{supabase_installed_db, SupaDb, FREE_USER, LIMITED_USER};

/// The refusal: (SQLSTATE, message, detail).
type Refusal = (String, String, String);

/// Inserts a clip for LIMITED_USER (50 of 50 clips used) as one request,
/// rolled back; the refusal it must end in.
async fn insert_for_limited(
    conn: &mut PgConnection,
    role: Option<&str>,
    settings: &[(&str, &str)],
) -> Refusal {
    let mut tx = begin_request(conn, role, settings).await;
    let err = tx
        .execute(
            format!(
                "INSERT INTO public.clips (user_id, url, title) VALUES ('{LIMITED_USER}', 'https://e.x', 't')"
            )
            .as_str(),
        )
        .await
        .expect_err("LIMITED_USER is at the limit");
    let pg = err
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
        .unwrap_or_else(|| panic!("a database error: {err}"));
    let refusal = (
        pg.code().to_string(),
        pg.message().to_string(),
        pg.detail().unwrap_or_default().to_string(),
    );
    tx.rollback().await.unwrap();
    refusal
}

/// The JWT of `sub` both ways PostgREST passes it.
fn jwt_styles(sub: &str) -> [Vec<(&'static str, String)>; 2] {
    [
        vec![("request.jwt.claims", claims(sub))],
        vec![
            ("request.jwt.claim.sub", sub.to_string()),
            ("request.jwt.claim.role", "authenticated".to_string()),
        ],
    ]
}

async fn as_authenticated(conn: &mut PgConnection, settings: &[(&'static str, String)]) -> Refusal {
    let settings: Vec<(&str, &str)> = settings.iter().map(|(n, v)| (*n, v.as_str())).collect();
    insert_for_limited(conn, Some("authenticated"), &settings).await
}

fn assert_figures(r: &Refusal) {
    assert_eq!(r.0, "23514", "{r:?}");
    assert!(r.1.starts_with("Clip limit reached"), "{r:?}");
    assert!(
        r.2.contains("limit=50") && r.2.contains("usage=50"),
        "{r:?}"
    );
}

fn assert_no_figures(r: &Refusal) {
    assert_eq!(r.0, "23514", "{r:?}");
    assert!(r.1.starts_with("Clip limit reached"), "{r:?}");
    for text in [&r.1, &r.2] {
        assert!(
            !text.contains("50") && !text.contains("limit=") && !text.contains("usage="),
            "figures disclosed to another user: {r:?}"
        );
    }
}

async fn clips_used(db: &SupaDb) -> i32 {
    let mut c = db.connect_admin().await;
    sqlx::query_scalar(&format!(
        "SELECT clips_this_month FROM public.user_usage WHERE user_id = '{LIMITED_USER}'"
    ))
    .fetch_one(&mut c)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clip_refusal_discloses_usage_only_to_the_user_charged() {
    let db = supabase_installed_db().await;
    db.exec_admin(
        "CREATE POLICY \"Anyone signed in may insert clips\" ON public.clips
           FOR INSERT TO authenticated WITH CHECK (true)",
    )
    .await;
    let mut c = db.connect().await;
    let before = clips_used(&db).await;

    // Before V5 the figures of the user charged reach whoever inserted.
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "-q", "--target", "4"]));
    let leaked = as_authenticated(&mut c, &jwt_styles(FREE_USER)[0]).await;
    assert_figures(&leaked);
    assert_success(&db.quota(&["migrate", "apply", "-q"]));

    // Another signed-in user, either claim style: refused, no figures.
    for style in jwt_styles(FREE_USER) {
        assert_no_figures(&as_authenticated(&mut c, &style).await);
    }
    // No sub at all under the API role: no figures either (fails closed).
    assert_no_figures(&insert_for_limited(&mut c, Some("authenticated"), &[]).await);

    // The user charged, either claim style (upper-case sub too).
    for style in jwt_styles(LIMITED_USER) {
        assert_figures(&as_authenticated(&mut c, &style).await);
    }
    let upper = LIMITED_USER.to_uppercase();
    assert_figures(&as_authenticated(&mut c, &jwt_styles(&upper)[0]).await);
    // service_role, as PostgREST runs it, and a direct session.
    let service = serde_json::json!({ "role": "service_role" }).to_string();
    assert_figures(
        &insert_for_limited(
            &mut c,
            Some("service_role"),
            &[("request.jwt.claims", &service)],
        )
        .await,
    );
    assert_figures(&insert_for_limited(&mut c, None, &[]).await);

    assert_eq!(clips_used(&db).await, before, "no refusal charged anything");
}
