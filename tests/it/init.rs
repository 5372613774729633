//! `quota init`: the `quota.toml` it guesses from the catalog, parsed back
//! with the `toml` crate. On the demo schema it is the default mapping; on
//! the Supabase-shaped cluster (as `postgres`, through PgBouncer) a
//! `profiles` table beside `auth.users` is the subject; an account table
//! with a member table gets `members`. Plus: never overwriting a file
//! without `--force`, and `-` for stdout.

use std::path::PathBuf;

use crate::common::*;
use crate::pooler::{self, Mode};
use crate::supabase;

/// A file path in a directory of its own, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("quota-init-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("quota.toml")
    }

    fn arg(&self) -> String {
        self.file().to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parse(text: &str) -> toml::Table {
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

/// `quota init` into a fresh file, which is returned parsed, with its text.
fn init_file(url: &str) -> (toml::Table, String) {
    let dir = Scratch::new();
    let out = quota_with_url(url, &["init", "--output", &dir.arg()]);
    assert_success(&out);
    let text = std::fs::read_to_string(dir.file()).unwrap();
    (parse(&text), text)
}

/// The default mapping: what quota installs with no `quota.toml` (SPEC).
const DEFAULT_MAPPING: &str = r#"
[subject]
table = "public.users"
key = "id"
tier = "subscription_tier"

[meters.scrapes]
kind = "rpc"
function = "public.increment_usage_if_allowed"
counter = "usage_this_month"
limit = "plan_limits_scrapes"
period = "month"

[meters.clips]
kind = "trigger"
on = "public.clips"
subject_column = "user_id"
counter = "public.user_usage.clips_this_month"
counter_key = "user_id"
limits = { free = 50, pro = 1000 }
default_tier = "free"
period = "month"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn on_the_demo_schema_the_guess_is_the_default_mapping() {
    let expected = parse(DEFAULT_MAPPING);
    // Before install (limits are the default mapping's own), and after
    // (read from public.clip_limits, where an edit shows).
    let db = demo_db().await;
    let (guess, text) = init_file(&db.url);
    assert_eq!(guess, expected, "{text}");
    assert!(
        !text.contains("# TODO"),
        "nothing is left undecided:\n{text}"
    );

    let db = installed_db().await;
    db.exec("UPDATE public.clip_limits SET monthly_limit = 60 WHERE tier = 'free'")
        .await;
    let (guess, text) = init_file(&db.url);
    let mut edited = expected.clone();
    edited["meters"]["clips"]["limits"]["free"] = toml::Value::Integer(60);
    assert_eq!(guess, edited, "{text}");
    // Every guess says why.
    for why in [
        "# Guessed public.users:",
        "plan_limits_scrapes",
        "also\n# considered plan",
    ] {
        assert!(text.contains(why), "no {why:?} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn init_reads_the_catalog_only() {
    // A login with no privilege on any table guesses the same: no row of
    // the application is read (reading one would be refused).
    let db = demo_db().await;
    let (_, url) = login_role(&db, "init_nobody").await;
    let (guess, text) = init_file(&url);
    assert_eq!(guess, parse(DEFAULT_MAPPING), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_supabase_through_the_pooler_profiles_beside_auth_users_is_the_subject() {
    let db = supabase::supabase_db().await;
    db.exec(
        "CREATE TABLE public.profiles (
           id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
           display_name text,
           tier text NOT NULL DEFAULT 'free',
           credits bigint NOT NULL DEFAULT 0,
           credits_limit bigint,
           updated_at timestamptz
         );
         CREATE TABLE public.generations (
           id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           user_id uuid NOT NULL REFERENCES auth.users (id),
           tokens integer NOT NULL
         );",
    )
    .await;
    // As `postgres` (not a superuser), through a transaction-mode pooler,
    // to stdout.
    let url = pooler::through(&db.url, Mode::Transaction);
    let out = quota_with_url(&url, &["init", "--output", "-"]);
    assert_success(&out);
    let text = stdout(&out);
    let guess = parse(&text);
    assert_eq!(
        guess["subject"],
        parse("table = \"public.profiles\"\nkey = \"id\"\ntier = \"tier\"").into(),
        "{text}"
    );
    assert_eq!(
        guess["meters"]["credits"],
        parse(
            "kind = \"rpc\"\nfunction = \"public.increment_credits_if_allowed\"\n\
             counter = \"credits\"\nlimit = \"credits_limit\"\nperiod = \"none\""
        )
        .into(),
        "{text}"
    );
    assert!(text.contains("Also considered public.users"), "{text}");
    // public.users is the other candidate, not a table of counters or rows
    // to charge, though its key references auth.users too.
    let meters: Vec<&String> = guess["meters"].as_table().unwrap().keys().collect();
    assert_eq!(meters, ["credits"], "{text}");
    assert!(!text.contains("# on = \"public.users\""), "{text}");
    // generations names auth.users, as profiles does: a trigger meter to
    // confirm, with its amount column suggested.
    assert!(
        text.contains("# [meters.generations]") && text.contains("# amount_column = \"tokens\""),
        "{text}"
    );
    // Nothing else on stdout, no password anywhere.
    assert!(!stderr(&out).contains(&supabase_password(&db.url)));
    assert!(!text.contains(&supabase_password(&db.url)));
}

fn supabase_password(url: &str) -> String {
    password_of(url)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_with_a_member_table_gets_members_and_its_meters() {
    let db = empty_db().await;
    db.exec(
        "CREATE TABLE public.users (id uuid PRIMARY KEY, email text);
         CREATE TABLE public.accounts (
           id uuid PRIMARY KEY,
           name text,
           plan text NOT NULL DEFAULT 'free',
           api_calls_today integer NOT NULL DEFAULT 0,
           max_api_calls integer
         );
         CREATE TABLE public.account_members (
           account_id uuid NOT NULL REFERENCES public.accounts (id),
           user_id uuid NOT NULL REFERENCES public.users (id),
           PRIMARY KEY (account_id, user_id)
         );
         CREATE TABLE public.account_usage (
           account_id uuid PRIMARY KEY REFERENCES public.accounts (id),
           documents_this_month bigint NOT NULL DEFAULT 0
         );
         CREATE TABLE public.documents (
           id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           account_id uuid NOT NULL REFERENCES public.accounts (id),
           pages integer NOT NULL
         );",
    )
    .await;
    let (guess, text) = init_file(&db.url);
    let expected = parse(
        r#"
        [subject]
        table = "public.accounts"
        key = "id"
        tier = "plan"
        members = { table = "public.account_members", subject = "account_id", user = "user_id" }

        [meters.api_calls]
        kind = "rpc"
        function = "public.increment_api_calls_if_allowed"
        counter = "api_calls_today"
        limit = "max_api_calls"
        period = "day"

        [meters.documents]
        kind = "trigger"
        on = "public.documents"
        subject_column = "account_id"
        counter = "public.account_usage.documents_this_month"
        counter_key = "account_id"
        period = "month"
        "#,
    );
    assert_eq!(guess, expected, "{text}");
    // Undecided: the documents limit is a TODO; the amount is a suggestion.
    assert!(text.contains("# TODO: this meter's limit"), "{text}");
    assert!(text.contains("# amount_column = \"pages\""), "{text}");
    assert!(text.contains("Also considered public.users"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_written_as_the_catalog_spells_them() {
    let db = empty_db().await;
    db.exec(
        r#"CREATE SCHEMA "My App";
           CREATE TABLE "My App"."Profiles" (
             "Id" uuid PRIMARY KEY,
             "Tier" text,
             "Credits" bigint NOT NULL DEFAULT 0,
             "Credits_Limit" bigint
           );
           CREATE TABLE "My App"."we""ird\table" (
             id bigint PRIMARY KEY,
             "owner" uuid REFERENCES "My App"."Profiles" ("Id")
           );"#,
    )
    .await;
    let (guess, text) = init_file(&db.url);
    assert_eq!(
        guess["subject"]["table"].as_str(),
        Some("My App.Profiles"),
        "{text}"
    );
    assert_eq!(guess["subject"]["key"].as_str(), Some("Id"), "{text}");
    assert_eq!(guess["subject"]["tier"].as_str(), Some("Tier"), "{text}");
    assert_eq!(
        guess["meters"]["credits"]["counter"].as_str(),
        Some("Credits"),
        "{text}"
    );
    assert_eq!(
        guess["meters"]["credits"]["limit"].as_str(),
        Some("Credits_Limit"),
        "{text}"
    );
    // The suggested trigger meter, once uncommented, names the table exactly.
    let suggested: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with("on = "))
        .collect();
    assert_eq!(
        parse(&suggested)["on"].as_str(),
        Some("My App.we\"ird\\table"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_is_never_overwritten_without_force() {
    let db = empty_db().await;
    let dir = Scratch::new();
    // Nothing to guess from: a file of TODOs, exit 0, and a warning.
    let out = db.quota(&["init", "--output", &dir.arg()]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("no table looked like the subject"),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(dir.file()).unwrap();
    parse(&text);
    assert!(text.contains("# TODO"), "{text}");

    std::fs::write(dir.file(), "# mine\n").unwrap();
    let out = db.quota(&["init", "--output", &dir.arg()]);
    assert_refused_with(&out, 2, "--force");
    assert_eq!(std::fs::read_to_string(dir.file()).unwrap(), "# mine\n");
    // Refused before connecting: a database that cannot be reached does not matter.
    let out = quota_with_url(
        "postgres://nobody@127.0.0.1:1/none",
        &["init", "-o", &dir.arg()],
    );
    assert_refused_with(&out, 2, "already exists");

    let out = db.quota(&[
        "init",
        "--output",
        &dir.arg(),
        "--force",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let report = json(&out);
    assert_eq!(report["subject"], serde_json::Value::Null);
    assert!(report["todos"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(std::fs::read_to_string(dir.file()).unwrap(), text);

    // A format init has no use for is refused before the file is touched.
    std::fs::write(dir.file(), "# mine\n").unwrap();
    let out = db.quota(&["init", "-o", &dir.arg(), "--force", "--format", "junit"]);
    assert_refused_with(&out, 2, "junit");
    assert_eq!(std::fs::read_to_string(dir.file()).unwrap(), "# mine\n");
}
