//! Hostile callers, round 2 (issue 16): clips for someone else, and views
//! at any depth. The clip trigger charges `NEW.user_id`, so whoever may
//! insert a clip for another user spends that user's quota. Each attack
//! runs as PostgREST runs a request and is first shown to work; then
//! `check security` fails, its hints are run, it passes, the attack fails
//! and the user's own clip inserts keep working.

use crate::hostile::{claims, request};
use crate::hostile_round2::{fails_then_hints_fix, security};
use crate::supabase::{supabase_installed_db, SupaDb, FREE_USER, NEARLY_USER};

async fn clips_used(db: &SupaDb, user: &str) -> i32 {
    let mut c = db.connect_admin().await;
    sqlx::query_scalar("SELECT clips_this_month FROM public.user_usage WHERE user_id = $1::uuid")
        .bind(user)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

fn clip_for(table: &str, user: &str) -> String {
    format!("INSERT INTO {table} (user_id, url, title) VALUES ('{user}', 'https://x', 'x')")
}

/// Inserts a clip into `table` as `role` (a signed-in FREE_USER unless anon).
async fn insert_as(db: &SupaDb, role: &str, table: &str, user: &str) -> crate::hostile::Outcome {
    let mut c = db.connect().await;
    let jwt = claims(FREE_USER);
    let settings: Vec<(&str, &str)> = if role == "anon" {
        vec![]
    } else {
        vec![("request.jwt.claims", jwt.as_str())]
    };
    request(&mut c, Some(role), &settings, &clip_for(table, user)).await
}

/// The attack: `role` inserts a clip for NEARLY_USER through `table`, and
/// NEARLY_USER is charged for it. Returns NEARLY_USER's clips before it.
async fn attack_spends_a_clip(db: &SupaDb, role: &str, table: &str) -> i32 {
    let before = clips_used(db, NEARLY_USER).await;
    insert_as(db, role, table, NEARLY_USER).await.unwrap();
    assert_eq!(
        clips_used(db, NEARLY_USER).await,
        before + 1,
        "the attack works"
    );
    before
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboards_with_check_true_policy_lets_a_user_spend_anothers_clips() {
    let db = supabase_installed_db().await;
    // The fixture's own-row policy passes as it is.
    assert_eq!(security(&db).1, "pass");
    db.exec(
        "CREATE POLICY \"Enable insert for authenticated users only\" ON public.clips
           FOR INSERT TO authenticated WITH CHECK (true)",
    )
    .await;
    let before = attack_spends_a_clip(&db, "authenticated", "public.clips").await;

    let hint = fails_then_hints_fix(
        &db,
        "policy \"Enable insert for authenticated users only\"",
        false,
    )
    .await;
    assert!(
        hint.contains("ALTER POLICY \"Enable insert for authenticated users only\" ON public.clips WITH CHECK (user_id = (select auth.uid()))"),
        "{hint}"
    );
    let refused = insert_as(&db, "authenticated", "public.clips", NEARLY_USER).await;
    assert_eq!(refused.unwrap_err().0, "42501");
    assert_eq!(clips_used(&db, NEARLY_USER).await, before + 1);
    let own = clips_used(&db, FREE_USER).await;
    insert_as(&db, "authenticated", "public.clips", FREE_USER)
        .await
        .unwrap();
    assert_eq!(clips_used(&db, FREE_USER).await, own + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_off_on_clips_fails_and_its_hint_keeps_own_inserts() {
    let db = supabase_installed_db().await;
    db.exec("ALTER TABLE public.clips DISABLE ROW LEVEL SECURITY")
        .await;
    attack_spends_a_clip(&db, "anon", "public.clips").await;
    fails_then_hints_fix(&db, "row level security is disabled on public.clips", false).await;
    assert_eq!(
        insert_as(&db, "anon", "public.clips", NEARLY_USER)
            .await
            .unwrap_err()
            .0,
        "42501"
    );
    insert_as(&db, "authenticated", "public.clips", FREE_USER)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_rights_view_over_clips_lets_anon_insert_for_a_user() {
    let db = supabase_installed_db().await;
    // Created by postgres: Supabase's default privileges give anon ALL on it.
    db.exec(
        "CREATE VIEW public.clip_feed AS SELECT id, user_id, url, title FROM public.clips;
         CREATE VIEW public.recent_clips AS SELECT * FROM public.clip_feed;",
    )
    .await;
    let before = attack_spends_a_clip(&db, "anon", "public.recent_clips").await;

    let hint = fails_then_hints_fix(
        &db,
        "through the view public.recent_clips over public.clips",
        false,
    )
    .await;
    assert!(
        hint.contains("ALTER VIEW public.clip_feed SET (security_invoker = true)")
            && hint.contains("ALTER VIEW public.recent_clips SET (security_invoker = true)"),
        "{hint}"
    );
    for view in ["public.clip_feed", "public.recent_clips"] {
        let refused = insert_as(&db, "anon", view, NEARLY_USER).await;
        assert_eq!(refused.unwrap_err().0, "42501", "{view}");
    }
    assert_eq!(clips_used(&db, NEARLY_USER).await, before + 1);
    // The user's own insert works, through the views too (their RLS now applies).
    let own = clips_used(&db, FREE_USER).await;
    insert_as(&db, "authenticated", "public.recent_clips", FREE_USER)
        .await
        .unwrap();
    assert_eq!(clips_used(&db, FREE_USER).await, own + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_view_over_an_owner_rights_view_writes_counters() {
    let db = supabase_installed_db().await;
    // The inner view is closed to the API; the outer one, created later,
    // gets Supabase's default privileges and reaches it as its owner.
    db.exec(
        "CREATE VIEW public.account AS SELECT id, full_name, usage_this_month, plan_limits_scrapes FROM public.users;
         REVOKE ALL ON public.account FROM anon, authenticated;
         CREATE VIEW public.my_account AS SELECT * FROM public.account;",
    )
    .await;
    let mut c = db.connect().await;
    let jwt = claims(FREE_USER);
    let settings = [("request.jwt.claims", jwt.as_str())];
    let write = format!(
        "UPDATE public.my_account SET usage_this_month = 0, plan_limits_scrapes = 999 WHERE id = '{FREE_USER}' RETURNING id"
    );
    assert_eq!(
        request(&mut c, Some("authenticated"), &settings, &write).await,
        Ok(1),
        "the attack works"
    );
    db.exec_admin(&format!(
        "UPDATE public.users SET plan_limits_scrapes = 5 WHERE id = '{FREE_USER}'"
    ))
    .await;
    let hint = fails_then_hints_fix(
        &db,
        "through the view public.my_account over public.users",
        false,
    )
    .await;
    assert!(
        hint.contains("ALTER VIEW public.my_account SET (security_invoker = true)"),
        "{hint}"
    );
    let refused = request(&mut c, Some("authenticated"), &settings, &write).await;
    assert_eq!(refused.unwrap_err().0, "42501");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_materialized_view_exposing_counters_is_a_warning_with_a_revoke() {
    let db = supabase_installed_db().await;
    db.exec(
        "CREATE VIEW public.account AS SELECT id, usage_this_month, plan_limits_scrapes FROM public.users;
         REVOKE ALL ON public.account FROM anon, authenticated;
         CREATE MATERIALIZED VIEW public.leaderboard AS SELECT * FROM public.account;",
    )
    .await;
    let mut c = db.connect().await;
    let everyone = request(
        &mut c,
        Some("anon"),
        &[],
        "SELECT * FROM public.leaderboard",
    )
    .await;
    assert_eq!(everyone, Ok(4), "anon reads every user's usage");
    let (code, status, detail, hint) = security(&db);
    assert_eq!((code, status.as_str()), (0, "warn"), "{detail}");
    assert!(
        detail.contains("materialized view public.leaderboard over public.users"),
        "{detail}"
    );
    for sql in crate::hostile::hint_statements(&hint) {
        sqlx::Executor::execute(&mut c, sql.as_str()).await.unwrap();
    }
    assert_eq!(security(&db).1, "pass");
    let refused = request(
        &mut c,
        Some("anon"),
        &[],
        "SELECT * FROM public.leaderboard",
    )
    .await;
    assert_eq!(refused.unwrap_err().0, "42501");
}

/// A policy for PUBLIC that checks only that the caller is signed in
/// applies to every API role; a restrictive own-row policy would have
/// closed it, the hint ties the permissive one instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_public_policy_checking_only_the_role_fails_and_its_hint_ties_it() {
    let db = supabase_installed_db().await;
    db.exec(
        "CREATE POLICY \"signed in may add\" ON public.clips
           FOR ALL TO public USING (auth.role() = 'authenticated')",
    )
    .await;
    attack_spends_a_clip(&db, "authenticated", "public.clips").await;
    let hint = fails_then_hints_fix(
        &db,
        "anon, authenticated may insert clips for any user",
        false,
    )
    .await;
    assert!(
        hint.contains("ALTER POLICY \"signed in may add\" ON public.clips WITH CHECK"),
        "{hint}"
    );
    let refused = insert_as(&db, "authenticated", "public.clips", NEARLY_USER).await;
    assert_eq!(refused.unwrap_err().0, "42501");
    insert_as(&db, "authenticated", "public.clips", FREE_USER)
        .await
        .unwrap();
}

/// A restrictive own-row policy closes a loose permissive one: it passes.
#[tokio::test(flavor = "multi_thread")]
async fn a_restrictive_own_row_policy_keeps_a_loose_one_safe() {
    let db = supabase_installed_db().await;
    db.exec(
        "CREATE POLICY \"Enable insert for authenticated users only\" ON public.clips
           FOR INSERT TO authenticated WITH CHECK (true);
         CREATE POLICY \"only own clips\" ON public.clips AS RESTRICTIVE
           FOR INSERT TO authenticated WITH CHECK (user_id = (select auth.uid()));",
    )
    .await;
    let (code, status, detail, _) = security(&db);
    assert_eq!((code, status.as_str()), (0, "pass"), "{detail}");
    let refused = insert_as(&db, "authenticated", "public.clips", NEARLY_USER).await;
    assert_eq!(refused.unwrap_err().0, "42501");
}

/// A column-level INSERT grant on clips (table-level INSERT revoked) still
/// lets a role insert `user_id`: with a `WITH CHECK (true)` policy it
/// spends another user's clips, `check security` fails, and its hint ties
/// the policy to the caller.
#[tokio::test(flavor = "multi_thread")]
async fn a_column_level_insert_grant_with_a_check_true_policy_fails() {
    let db = supabase_installed_db().await;
    db.exec(
        "ALTER TABLE public.clips ALTER COLUMN title SET DEFAULT '';
         REVOKE INSERT ON public.clips FROM anon, authenticated;
         GRANT INSERT (user_id, url) ON public.clips TO authenticated;
         CREATE POLICY \"clip inserts\" ON public.clips
           FOR INSERT TO authenticated WITH CHECK (true)",
    )
    .await;
    let insert = |user: &str| {
        format!("INSERT INTO public.clips (user_id, url) VALUES ('{user}', 'https://x')")
    };
    let as_free = async |sql: String| {
        let mut c = db.connect().await;
        let jwt = claims(FREE_USER);
        let settings = [("request.jwt.claims", jwt.as_str())];
        request(&mut c, Some("authenticated"), &settings, &sql).await
    };
    // Only the granted columns: the table-level grant is really gone.
    assert_eq!(
        as_free(clip_for("public.clips", FREE_USER))
            .await
            .unwrap_err()
            .0,
        "42501"
    );
    let before = clips_used(&db, NEARLY_USER).await;
    as_free(insert(NEARLY_USER)).await.unwrap();
    assert_eq!(
        clips_used(&db, NEARLY_USER).await,
        before + 1,
        "the attack works"
    );

    let hint = fails_then_hints_fix(&db, "policy \"clip inserts\"", false).await;
    assert!(
        hint.contains(
            "ALTER POLICY \"clip inserts\" ON public.clips WITH CHECK (user_id = (select auth.uid()))"
        ),
        "{hint}"
    );
    assert_eq!(as_free(insert(NEARLY_USER)).await.unwrap_err().0, "42501");
    assert_eq!(clips_used(&db, NEARLY_USER).await, before + 1);
    let own = clips_used(&db, FREE_USER).await;
    as_free(insert(FREE_USER)).await.unwrap();
    assert_eq!(clips_used(&db, FREE_USER).await, own + 1);
}
