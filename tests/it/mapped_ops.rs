//! `user`, `users`, `reset-user --meter`, `report`, `limits` and `metrics`
//! on mapped meters, through PgBouncer in transaction mode as `postgres` on
//! the Supabase-shaped cluster: (a) lifetime credits with a limit column,
//! (b) a daily account meter beside (a), (c) a trigger meter with tier
//! limits. Each command's table and JSON against what the test set up.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{assert_exit, assert_refused_with, assert_success, json, stderr, stdout};
use crate::mapped::{Mapped, ACME, DOCUMENTS, FREE, LIMITED, NEARLY, PRO, PROFILES, TEAMS, TINY};

/// promtool's verdict on OpenMetrics text.
fn promtool_accepts(text: &str) {
    let mut child = Command::new(crate::common::prereq::PROMTOOL.path())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool: install Debian's prometheus package");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ok_json(m: &Mapped, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = m.quota(&all);
    assert_success(&out);
    json(&out)
}

fn ok_table(m: &Mapped, args: &[&str]) -> String {
    let out = m.quota(args);
    assert_success(&out);
    stdout(&out)
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credits_user_users_reset_report_limits_metrics() {
    let m = Mapped::new(&[PROFILES], "profiles.toml").await;
    m.install();
    let used = |id: &str| format!("SELECT credits_used FROM public.profiles WHERE id = '{id}'");

    // user: usage, limit, lifetime period, at-limit; by id only.
    let v = ok_json(&m, &["user", LIMITED]);
    let c = &v["meters"][0];
    assert_eq!(
        (c["meter"].as_str(), c["standing"].as_str()),
        (Some("credits"), Some("subject")),
        "{v}"
    );
    assert_eq!(
        (
            c["used"].as_i64(),
            c["limit"].as_i64(),
            c["at_limit"].as_bool(),
            c["period"].as_str()
        ),
        (Some(100), Some(100), Some(true), Some("none"))
    );
    let t = ok_table(&m, &["user", PRO]);
    assert!(
        t.contains("4999999990 / 5000000000") && t.contains("none (lifetime)"),
        "{t}"
    );
    assert!(
        !ok_table(&m, &["user", LIMITED]).contains("Limited"),
        "no display name or other personal data"
    );
    // Unknown subject: exit 4; --email: a usage error saying why.
    assert_refused_with(
        &m.quota(&["user", "99999999-9999-4999-8999-999999999999"]),
        4,
        "public.profiles",
    );
    assert_refused_with(
        &m.quota(&["user", "--email", "free@example.com"]),
        2,
        "--email",
    );

    // users: every profile; --under-limit leaves out LIMITED (100 of 100).
    let v = ok_json(&m, &["users", "--limit", "100"]);
    assert_eq!(
        ids(&v["subjects"]),
        [FREE, PRO, LIMITED, NEARLY].map(String::from).to_vec()
    );
    let v = ok_json(&m, &["users", "--under-limit", "--meter", "credits"]);
    assert!(!ids(&v["subjects"]).contains(&LIMITED.to_string()), "{v}");
    assert_refused_with(&m.quota(&["users", "--meter", "nope"]), 2, "credits");

    // report: LIMITED at the limit; PRO at 99.99% is near it; NEARLY at 30 of 40 near at 0.5.
    m.db.exec(&format!(
        "UPDATE public.profiles SET credits_used = 30 WHERE id = '{NEARLY}'"
    ))
    .await;
    let v = ok_json(&m, &["report", "at-limit"]);
    assert_eq!(
        (v["report"].as_str(), v["meters"][0]["meter"].as_str()),
        (Some("at-limit"), Some("credits"))
    );
    assert_eq!(ids(&v["meters"][0]["subjects"]), vec![LIMITED.to_string()]);
    let v = ok_json(&m, &["report", "near-limit", "--threshold", "0.5"]);
    assert_eq!(
        ids(&v["meters"][0]["subjects"]),
        vec![PRO.to_string(), NEARLY.to_string()]
    );
    let v = ok_json(&m, &["report"]);
    let s = &v["meters"][0];
    assert_eq!(
        (
            s["subjects"].as_i64(),
            s["at_limit"].as_i64(),
            s["near_limit"].as_i64(),
            s["usage"].as_i64()
        ),
        (Some(4), Some(1), Some(1), Some(4_999_999_990 + 100 + 30)),
        "{v}"
    );
    assert_eq!(
        s["limit_source"].as_str(),
        Some("column public.profiles.credits_limit")
    );
    assert!(ok_table(&m, &["report", "at-limit"]).contains(LIMITED));

    // limits: one row saying the limit is per subject; limits set refuses, changes nothing.
    let v = ok_json(&m, &["limits"]);
    assert_eq!(
        (
            v["rows"][0]["meter"].as_str(),
            v["rows"][0]["subjects"].as_i64()
        ),
        (Some("credits"), Some(4)),
        "{v}"
    );
    let out = m.quota(&["limits", "set", "free", "5", "--meter", "credits", "--yes"]);
    assert_refused_with(
        &out,
        4,
        "its limit is per subject, column credits_limit of public.profiles",
    );
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT credits_limit FROM public.profiles WHERE id = '{LIMITED}'"
        ))
        .await,
        100
    );

    // reset-user: refused without a terminal and --yes; unknown subject exit 4; nothing changed.
    assert_refused_with(
        &m.quota(&["reset-user", LIMITED, "--meter", "credits"]),
        2,
        "--yes",
    );
    assert_refused_with(
        &m.quota(&[
            "reset-user",
            "99999999-9999-4999-8999-999999999999",
            "--meter",
            "credits",
            "--yes",
        ]),
        4,
        "no subject",
    );
    assert_refused_with(
        &m.quota(&["reset-user", LIMITED, "--meter", "nope", "--yes"]),
        2,
        "no meter nope",
    );
    assert_refused_with(
        &m.quota(&["reset-user", LIMITED, "--scrapes", "--yes"]),
        2,
        "--meter",
    );
    assert_eq!(m.scalar_i64(&used(LIMITED)).await, 100);
    let v = ok_json(&m, &["reset-user", LIMITED, "--meter", "credits", "--yes"]);
    let r = &v["meters"][0];
    assert_eq!(
        (
            r["before"]["used"].as_i64(),
            r["after"]["used"].as_i64(),
            v["changed"].as_bool()
        ),
        (Some(100), Some(0), Some(true)),
        "{v}"
    );
    assert_eq!(r["counter"].as_str(), Some("public.profiles.credits_used"));
    assert_eq!(m.scalar_i64(&used(LIMITED)).await, 0);
    let t = ok_table(&m, &["reset-user", LIMITED, "--to", "7", "--yes"]);
    assert!(t.contains("set to 7") && t.contains(LIMITED), "{t}");
    assert_eq!(m.scalar_i64(&used(LIMITED)).await, 7);

    // metrics: OpenMetrics promtool accepts, a meter label, no subject.
    let text = ok_table(&m, &["metrics", "--verify"]);
    promtool_accepts(&text);
    assert!(text.trim_end().ends_with("# EOF"));
    assert!(
        text.contains("quota_subjects{meter=\"credits\",tier=\"\"} 4\n"),
        "{text}"
    );
    assert!(
        text.contains("quota_at_limit{meter=\"credits\",tier=\"\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("quota_limit{meter=\"credits\",tier=\"\"} 10000000000\n"),
        "{text}"
    );
    assert!(text.contains("quota_verify_ok 1\n"), "{text}");

    // A drifted meter is read as installed (lifetime), with a note saying so.
    m.edit_config("period = \"none\"", "period = \"month\"");
    let v = ok_json(&m, &["user", LIMITED]);
    assert_eq!(
        (
            v["meters"][0]["period"].as_str(),
            v["meters"][0]["used"].as_i64()
        ),
        (Some("none"), Some(7)),
        "{v}"
    );
    assert!(
        v["notes"][0]
            .as_str()
            .unwrap()
            .contains("installed from another mapping"),
        "{v}"
    );
    for id in [FREE, PRO, LIMITED, NEARLY] {
        assert!(
            !text.contains(&id[..8]),
            "no subject in the metrics: {text}"
        );
    }
}

/// (a) and (b) in one file: a user is a subject of credits, not of the
/// account meter api_calls, and an account the other way round.
const BOTH: &str = r#"
[subject]
table = "public.profiles"
key = "id"
tier = "tier"

[meters.credits]
kind = "rpc"
function = "public.spend_credits"
counter = "credits_used"
limit = "credits_limit"
period = "none"

[meters.api_calls]
kind = "rpc"
function = "public.use_api_call"
counter = "public.api_usage.calls"
counter_key = "account_id"
limits = { free = 20, team = 200 }
default_tier = "free"
period = "day"
subject = { table = "public.accounts", key = "id", tier = "plan", members = { table = "public.account_members", subject = "account_id", user = "user_id" } }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn b_accounts_beside_profiles_per_tier_and_per_day() {
    let m = Mapped::new(&[PROFILES, TEAMS], "teams.toml").await;
    std::fs::write(&m.config, BOTH).unwrap();
    m.install();
    let calls = |id: &str| {
        format!("SELECT coalesce((SELECT calls FROM public.api_usage WHERE account_id = '{id}'), -1)::int8")
    };

    // A user is a subject of credits and not of the account meter; an account the other way round.
    let v = ok_json(&m, &["user", FREE]);
    let standing: Vec<_> = v["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["meter"].as_str().unwrap().to_string(),
                x["standing"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        standing.contains(&("credits".into(), "subject".into()))
            && standing.contains(&("api_calls".into(), "not-a-subject".into())),
        "{v}"
    );
    let t = ok_table(&m, &["user", ACME]);
    assert!(
        t.contains("not a subject of this meter")
            && t.contains("0 / 200")
            && t.contains("day from"),
        "{t}"
    );

    // ACME spends all 200 of its team tier; TINY has 19 left over from yesterday (counts as 0).
    assert_success(&m.quota(&[
        "call",
        "--meter",
        "api_calls",
        ACME,
        "--amount",
        "200",
        "--commit",
    ]));
    m.db.exec(&format!("INSERT INTO public.api_usage (account_id, calls, quota_api_calls_period) VALUES ('{TINY}', 19, current_date - 1)")).await;
    let v = ok_json(&m, &["user", TINY]);
    let a = v["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["meter"] == "api_calls")
        .unwrap()
        .clone();
    assert_eq!(
        (a["used"].as_i64(), a["limit"].as_i64(), a["tier"].as_str()),
        (Some(0), Some(20), Some("free")),
        "{v}"
    );

    // users --meter api_calls: both accounts with usage and limit.
    let v = ok_json(&m, &["users", "--meter", "api_calls"]);
    assert_eq!(
        ids(&v["subjects"]),
        vec![ACME.to_string(), TINY.to_string()]
    );
    assert_eq!(v["subjects"][0]["used"].as_i64(), Some(200));
    let v = ok_json(&m, &["users", "--meter", "api_calls", "--under-limit"]);
    assert_eq!(ids(&v["subjects"]), vec![TINY.to_string()]);

    // report per meter and tier: ACME at its team limit.
    let v = ok_json(&m, &["report", "summary"]);
    let api = v["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["meter"] == "api_calls")
        .unwrap()
        .clone();
    assert_eq!(
        (
            api["subjects"].as_i64(),
            api["at_limit"].as_i64(),
            api["usage"].as_i64(),
            api["limit_source"].as_str()
        ),
        (Some(2), Some(1), Some(200), Some("tiers")),
        "{v}"
    );
    let team = api["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["tier"] == "team")
        .unwrap()
        .clone();
    assert_eq!(
        (
            team["limit"].as_i64(),
            team["subjects"].as_i64(),
            team["at_limit"].as_i64()
        ),
        (Some(200), Some(1), Some(1))
    );
    let v = ok_json(&m, &["report", "at-limit"]);
    let api = v["meters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["meter"] == "api_calls")
        .unwrap()
        .clone();
    assert_eq!(ids(&api["subjects"]), vec![ACME.to_string()]);
    let t = ok_table(&m, &["report"]);
    assert!(
        t.contains("api_calls") && t.contains("team") && t.contains("credits"),
        "{t}"
    );

    // limits: the file's tiers with their subjects; limits set says the file is the truth.
    let v = ok_json(&m, &["limits", "--meter", "api_calls"]);
    let rows: Vec<_> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tier"].as_str().unwrap().to_string(),
                r["limit"].as_i64().unwrap(),
                r["subjects"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![("free".to_string(), 20, 1), ("team".to_string(), 200, 1)]
    );
    let out = m.quota(&[
        "limits",
        "set",
        "team",
        "300",
        "--meter",
        "api_calls",
        "--yes",
    ]);
    assert_refused_with(
        &out,
        4,
        "edit the file (e.g. team = 300) and run `quota migrate apply --repair`",
    );
    assert_eq!(
        m.scalar_i64(
            "SELECT \"limit\" FROM quota.meter_limits WHERE meter = 'api_calls' AND tier = 'team'"
        )
        .await,
        200
    );
    assert_refused_with(
        &m.quota(&["limits", "set", "team", "300", "--yes"]),
        2,
        "--meter",
    );

    // reset-user on an account without --meter: the meters it is a subject of (api_calls only).
    let v = ok_json(&m, &["reset-user", TINY, "--to", "5", "--yes"]);
    assert_eq!(v["meters"].as_array().unwrap().len(), 1, "{v}");
    let r = &v["meters"][0];
    assert_eq!(
        (
            r["meter"].as_str(),
            r["before"]["used"].as_i64(),
            r["before"]["stored"].as_i64(),
            r["after"]["used"].as_i64()
        ),
        (Some("api_calls"), Some(0), Some(19), Some(5)),
        "{v}"
    );
    assert_eq!(m.scalar_i64(&calls(TINY)).await, 5);
    assert_eq!(m.scalar_i64(&format!("SELECT (quota_api_calls_period = (now() AT TIME ZONE 'UTC')::date)::int::int8 FROM public.api_usage WHERE account_id = '{TINY}'")).await, 1);
    // An account on the profile meter: not a subject there, exit 4, nothing changed.
    assert_refused_with(
        &m.quota(&["reset-user", ACME, "--meter", "credits", "--yes"]),
        4,
        "public.profiles",
    );
    assert_eq!(m.scalar_i64(&calls(ACME)).await, 200);
    // Two meters, one of which the subject is not on: refused whole, nothing changed.
    let credits = format!("SELECT credits_used FROM public.profiles WHERE id = '{PRO}'");
    let was = m.scalar_i64(&credits).await;
    assert_refused_with(
        &m.quota(&[
            "reset-user",
            PRO,
            "--meter",
            "credits",
            "--meter",
            "api_calls",
            "--yes",
        ]),
        4,
        "public.accounts",
    );
    assert_eq!(m.scalar_i64(&credits).await, was);
    // The same before and after: nothing to change.
    let t = ok_table(
        &m,
        &[
            "reset-user",
            TINY,
            "--meter",
            "api_calls",
            "--to",
            "5",
            "--yes",
        ],
    );
    assert!(t.contains("nothing to change"), "{t}");

    // metrics per meter and tier.
    let text = ok_table(&m, &["metrics"]);
    promtool_accepts(&text);
    assert!(
        text.contains("quota_at_limit{meter=\"api_calls\",tier=\"team\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("quota_limit{meter=\"api_calls\",tier=\"free\"} 20\n"),
        "{text}"
    );
    assert!(
        text.contains("quota_subjects{meter=\"credits\",tier=\"\"} 4\n"),
        "{text}"
    );
    let _ = stderr;
    let _ = assert_exit;
}

#[tokio::test(flavor = "multi_thread")]
async fn c_pages_trigger_meter_per_tier() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    // Before apply: the meter is pending; reading commands say so.
    let out = m.quota(&["users"]);
    assert_refused_with(&out, 4, "not installed");
    assert_refused_with(
        &m.quota(&["user", NEARLY]),
        4,
        "no meter of quota.toml is installed",
    );
    let t = ok_table(&m, &["report"]);
    assert!(
        t.contains("note: meter pages is not installed: `quota migrate apply` installs it"),
        "{t}"
    );
    m.install();
    let pages = |id: &str| {
        format!("SELECT coalesce((SELECT pages_this_month FROM public.page_usage WHERE owner_id = '{id}'), -1)")
    };
    let insert = |owner: &str, pages: i32| {
        format!("INSERT INTO public.documents (owner_id, title, pages) VALUES ('{owner}', 'doc', {pages})")
    };
    m.db.exec(&insert(LIMITED, 100)).await;
    m.db.exec(&insert(NEARLY, 95)).await;
    m.db.exec(&insert(PRO, 10)).await;
    m.db.exec(&format!(
        "UPDATE public.profiles SET tier = 'gold' WHERE id = '{FREE}'"
    ))
    .await;

    let v = ok_json(&m, &["report", "summary"]);
    let s = &v["meters"][0];
    assert_eq!(
        (
            s["meter"].as_str(),
            s["subjects"].as_i64(),
            s["at_limit"].as_i64(),
            s["near_limit"].as_i64(),
            s["usage"].as_i64()
        ),
        (Some("pages"), Some(4), Some(1), Some(1), Some(205)),
        "{v}"
    );
    let free = s["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["tier"] == "free")
        .unwrap()
        .clone();
    assert_eq!(
        (
            free["subjects"].as_i64(),
            free["at_limit"].as_i64(),
            free["near_limit"].as_i64(),
            free["limit"].as_i64()
        ),
        (Some(2), Some(1), Some(1), Some(100))
    );
    let gold = s["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["tier"] == "gold")
        .unwrap()
        .clone();
    assert_eq!(
        (gold["own_limit"].as_bool(), gold["limit"].as_i64()),
        (Some(false), Some(100)),
        "the default tier's limit"
    );
    assert!(v["notes"].to_string().contains("gold"), "{v}");
    assert_eq!(
        ids(&ok_json(&m, &["report", "at-limit"])["meters"][0]["subjects"]),
        vec![LIMITED.to_string()]
    );
    assert_eq!(
        ids(&ok_json(&m, &["report", "near-limit"])["meters"][0]["subjects"]),
        vec![NEARLY.to_string()]
    );
    let t = ok_table(&m, &["report", "near-limit"]);
    assert!(
        t.contains("pages: 1 subject(s) of public.profiles at 90% or more"),
        "{t}"
    );

    let v = ok_json(&m, &["user", NEARLY]);
    let p = &v["meters"][0];
    assert_eq!(
        (
            p["used"].as_i64(),
            p["limit"].as_i64(),
            p["at_limit"].as_bool(),
            p["period"].as_str()
        ),
        (Some(95), Some(100), Some(false), Some("month")),
        "{v}"
    );
    let t = ok_table(&m, &["limits"]);
    assert!(
        t.contains("gold") && t.contains("no limit of its own"),
        "{t}"
    );
    assert_refused_with(
        &m.quota(&["limits", "set", "gold", "300", "--yes"]),
        4,
        "the source of truth",
    );

    // reset-user: LIMITED back to 0; FREE (no counter row yet) set to 3 makes its row.
    let v = ok_json(&m, &["reset-user", LIMITED, "--meter", "pages", "--yes"]);
    assert_eq!(
        (
            v["meters"][0]["before"]["used"].as_i64(),
            v["meters"][0]["after"]["used"].as_i64()
        ),
        (Some(100), Some(0))
    );
    assert_eq!(m.scalar_i64(&pages(LIMITED)).await, 0);
    assert_eq!(m.scalar_i64(&pages(FREE)).await, -1);
    let v = ok_json(
        &m,
        &["reset-user", FREE, "--meter", "pages", "--to", "3", "--yes"],
    );
    assert_eq!(
        (
            v["meters"][0]["before"]["used"].as_i64(),
            v["meters"][0]["after"]["used"].as_i64()
        ),
        (Some(0), Some(3)),
        "{v}"
    );
    assert_eq!(m.scalar_i64(&pages(FREE)).await, 3);
    // The trigger sees the reset: LIMITED may insert 100 pages again.
    m.db.exec(&insert(LIMITED, 100)).await;
    assert_eq!(m.scalar_i64(&pages(LIMITED)).await, 100);

    let text = ok_table(&m, &["metrics"]);
    promtool_accepts(&text);
    assert!(
        text.contains("quota_subjects_without_limit{meter=\"pages\",tier=\"gold\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("quota_at_limit{meter=\"pages\",tier=\"free\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("quota_usage{meter=\"pages\",tier=\"pro\"} 10\n"),
        "{text}"
    );
}

/// reset-user takes the counter row's lock first, as the meter's function
/// does: with a charge in flight on a real concurrent connection it waits,
/// then shows that charge in "before" and sets the counter after it.
#[tokio::test(flavor = "multi_thread")]
async fn reset_user_waits_for_a_charge_in_flight() {
    use sqlx::Connection;
    let m = Mapped::new(&[TEAMS], "teams.toml").await;
    m.install();
    assert_success(&m.quota(&["call", ACME, "--amount", "2", "--commit"]));
    let mut held = m.db.connect().await;
    let mut tx = held.begin().await.unwrap();
    sqlx::query(&format!("SELECT * FROM public.use_api_call('{ACME}', 3)"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let (url, config) = (m.url.clone(), m.config.to_str().unwrap().to_string());
    let reset = std::thread::spawn(move || {
        crate::common::quota_with_url(
            &url,
            &[
                "--config",
                &config,
                "--format",
                "json",
                "reset-user",
                ACME,
                "--meter",
                "api_calls",
                "--yes",
            ],
        )
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        !reset.is_finished(),
        "reset-user must wait for the charge in flight"
    );
    tx.commit().await.unwrap();
    let out = reset.join().unwrap();
    assert_success(&out);
    let v = json(&out);
    assert_eq!(
        (
            v["meters"][0]["before"]["used"].as_i64(),
            v["meters"][0]["after"]["used"].as_i64()
        ),
        (Some(5), Some(0)),
        "{v}"
    );
    assert_eq!(
        m.scalar_i64(&format!(
            "SELECT calls::int8 FROM public.api_usage WHERE account_id = '{ACME}'"
        ))
        .await,
        0
    );
    held.close().await.ok();
}

/// Without quota.toml, `reset-user --meter` names the default meters.
#[tokio::test(flavor = "multi_thread")]
async fn default_mapping_reset_user_takes_meter_scrapes_or_clips() {
    let db = crate::common::installed_db().await;
    let user = "33333333-3333-4333-8333-333333333333";
    let out = db.quota(&[
        "--format",
        "json",
        "reset-user",
        user,
        "--meter",
        "scrapes",
        "--to",
        "1",
        "--yes",
    ]);
    assert_success(&out);
    let v = json(&out);
    assert_eq!(v["after"]["usage_this_month"].as_i64(), Some(1), "{v}");
    assert_refused_with(
        &db.quota(&["reset-user", user, "--meter", "pages", "--yes"]),
        2,
        "scrapes and clips",
    );
    assert_refused_with(&db.quota(&["users", "--meter", "pages"]), 2, "--config");
    assert_refused_with(
        &db.quota(&["limits", "--meter", "pages"]),
        2,
        "scrapes and clips",
    );
}

/// `metrics --listen` on a mapping: each scrape reads the meters afresh.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_listen_serves_mapped_meters() {
    let m = Mapped::new(&[PROFILES, DOCUMENTS], "documents.toml").await;
    m.install();
    let config = m.config.to_str().unwrap().to_string();
    let (child, addr, drain) = crate::metrics::listen(&m.url, &["--config", &config]);
    let scrape = |addr: String| async move {
        tokio::task::spawn_blocking(move || crate::metrics::get(&addr, "/metrics"))
            .await
            .unwrap()
    };
    let (code, _, body) = scrape(addr.clone()).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("quota_usage{meter=\"pages\",tier=\"free\"} 0\n"),
        "{body}"
    );
    m.db.exec(&format!(
        "INSERT INTO public.documents (owner_id, title, pages) VALUES ('{NEARLY}', 'doc', 42)"
    ))
    .await;
    let (code, _, body) = scrape(addr.clone()).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("quota_usage{meter=\"pages\",tier=\"free\"} 42\n"),
        "{body}"
    );
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    let out = crate::common::interrupt_async(child).await;
    assert_eq!(out.status.code(), Some(0), "stops cleanly on a signal");
    drain.join().unwrap();
}
