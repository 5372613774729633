//! quota.toml beyond the three schemas: every problem of a mapping named at
//! once, meters that come and go with the file, concurrent appliers, the
//! application's triggers inside a meter's writes, and identifiers that
//! need quoting (a schema and table with capitals, a column named `limit`).

use std::process::Output;

use crate::common::{assert_exit, assert_success, json, stderr, stdout};
use crate::mapped::{
    as_request, rollback_leaves_schema_as_before, schema_dump, Mapped, DOCUMENTS, FREE, NEARLY,
    PROFILES,
};

fn text(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[tokio::test(flavor = "multi_thread")]
async fn check_schema_names_every_problem_with_its_key_and_apply_changes_nothing() {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    std::fs::write(
        &m.config,
        r#"
[subject]
table = "public.profiles"
tier = "plan"

[meters.credits]
kind = "rpc"
function = "public.spend_credits"
counter = "credit_used"
limit = "display_name"
period = "none"

[meters.pages]
kind = "trigger"
on = "public.nowhere"
counter = "public.profiles.tier"
counter_key = "display_name"
limits = { free = 5 }
"#,
    )
    .unwrap();
    let out = m.quota(&["--format", "json", "check", "schema"]);
    assert_exit(&out, 1);
    let all = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in [
        "meters.credits.counter: column public.profiles.credit_used does not exist",
        "meters.credits.limit: public.profiles.display_name is text, expected integer or bigint",
        "meters.pages.on: table public.nowhere does not exist",
        "meters.pages.counter: public.profiles.tier is text",
        "meters.pages.counter_key: public.profiles.display_name is text, expected uuid",
        "subject.tier: column public.profiles.plan does not exist",
    ] {
        assert!(all.contains(expected), "{expected} missing in:\n{all}");
    }
    let before = schema_dump(&m.db).await;
    let out = m.quota(&["migrate", "apply"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("quota check schema"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        schema_dump(&m.db).await,
        before,
        "a refused apply changed the schema"
    );

    // A file that is not a mapping is a usage error naming the key.
    std::fs::write(
        &m.config,
        "[meters.credits]\nkind = \"rpc\"\nfuction = \"public.f\"\n",
    )
    .unwrap();
    let out = m.quota(&["check", "schema"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("fuction") && stderr(&out).lines().count() == 1,
        "{}",
        stderr(&out)
    );
    // A missing file given explicitly, too.
    let out =
        crate::common::quota_with_url(&m.url, &["--config", "/nonexistent/quota.toml", "verify"]);
    assert_exit(&out, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn meters_come_and_go_with_the_file_and_only_rollback_removes_one() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "profiles.toml").await;
    m.install();
    let installed_on = || async {
        m.scalar_i64("SELECT extract(epoch FROM installed_on)::int8 * 1000000 + extract(microseconds FROM installed_on)::int8 FROM quota.meters WHERE meter = 'credits'").await
    };
    let credits_installed = installed_on().await;

    // A meter added to the file is pending; apply installs only it.
    let documents = std::fs::read_to_string(format!(
        "{}/tests/fixtures/mapped/documents.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let pages = &documents[documents.find("[meters.pages]").unwrap()..];
    let mut text = std::fs::read_to_string(&m.config).unwrap();
    text.push('\n');
    text.push_str(pages);
    std::fs::write(&m.config, &text).unwrap();
    let out = m.quota(&["--format", "json", "migrate", "status"]);
    assert_success(&out);
    let states: Vec<(String, String)> = json(&out)["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["meter"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("credits".into(), "installed".into()),
            ("pages".into(), "pending".into())
        ]
    );
    assert_exit(&m.quota(&["verify"]), 1);
    let out = m.quota(&["--format", "json", "migrate", "apply"]);
    assert_success(&out);
    let actions: Vec<String> = json(&out)["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, vec!["unchanged", "installed"]);
    assert_eq!(
        installed_on().await,
        credits_installed,
        "the other meter was touched"
    );
    assert_success(&m.quota(&["verify"]));

    // A meter removed from the file stays installed, reported, until rollback --meter.
    let start = text.find("[meters.credits]").unwrap();
    let end = text.find("[meters.pages]").unwrap();
    text.replace_range(start..end, "");
    std::fs::write(&m.config, &text).unwrap();
    let out = m.quota(&["migrate", "status"]);
    assert_success(&out);
    assert!(stdout(&out).contains("not in file"), "{}", stdout(&out));
    let out = m.quota(&["verify"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("meters.credits: installed, but not in"),
        "{}",
        stdout(&out)
    );
    assert_success(&m.quota(&["migrate", "apply"]));
    assert_eq!(m.scalar_i64("SELECT count(*) FROM quota.meters").await, 2);
    assert_exit(&m.quota(&["migrate", "rollback", "--meter", "credits"]), 2); // no --yes, no terminal
    assert_exit(
        &m.quota(&["migrate", "rollback", "--meter", "nothing", "--yes"]),
        2,
    );
    assert_success(&m.quota(&["migrate", "rollback", "--meter", "credits", "--yes"]));
    assert_eq!(m.scalar_i64("SELECT count(*) FROM quota.meters").await, 1);
    assert_eq!(
        m.scalar_i64("SELECT count(*) FROM pg_proc WHERE proname = 'spend_credits'")
            .await,
        0
    );
    assert_success(&m.quota(&["verify"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_appliers_install_each_meter_once() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    let config = m.config.to_str().unwrap().to_string();
    let children: Vec<_> = (0..4)
        .map(|_| {
            crate::common::spawn_quota_async(
                &m.url,
                &["--config", &config, "--format", "json", "migrate", "apply"],
            )
        })
        .collect();
    let mut installed = 0;
    for child in children {
        let out = child.wait_with_output().await.unwrap();
        assert_success(&out);
        installed += json(&out)["meters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["action"] == "installed")
            .count();
    }
    assert_eq!(installed, 1, "the meter was installed more than once");
    assert_success(&m.quota(&["verify"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unpinned_application_trigger_on_a_counter_table_fails_check_security() {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    m.install();
    // The application's own audit trigger on profiles, with an empty
    // search_path: it runs as quota's owner whenever the meter counts.
    m.db.exec(
        "CREATE TABLE public.profile_audit (id uuid, at timestamptz DEFAULT now());
         CREATE FUNCTION public.audit_profile() RETURNS trigger LANGUAGE plpgsql SET search_path = ''
           AS $$ BEGIN INSERT INTO public.profile_audit (id) VALUES (NEW.id); RETURN NEW; END $$;
         CREATE TRIGGER audit_profile AFTER UPDATE ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.audit_profile();",
    )
    .await;
    let out = m.quota(&["check", "security"]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("public.audit_profile()"),
        "{}",
        stdout(&out)
    );
    m.db.exec(
        "ALTER FUNCTION public.audit_profile() SET search_path = pg_catalog, public, pg_temp",
    )
    .await;
    assert_success(&m.quota(&["check", "security"]));
    // The application's own writes still work.
    assert_eq!(
        as_request(
            &m,
            "service_role",
            None,
            &format!("SELECT * FROM public.spend_credits('{FREE}', 1)")
        )
        .await,
        Ok(())
    );
}

const ODD_NAMES: &str = r#"
CREATE SCHEMA "App";
CREATE TABLE "App"."Users" (
  "Id" uuid PRIMARY KEY,
  "Plan" text,
  "limit" integer,
  "Calls Today" integer NOT NULL DEFAULT 0,
  "Uploads" integer NOT NULL DEFAULT 0
);
CREATE TABLE "App"."Uploads" (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "Owner" uuid NOT NULL REFERENCES "App"."Users" ("Id"),
  name text NOT NULL
);
INSERT INTO "App"."Users" ("Id", "Plan", "limit") VALUES
  ('11111111-1111-4111-8111-111111111111', 'gold', 3),
  ('44444444-4444-4444-8444-444444444444', NULL, 2);
"#;

const ODD_CONFIG: &str = r#"
[subject]
table = "App.Users"
key = "Id"
tier = "Plan"

[meters.calls]
kind = "rpc"
function = "App.Call Me"
counter = "Calls Today"
limits = { basic = 2, gold = 4 }
default_tier = "basic"
period = "day"

[meters.uploads]
kind = "trigger"
on = "App.Uploads"
subject_column = "Owner"
counter = "Uploads"
limit = "limit"
period = "month"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn identifiers_that_need_quoting_and_the_other_shapes_of_a_meter() {
    let m = Mapped::new(&[ODD_NAMES], "profiles.toml").await;
    std::fs::write(&m.config, ODD_CONFIG).unwrap();
    let before = schema_dump(&m.db).await;
    m.install();
    // rpc, tier limits, counter on the subject's row: gold 4, NULL tier → basic 2.
    let call = |who: &str| {
        let out = m.quota(&[
            "--format", "json", "call", who, "--meter", "calls", "--commit",
        ]);
        assert_success(&out);
        json(&out)["allowed"].as_bool().unwrap()
    };
    assert_eq!((0..6).map(|_| call(FREE)).filter(|a| *a).count(), 4);
    assert_eq!((0..6).map(|_| call(NEARLY)).filter(|a| *a).count(), 2);
    // trigger, one unit per row, counter on the subject's row, limit column: 3 for FREE.
    let out = m.quota(&[
        "--format", "json", "race", "--meter", "uploads", "--user", FREE, "-c", "4", "-n", "10",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["admitted"].as_u64(), Some(3), "{}", text(&out));
    m.db.exec(&format!("INSERT INTO \"App\".\"Uploads\" (\"Owner\", name) SELECT '{NEARLY}', 'f' || g FROM generate_series(1, 2) g")).await;
    let mut c = m.db.connect().await;
    let err = sqlx::raw_sql(&format!(
        "INSERT INTO \"App\".\"Uploads\" (\"Owner\", name) VALUES ('{NEARLY}', 'x')"
    ))
    .execute(&mut c)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Uploads limit reached"), "{err}");
    rollback_leaves_schema_as_before(&m, &before).await;
}

/// Row counts of every table of the fixtures (and auth.users, public.users).
async fn row_counts(m: &Mapped, tables: &[&str]) -> Vec<i64> {
    let mut out = Vec::new();
    for t in tables {
        out.push(m.scalar_i64(&format!("SELECT count(*) FROM {t}")).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn races_on_scratch_subjects_admit_the_headroom_and_leave_no_row_behind() {
    let m = Mapped::new(
        &[PROFILES, DOCUMENTS, crate::mapped::TEAMS],
        "documents.toml",
    )
    .await;
    // Three meters: profiles (key references auth.users, whose signup
    // trigger makes a public.users row), an account meter counted in a
    // table of its own, a trigger meter on documents.
    let profiles = std::fs::read_to_string(format!(
        "{}/tests/fixtures/mapped/profiles.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let teams = std::fs::read_to_string(format!(
        "{}/tests/fixtures/mapped/teams.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut file = std::fs::read_to_string(&m.config).unwrap();
    file.push_str(&profiles[profiles.find("[meters.credits]").unwrap()..]);
    let team_meter = &teams[teams.find("[meters.api_calls]").unwrap()..];
    file.push_str(&team_meter.replacen(
        "kind = \"rpc\"",
        "kind = \"rpc\"\nsubject = { table = \"public.accounts\", key = \"id\", tier = \"plan\", members = { table = \"public.account_members\", subject = \"account_id\", user = \"user_id\" } }",
        1,
    ));
    std::fs::write(&m.config, &file).unwrap();
    m.install();
    let tables = [
        "auth.users",
        "public.users",
        "public.user_usage",
        "public.profiles",
        "public.documents",
        "public.page_usage",
        "public.accounts",
        "public.api_usage",
    ];
    let before = row_counts(&m, &tables).await;
    for (meter, amount, headroom) in [
        ("credits", "5", "6"),
        ("pages", "3", "4"),
        ("api_calls", "2", "7"),
    ] {
        let out = m.quota(&[
            "--format",
            "json",
            "race",
            "--meter",
            meter,
            "--amount",
            amount,
            "--headroom",
            headroom,
            "-c",
            "6",
            "-n",
            "20",
        ]);
        assert_success(&out);
        let r = json(&out);
        let expected: u64 = headroom.parse().unwrap();
        assert_eq!(
            (r["admitted"].as_u64(), r["expected"].as_u64()),
            (Some(expected), Some(expected)),
            "{meter}: {}",
            text(&out)
        );
    }
    assert_eq!(
        row_counts(&m, &tables).await,
        before,
        "a scratch row was left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_init_writes_passes_check_schema_installs_and_verifies() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "profiles.toml").await;
    std::fs::remove_file(&m.config).unwrap();
    let out =
        crate::common::quota_with_url(&m.url, &["init", "--output", m.config.to_str().unwrap()]);
    assert_success(&out);
    let written = std::fs::read_to_string(&m.config).unwrap();
    // What it could not decide is a TODO the file names by key until filled.
    let out = m.quota(&["check", "schema"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("meters.pages.limit"),
        "{}",
        stderr(&out)
    );
    let filled = written.replacen(
        "# limits = { free = 50, pro = 1000 }\n# default_tier = \"free\"\n# pages",
        "limits = { free = 50, pro = 1000 }\ndefault_tier = \"free\"\n# pages",
        1,
    );
    assert_ne!(
        filled, written,
        "the TODO to fill was not found:\n{written}"
    );
    std::fs::write(&m.config, &filled).unwrap();
    let out = m.quota(&["check", "schema"]);
    assert_success(&out);
    assert_success(&m.quota(&["migrate", "apply"]));
    let out = m.quota(&["verify"]);
    assert_success(&out);
    assert!(written.contains("public.profiles"), "{written}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_update_policy_that_reaches_the_counter_fails_check_security_until_its_hint_is_run(
) {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    m.install();
    // Supabase's usual "users update their own profile": with the default
    // privileges (UPDATE on every column) it lets a user reset their credits.
    m.db.exec(
        "CREATE POLICY \"Users update own profile\" ON public.profiles FOR UPDATE TO authenticated
           USING (id = auth.uid()) WITH CHECK (id = auth.uid())",
    )
    .await;
    let reset = format!("UPDATE public.profiles SET credits_used = 0 WHERE id = '{NEARLY}'");
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &reset).await,
        Ok(()),
        "the attack should work before the fix"
    );
    let out = m.quota(&["--format", "json", "check", "security"]);
    assert_exit(&out, 1);
    let check = &json(&out)["checks"][0];
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("authenticated can UPDATE public.profiles")
            && detail.contains("credits_used"),
        "{detail}"
    );
    // Every statement of the hint, as written.
    let hint = check["hint"].as_str().unwrap();
    for statement in hint.split('`').skip(1).step_by(2) {
        m.db.exec(statement).await;
    }
    assert_success(&m.quota(&["check", "security"]));
    let code = as_request(&m, "authenticated", Some(NEARLY), &reset).await;
    assert_eq!(code, Err("42501".into()), "the counter is still writable");
    // The profile edit the policy is for still works.
    let edit = format!("UPDATE public.profiles SET display_name = 'N' WHERE id = '{NEARLY}'");
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &edit).await,
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trigger_meter_charged_per_row_keeps_every_semantic() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    m.edit_config(
        "kind = \"trigger\"\n",
        "kind = \"trigger\"\nper = \"row\"\n",
    );
    let before = schema_dump(&m.db).await;
    m.install();
    let used = |owner: &str| {
        format!("SELECT coalesce((SELECT pages_this_month FROM public.page_usage WHERE owner_id = '{owner}'), 0)")
    };
    let insert = |owner: &str, pages: i32, rows: i32| {
        format!("INSERT INTO public.documents (owner_id, title, pages) SELECT '{owner}', 'doc ' || g, {pages} FROM generate_series(1, {rows}) AS g")
    };
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(NEARLY, 3, 10)).await,
        Ok(())
    );
    assert_eq!(m.scalar_i64(&used(NEARLY)).await, 30);
    // Over the limit part-way: the whole statement fails, nothing charged.
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(NEARLY, 1, 71)).await,
        Err("23514".into())
    );
    assert_eq!(m.scalar_i64(&used(NEARLY)).await, 30);
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(NEARLY, 0, 5)).await,
        Ok(())
    );
    assert_eq!(
        m.scalar_i64(&used(NEARLY)).await,
        30,
        "a zero amount charges nothing"
    );
    let out = m.quota(&[
        "--format", "json", "race", "--meter", "pages", "--user", FREE, "--amount", "7", "-c", "8",
        "-n", "30",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["admitted"].as_u64(), Some(14), "{}", text(&out));
    // Switching the shape in the file is drift; --repair installs the other shape.
    m.edit_config("per = \"row\"\n", "");
    let out = m.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("per"), "{}", stdout(&out));
    assert_success(&m.quota(&["migrate", "apply", "--repair"]));
    assert_success(&m.quota(&["verify"]));
    rollback_leaves_schema_as_before(&m, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_over_a_default_install_says_to_roll_it_back_and_existing_counters_keep_their_period(
) {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    // The default mapping, installed without the file.
    assert_success(&crate::common::quota_with_url(
        &m.url,
        &["migrate", "apply"],
    ));
    let out = m.quota(&["--format", "json", "check", "schema"]);
    assert_exit(&out, 1);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("the default mapping is installed")
            && detail.contains("rollback --target 0"),
        "{detail}"
    );
    assert_exit(&m.quota(&["migrate", "apply"]), 4);
    assert_success(&crate::common::quota_with_url(
        &m.url,
        &["migrate", "rollback", "--target", "0", "--yes"],
    ));
    // Usage the application counted this month before install stays this month's.
    m.db.exec(&format!(
        "INSERT INTO public.page_usage (owner_id, pages_this_month) VALUES ('{NEARLY}', 90)"
    ))
    .await;
    m.install();
    let insert = |pages: i32| {
        format!("INSERT INTO public.documents (owner_id, title, pages) VALUES ('{NEARLY}', 'd', {pages})")
    };
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(20)).await,
        Err("23514".into())
    );
    assert_eq!(
        as_request(&m, "authenticated", Some(NEARLY), &insert(10)).await,
        Ok(())
    );
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT pages_this_month FROM public.page_usage WHERE owner_id = '{NEARLY}'"
        ))
        .await,
        100
    );
}
