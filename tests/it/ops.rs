//! The operations console: `limits` and `limits set`, tiers without a limit
//! of their own (`check tiers`, notes in `user` and `report`), `reset-user
//! --to`, `user --email`, `report near-limit` on every meter and tier, and
//! edited limits kept across `rollback` + `apply` — on the Supabase-shaped
//! cluster as the non-superuser `postgres`, through PgBouncer in
//! transaction mode where it matters.

use serde_json::Value;
use sqlx::PgConnection;

use crate::common::{
    add_user, assert_exit, assert_refused, assert_refused_with, assert_success, installed_db, json,
    quota_with_url, stderr, stdout, FREE_USER, PRO_USER,
};
use crate::pooler::{self, Mode};
use crate::supabase;

const LIMITED_USER: &str = "33333333-3333-4333-8333-333333333333";
const NEARLY_USER: &str = "44444444-4444-4444-8444-444444444444";

async fn clip_limits(c: &mut PgConnection) -> Vec<(String, i32)> {
    sqlx::query_as("SELECT tier, monthly_limit FROM public.clip_limits ORDER BY tier")
        .fetch_all(c)
        .await
        .unwrap()
}

async fn scrape_limits(c: &mut PgConnection) -> Vec<(String, Option<i32>)> {
    sqlx::query_as("SELECT id::text, plan_limits_scrapes FROM public.users ORDER BY id")
        .fetch_all(c)
        .await
        .unwrap()
}

fn row<'a>(list: &'a Value, meter: &str, tier: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["meter"] == meter && r["tier"] == tier)
        .unwrap_or_else(|| panic!("no {meter}/{tier} in {list}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_lists_and_sets_per_meter_and_tier_through_the_transaction_pooler() {
    let db = supabase::supabase_installed_db().await;
    db.exec_admin(&format!(
        "UPDATE public.users SET subscription_tier = 'Pro' WHERE id = '{NEARLY_USER}'"
    ))
    .await;
    let url = pooler::through(&db.url, Mode::Transaction);
    let quota = |args: &[&str]| quota_with_url(&url, args);

    let out = quota(&["limits", "--format", "json"]);
    assert_success(&out);
    let list = json(&out);
    for r in list.as_array().unwrap() {
        for key in ["meter", "tier", "limit", "subjects"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    let pro = row(&list, "clips", "pro");
    assert_eq!(
        (pro["limit"].as_i64(), pro["subjects"].as_i64()),
        (Some(1000), Some(1))
    );
    assert_eq!(row(&list, "clips", "free")["subjects"], 2);
    let typo = row(&list, "clips", "Pro");
    assert_eq!(typo["own_limit"], false);
    assert_eq!(typo["limit"], 50, "the free limit applies");
    assert!(
        typo["note"]
            .as_str()
            .unwrap()
            .contains("did you mean 'pro'"),
        "{typo}"
    );
    // scrapes: the limit is a column of each user row; listed per tier and limit.
    let free = row(&list, "scrapes", "free");
    assert_eq!(
        (free["limit"].as_i64(), free["subjects"].as_i64()),
        (Some(5), Some(2))
    );
    let table = quota(&["limits"]);
    assert_success(&table);
    assert!(stdout(&table).contains("without a limit of their own"));
    let only = json(&quota(&[
        "limits", "--meter", "scrapes", "--format", "json",
    ]));
    assert!(only
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["meter"] == "scrapes"));

    let mut c = db.connect().await;
    let before = (clip_limits(&mut c).await, scrape_limits(&mut c).await);
    // No terminal and no --yes: refused, nothing changed.
    assert_refused_with(&quota(&["limits", "set", "pro", "2000"]), 2, "--yes");
    // Bad input: exit 2, nothing changed.
    for bad in [
        vec!["limits", "set", "pro", "-5", "--yes"],
        vec!["limits", "set", "pro", "many", "--yes"],
        vec!["limits", "set", "", "5", "--yes"],
        vec!["limits", "set", "pro", "5", "--meter", "bogus", "--yes"],
        vec!["limits", "set", "pro", "99999999999", "--yes"],
    ] {
        assert_refused(&quota(&bad), 2);
    }
    // An unknown scrape tier: nothing to set (the limit lives on user rows).
    assert_refused_with(
        &quota(&[
            "limits", "set", "nobody", "7", "--meter", "scrapes", "--yes",
        ]),
        4,
        "no user is on tier 'nobody'",
    );
    assert_eq!(
        (clip_limits(&mut c).await, scrape_limits(&mut c).await),
        before
    );

    let out = quota(&["limits", "set", "pro", "2000", "--yes", "--format", "json"]);
    assert_success(&out);
    let set = json(&out);
    assert_eq!(set["before"], serde_json::json!([1000]));
    assert_eq!(
        (set["after"].as_i64(), set["created"].as_bool()),
        (Some(2000), Some(false))
    );
    let table = quota(&["limits", "set", "pro", "2000", "--yes"]);
    assert!(
        stdout(&table).contains("nothing to change"),
        "{}",
        stdout(&table)
    );
    // A new tier's limit is a legitimate use with --create: created, and said so.
    let out = quota(&[
        "limits",
        "set",
        "enterprise",
        "10000",
        "--create",
        "--yes",
        "--format",
        "json",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["created"], true);
    assert!(
        stderr(&out).contains("no user is on yet"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        clip_limits(&mut c).await,
        vec![
            ("enterprise".to_string(), 10000),
            ("free".to_string(), 50),
            ("pro".to_string(), 2000)
        ]
    );
    // The trigger and `user` read the new limit.
    let user = json(&quota(&["user", PRO_USER, "--format", "json"]));
    assert_eq!(user["clip_limit"], 2000);

    let out = quota(&[
        "limits", "set", "free", "7", "--meter", "scrapes", "--yes", "--format", "json",
    ]);
    assert_success(&out);
    let set = json(&out);
    assert_eq!(
        (set["subjects"].as_i64(), set["changed"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(set["before"], serde_json::json!([5]));
    let limits: Vec<Option<i32>> = sqlx::query_scalar(
        "SELECT plan_limits_scrapes FROM public.users WHERE subscription_tier = 'free'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(limits, vec![Some(7), Some(7)]);
    let pro: i32 = sqlx::query_scalar(&format!(
        "SELECT plan_limits_scrapes FROM public.users WHERE id = '{PRO_USER}'"
    ))
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(pro, 1000, "other tiers untouched");
}

fn check<'a>(verdict: &'a Value, name: &str) -> &'a Value {
    verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tier_typo_is_a_warning_in_verify_and_a_note_in_user_and_report() {
    let db = installed_db().await;
    let verdict = json(&db.quota(&["verify", "--format", "json"]));
    assert_eq!(check(&verdict, "tiers")["status"], "pass");
    db.exec(&format!(
        "UPDATE public.users SET subscription_tier = 'Pro' WHERE id = '{PRO_USER}'"
    ))
    .await;

    let out = db.quota(&["verify", "--format", "json"]);
    assert_success(&out);
    let verdict = json(&out);
    let tiers = check(&verdict, "tiers");
    assert_eq!(tiers["status"], "warn");
    let detail = tiers["detail"].as_str().unwrap();
    assert!(
        detail.contains("tier 'Pro' (1 user)") && detail.contains("did you mean 'pro'"),
        "{detail}"
    );
    assert!(tiers["hint"].as_str().unwrap().contains("quota limits set"));
    assert_success(&db.quota(&["check", "tiers"]));

    let user = json(&db.quota(&["user", PRO_USER, "--format", "json"]));
    assert_eq!(user["clip_limit"], 50, "the typo gets the free limit");
    let notes = user["notes"].to_string();
    assert!(
        notes.contains("'Pro' has no clip limit of its own"),
        "{notes}"
    );
    let table = stdout(&db.quota(&["user", PRO_USER]));
    assert!(table.contains("note: tier 'Pro'"), "{table}");
    let fine = json(&db.quota(&["user", FREE_USER, "--format", "json"]));
    assert_eq!(fine["notes"], serde_json::json!([]));

    for report in ["summary", "at-limit", "near-limit"] {
        let r = json(&db.quota(&["report", report, "--format", "json"]));
        assert!(
            r["notes"].to_string().contains("tier 'Pro' (1 user)"),
            "{report}: {r}"
        );
    }
    assert!(stdout(&db.quota(&["report"])).contains("note: tier 'Pro'"));

    // Giving the tier a limit of its own ends the warning: users are on it,
    // so no --create is needed, and a note says what it fixed.
    let out = db.quota(&["limits", "set", "Pro", "1000", "--yes"]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("which 1 user(s) are on without a row of their own"),
        "{}",
        stderr(&out)
    );
    let verdict = json(&db.quota(&["verify", "--format", "json"]));
    assert_eq!(check(&verdict, "tiers")["status"], "pass");
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_user_to_n_grants_and_takes_back() {
    let db = installed_db().await;
    let out = db.quota(&[
        "reset-user",
        LIMITED_USER,
        "--scrapes",
        "--to",
        "3",
        "--yes",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(
        (
            r["before"]["usage_this_month"].as_i64(),
            r["after"]["usage_this_month"].as_i64()
        ),
        (Some(5), Some(3))
    );
    assert_eq!(
        r["after"]["clips_this_month"], 50,
        "--scrapes leaves clips alone"
    );
    assert_eq!(r["to"], 3);
    // Granted: the function admits again, up to the limit.
    let call = json(&db.quota(&["call", LIMITED_USER, "--commit", "--format", "json"]));
    assert_eq!(
        (call["allowed"].as_bool(), call["new_usage"].as_i64()),
        (Some(true), Some(4))
    );
    // Taken back: above the limit, nothing admitted.
    assert_success(&db.quota(&["reset-user", LIMITED_USER, "--to", "9", "--yes"]));
    let call = json(&db.quota(&["call", LIMITED_USER, "--format", "json"]));
    assert_eq!(call["allowed"], false);
    let user = json(&db.quota(&["user", LIMITED_USER, "--format", "json"]));
    assert_eq!(
        (
            user["usage_this_month"].as_i64(),
            user["clips_this_month"].as_i64()
        ),
        (Some(9), Some(9))
    );

    // A user without a user_usage row gets one.
    let mut c = db.connect().await;
    let fresh = add_user(&mut c, 0, Some(5), "free").await.to_string();
    let out = db.quota(&[
        "reset-user",
        &fresh,
        "--clips",
        "--to",
        "12",
        "--yes",
        "--format",
        "json",
    ]);
    assert_success(&out);
    assert_eq!(json(&out)["after"]["clips_this_month"], 12);

    let before = crate::common::snapshot(&mut c).await;
    assert_refused(
        &db.quota(&["reset-user", LIMITED_USER, "--to", "-1", "--yes"]),
        2,
    );
    assert_refused(
        &db.quota(&["reset-user", LIMITED_USER, "--to", "x", "--yes"]),
        2,
    );
    assert_refused_with(
        &db.quota(&["reset-user", LIMITED_USER, "--to", "1"]),
        2,
        "--yes",
    );
    assert_eq!(crate::common::snapshot(&mut c).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_by_email_shows_the_same_view_and_never_prints_an_address() {
    let db = supabase::supabase_installed_db().await;
    let url = pooler::through(&db.url, Mode::Transaction);
    let quota = |args: &[&str]| quota_with_url(&url, args);
    let by_id = json(&quota(&["user", LIMITED_USER, "--format", "json"]));
    for address in ["limited@example.com", " Limited@Example.COM "] {
        let out = quota(&["user", "--email", address, "--format", "json"]);
        assert_success(&out);
        assert_eq!(json(&out), by_id, "{address}");
        assert!(!stdout(&out).contains('@') && !stderr(&out).contains('@'));
    }
    let table = quota(&["user", "--email", "limited@example.com"]);
    assert!(stdout(&table).contains(LIMITED_USER) && !stdout(&table).contains('@'));

    let out = quota(&["user", "--email", "nobody@example.com"]);
    assert_refused_with(&out, 4, "no user in public.users has that e-mail address");
    assert!(
        !stderr(&out).contains("nobody"),
        "the address is not repeated"
    );
    let out = quota(&["user", "--email", "nobody@example.com", "--format", "json"]);
    assert_exit(&out, 4);
    assert!(!stdout(&out).contains("nobody"));
    // Two users whose addresses differ only in case: exact wins, else ambiguous.
    db.exec_admin(&format!(
        "UPDATE public.users SET email = 'dup@example.com' WHERE id = '{FREE_USER}';
         UPDATE public.users SET email = 'DUP@example.com' WHERE id = '{PRO_USER}'"
    ))
    .await;
    let exact = json(&quota(&[
        "user",
        "--email",
        "DUP@example.com",
        "--format",
        "json",
    ]));
    assert_eq!(exact["user_id"], PRO_USER);
    let out = quota(&["user", "--email", "Dup@example.com"]);
    assert_refused_with(&out, 4, "several users");
    assert!(!stderr(&out).to_lowercase().contains("dup@"));
    // Malformed, or both an id and an address: usage errors.
    assert_refused(&quota(&["user", "--email", "not-an-address"]), 2);
    assert_refused(
        &quota(&["user", LIMITED_USER, "--email", "limited@example.com"]),
        2,
    );
    assert_refused(&quota(&["user"]), 2);
}

fn users_of<'a>(report: &'a Value, meter: &str) -> Vec<&'a str> {
    report["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["meter"] == meter)
        .unwrap_or_else(|| panic!("no {meter} in {report}"))["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn near_limit_covers_every_meter_and_every_tier() {
    let db = installed_db().await;
    db.exec(&format!(
        "UPDATE public.users SET usage_this_month = 850 WHERE id = '{PRO_USER}';
         UPDATE public.user_usage SET clips_this_month = 900 WHERE user_id = '{PRO_USER}'"
    ))
    .await;
    let out = db.quota(&[
        "report",
        "near-limit",
        "--threshold",
        "0.8",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let r = json(&out);
    let meters: Vec<&str> = r["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["meter"].as_str().unwrap())
        .collect();
    assert_eq!(meters, vec!["scrapes", "clips"], "one entry per meter");
    // 4 of 5 scrapes (80%), and a pro user at 85% of scrapes, 90% of clips.
    let mut scrapes = users_of(&r, "scrapes");
    scrapes.sort_unstable();
    assert_eq!(scrapes, vec![PRO_USER, NEARLY_USER]);
    let mut clips = users_of(&r, "clips");
    clips.sort_unstable();
    assert_eq!(clips, vec![PRO_USER, NEARLY_USER]);
    assert_eq!(r["threshold"], 0.8);
    let at90 = json(&db.quota(&["report", "near-limit", "--format", "json"]));
    assert_eq!(
        users_of(&at90, "scrapes"),
        Vec::<&str>::new(),
        "0.9 by default: 85% and 80% are not near"
    );
    assert_eq!(
        users_of(&at90, "clips"),
        vec![PRO_USER, NEARLY_USER],
        "90% and 92%"
    );
    let table = stdout(&db.quota(&["report", "near-limit", "--threshold", "0.8"]));
    assert!(
        table.contains("scrapes: 2 users") && table.contains("clips: 2 users"),
        "{table}"
    );

    let summary = json(&db.quota(&[
        "report",
        "summary",
        "--threshold",
        "0.8",
        "--format",
        "json",
    ]));
    assert_eq!(summary["users"], 4);
    let scrapes = &summary["meters"][0];
    assert_eq!(
        (scrapes["meter"].as_str(), scrapes["near_limit"].as_i64()),
        (Some("scrapes"), Some(2))
    );
    assert_eq!(scrapes["at_limit"], 1);
    let clips = &summary["meters"][1];
    assert_eq!(
        (
            clips["meter"].as_str(),
            clips["near_limit"].as_i64(),
            clips["at_limit"].as_i64()
        ),
        (Some("clips"), Some(2), Some(1))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edited_limits_survive_rollback_and_apply() {
    let db = supabase::supabase_installed_db().await;
    let mut c = db.connect_admin().await;
    // Nothing edited: a rollback keeps nothing.
    let out = db.quota(&["migrate", "rollback", "--target", "2", "--yes"]);
    assert_success(&out);
    assert!(
        !stderr(&out).contains("saved_clip_limits"),
        "{}",
        stderr(&out)
    );
    let saved: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('quota.saved_clip_limits')::text")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(saved, None);
    assert_success(&db.quota(&["migrate", "apply"]));

    assert_success(&db.quota(&["limits", "set", "pro", "2000", "--yes"]));
    assert_success(&db.quota(&["limits", "set", "enterprise", "10000", "--create", "--yes"]));
    db.exec_admin("DELETE FROM public.clip_limits WHERE tier = 'free'; INSERT INTO public.clip_limits VALUES ('free', 20)").await;
    let edited = clip_limits(&mut c).await;

    let dry = db.quota(&["migrate", "rollback", "--target", "0", "--dry-run"]);
    assert!(
        stdout(&dry).contains("quota.saved_clip_limits"),
        "{}",
        stdout(&dry)
    );
    let out = db.quota(&["migrate", "rollback", "--target", "0", "--yes"]);
    assert_success(&out);
    let err = stderr(&out);
    assert!(
        err.contains("kept the clip limits edited since install in quota.saved_clip_limits"),
        "{err}"
    );
    assert!(err.contains("enterprise=10000"), "{err}");
    // No API role can reach the copy.
    let reachable: bool = sqlx::query_scalar(
        "SELECT has_schema_privilege('anon', 'quota', 'USAGE') OR has_table_privilege('anon', 'quota.saved_clip_limits', 'SELECT')",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert!(!reachable);

    let dry = db.quota(&["migrate", "apply", "--dry-run"]);
    assert_success(&dry);
    let said = stderr(&dry);
    assert!(
        said.contains("applying V3 restores the clip limits"),
        "{said}"
    );
    let out = db.quota(&["migrate", "apply"]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("restored the clip limits"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        clip_limits(&mut c).await,
        edited,
        "exactly as the rollback found them"
    );
    let saved: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('quota.saved_clip_limits')::text")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(saved, None, "the copy is gone once restored");
    assert_success(&db.quota(&["verify"]));
}

/// `limits set` on a terminal (a pseudo-terminal from util-linux `script`):
/// it asks, naming before and after; "n" changes nothing, "y" sets it.
#[tokio::test(flavor = "multi_thread")]
async fn limits_set_asks_on_a_terminal() {
    let db = installed_db().await;
    let on_a_terminal = |answer: &str| {
        let command = format!("{} limits set pro 1500", env!("CARGO_BIN_EXE_quota"));
        let mut child = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("DATABASE_URL", &db.url)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("util-linux script");
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(answer.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        out
    };
    let out = on_a_terminal("n\n");
    let shown = stdout(&out);
    assert!(
        shown.contains("Set the clips limit of tier 'pro' to 1500 (now 1000; 1 user(s) on it)"),
        "{shown}"
    );
    assert!(shown.contains("cancelled"), "{shown}");
    assert_eq!(out.status.code(), Some(2), "{shown}");
    let mut c = db.connect().await;
    assert!(clip_limits(&mut c)
        .await
        .contains(&("pro".to_string(), 1000)));
    let out = on_a_terminal("y\n");
    assert_success(&out);
    assert!(clip_limits(&mut c)
        .await
        .contains(&("pro".to_string(), 1500)));
}
