//! A required column the clip trigger's insert cannot fill: `user_usage`
//! with `org_id uuid NOT NULL` and no default. The trigger creates a user's
//! counter row naming only user_id, clips_this_month and clips_period_start,
//! so every user without one would be refused their first clip. `check
//! schema` and `migrate apply` refuse before install, `verify` fails after,
//! naming the table and column and what to do.

use sqlx::Executor;

use crate::common::{
    add_user, assert_exit, assert_success, demo_db, installed_db, json, stderr, stdout,
};

/// Adds `org_id uuid NOT NULL` without a default (filled for existing rows).
const ADD_ORG_ID: &str = "ALTER TABLE public.user_usage ADD COLUMN org_id uuid;
     UPDATE public.user_usage SET org_id = gen_random_uuid();
     ALTER TABLE public.user_usage ALTER COLUMN org_id SET NOT NULL;";

#[track_caller]
fn assert_names_org_id(text: &str) {
    assert!(
        text.contains("public.user_usage.org_id (uuid) is NOT NULL without a default"),
        "{text}"
    );
    assert!(text.contains("SET DEFAULT"), "says what to do: {text}");
    assert!(text.contains("DROP NOT NULL"), "says what to do: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_schema_and_apply_refuse_a_required_usage_column_before_install() {
    let db = demo_db().await;
    db.exec(ADD_ORG_ID).await;

    let out = db.quota(&["check", "schema"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("org_id"), "{}", stdout(&out));

    let out = db.quota(&["check", "schema", "--format", "json"]);
    assert_exit(&out, 1);
    assert_names_org_id(&json(&out).to_string());

    let out = db.quota(&["migrate", "apply"]);
    assert_exit(&out, 4);
    assert_names_org_id(&stderr(&out));
    let mut c = db.connect().await;
    let installed: bool = sqlx::query_scalar(
        "SELECT to_regprocedure('public.increment_usage_if_allowed(uuid)') IS NOT NULL \
             OR to_regclass('public.clip_limits') IS NOT NULL",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(!installed, "nothing may be installed");

    // A default is enough: the trigger's insert then works.
    db.exec("ALTER TABLE public.user_usage ALTER COLUMN org_id SET DEFAULT gen_random_uuid()")
        .await;
    assert_success(&db.quota(&["check", "schema"]));
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    let user = add_user(&mut c, 0, Some(5), "free").await;
    c.execute(format!("INSERT INTO public.clips (user_id) VALUES ('{user}')").as_str())
        .await
        .expect("the first clip of a user without a user_usage row");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_fails_on_a_required_usage_column_added_after_install() {
    let db = installed_db().await;
    assert_success(&db.quota(&["verify"]));
    db.exec(ADD_ORG_ID).await;

    // What the check claims is real: a new user's first clip is refused.
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(5), "free").await;
    let insert = format!("INSERT INTO public.clips (user_id) VALUES ('{user}')");
    let err = c.execute(insert.as_str()).await.unwrap_err();
    assert_eq!(crate::common::code(&err), "23502", "{err}");

    let out = db.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("org_id"), "{}", stdout(&out));
    let out = db.quota(&["verify", "--format", "json"]);
    assert_exit(&out, 1);
    assert_names_org_id(&json(&out).to_string());

    // Made nullable, verify passes and the clip goes in.
    db.exec("ALTER TABLE public.user_usage ALTER COLUMN org_id DROP NOT NULL")
        .await;
    assert_success(&db.quota(&["verify"]));
    c.execute(insert.as_str()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_and_identity_columns_and_defaults_are_not_required() {
    let db = demo_db().await;
    db.exec(
        "ALTER TABLE public.user_usage
           ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY,
           ADD COLUMN doubled integer GENERATED ALWAYS AS (clips_this_month * 2) STORED,
           ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
           ADD COLUMN note text",
    )
    .await;
    assert_success(&db.quota(&["check", "schema"]));
}

/// A BEFORE INSERT trigger on user_usage that fills the column: a warning
/// naming the trigger (it may fill it), not a failure; apply goes ahead and
/// the first clip of a new user works.
#[tokio::test(flavor = "multi_thread")]
async fn a_before_insert_trigger_that_may_fill_the_column_is_a_warning() {
    let db = demo_db().await;
    db.exec(ADD_ORG_ID).await;
    db.exec(
        "CREATE FUNCTION public.fill_org() RETURNS trigger LANGUAGE plpgsql
           SET search_path = pg_catalog, pg_temp AS $$
         BEGIN NEW.org_id := coalesce(NEW.org_id, gen_random_uuid()); RETURN NEW; END $$;
         CREATE TRIGGER fill_org BEFORE INSERT ON public.user_usage
           FOR EACH ROW EXECUTE FUNCTION public.fill_org();",
    )
    .await;
    let out = db.quota(&["check", "schema", "--format", "json"]);
    assert_success(&out);
    let text = json(&out).to_string();
    assert!(
        text.contains("unless the BEFORE INSERT trigger fill_org"),
        "{text}"
    );
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_success(&db.quota(&["verify"]));
    let mut c = db.connect().await;
    let user = add_user(&mut c, 0, Some(5), "free").await;
    c.execute(format!("INSERT INTO public.clips (user_id) VALUES ('{user}')").as_str())
        .await
        .expect("the trigger fills org_id");
    // Disabled, it fills nothing: a failure again.
    db.exec("ALTER TABLE public.user_usage DISABLE TRIGGER fill_org")
        .await;
    assert_exit(&db.quota(&["verify"]), 1);
}
