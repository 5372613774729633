//! `quota call`, `user`, `users`, `reset-user` and `report` against a real
//! database: what they show, what they change, and how bad input ends.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::common::*;

const LIMITED_USER: &str = "33333333-3333-4333-8333-333333333333";
const NEARLY_USER: &str = "44444444-4444-4444-8444-444444444444";

async fn counters(c: &mut PgConnection, user: &str) -> (i32, Option<i32>) {
    let id = Uuid::parse_str(user).unwrap();
    sqlx::query_as(
        "SELECT u.usage_this_month, uu.clips_this_month
           FROM public.users u LEFT JOIN public.user_usage uu ON uu.user_id = u.id WHERE u.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *c)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn call_is_rolled_back_unless_committed() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;

    let out = db.quota(&["call", FREE_USER, "--format", "json"]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["allowed"], true);
    assert_eq!(r["new_usage"], 1);
    assert_eq!(r["effective_limit"], 5);
    assert_eq!(r["plan"], "FREE");
    assert_eq!(r["subscription_status"], "none");
    assert_eq!(r["committed"], false);
    assert_eq!(
        snapshot(&mut c).await,
        before,
        "a call without --commit changes nothing"
    );

    let out = db.quota(&["call", FREE_USER, "--commit", "--format", "json"]);
    assert_success(&out);
    assert_eq!(json(&out)["committed"], true);
    assert_eq!(
        counters(&mut c, FREE_USER).await.0,
        1,
        "--commit increments once"
    );

    let table = db.quota(&["call", LIMITED_USER]);
    assert_success(&table);
    assert!(stdout(&table).contains("false") && stdout(&table).contains("rolled back"));
}

#[tokio::test(flavor = "multi_thread")]
async fn call_refuses_unknown_and_malformed_users() {
    let db = installed_db().await;
    let unknown = Uuid::new_v4().to_string();
    let out = db.quota(&["call", &unknown]);
    assert_exit_with(&out, 4, &unknown);
    let out = db.quota(&["call", "not-a-uuid"]);
    assert_exit_with(&out, 2, "is not a UUID");
    // Not installed: a precondition with the way forward.
    let bare = demo_db().await;
    let out = bare.quota(&["call", FREE_USER]);
    assert_exit_with(&out, 4, "quota migrate apply");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_shows_the_debug_view() {
    let db = installed_db().await;
    let out = db.quota(&["user", LIMITED_USER, "--format", "json"]);
    assert_success(&out);
    let u = json(&out);
    assert_eq!(u["usage_this_month"], 5);
    assert_eq!(u["plan_limits_scrapes"], 5);
    assert_eq!(u["limit_reached"], true);
    assert_eq!(u["plan"], "FREE");
    assert_eq!(u["subscription_tier"], "free");
    assert_eq!(u["clips_this_month"], 50);
    assert_eq!(u["clip_limit"], 50);
    assert_eq!(u["clip_limit_reached"], true);
    assert!(u["usage_period_start"].is_string() && u["period"].is_string());

    // A counter from an earlier month counts as 0, as the function sees it.
    db.exec(&format!(
        "UPDATE public.users SET usage_period_start = '2020-01-01' WHERE id = '{LIMITED_USER}'"
    ))
    .await;
    let u = json(&db.quota(&["user", LIMITED_USER, "--format", "json"]));
    assert_eq!(u["usage_this_month"], 0);
    assert_eq!(u["limit_reached"], false);

    let pro = json(&db.quota(&["user", PRO_USER, "--format", "json"]));
    assert_eq!(
        pro["clip_limit"], 1000,
        "the pro limit comes from public.clip_limits"
    );

    let table = db.quota(&["user", PRO_USER]);
    assert_success(&table);
    assert!(stdout(&table).contains("120 / 1000"), "{}", stdout(&table));

    assert_exit(&db.quota(&["user", &Uuid::new_v4().to_string()]), 4);
    assert_exit(&db.quota(&["user", "1234"]), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_lists_test_users() {
    let db = installed_db().await;
    let all = json(&db.quota(&["users", "--format", "json"]));
    assert_eq!(all["users"].as_array().unwrap().len(), 4);
    let under = json(&db.quota(&["users", "--under-limit", "--format", "json"]));
    let ids: Vec<&str> = under["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{under}");
    assert!(
        !ids.contains(&LIMITED_USER),
        "5 of 5 is not under the limit"
    );
    let two = json(&db.quota(&["users", "--limit", "2", "--format", "json"]));
    assert_eq!(two["users"].as_array().unwrap().len(), 2);
    assert_exit(&db.quota(&["users", "--limit", "0"]), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_user_needs_yes_without_a_terminal() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let out = db.quota(&["reset-user", LIMITED_USER]);
    assert_exit_with(&out, 2, "--yes");
    // A statement, not a question inside an error.
    let line = stderr(&out);
    assert!(
        line.contains(&format!(
            "error: refusing to set usage_this_month and clips_this_month of user {LIMITED_USER} to 0 on "
        )) && line.contains("without --yes (stdin is not a terminal); rerun with --yes"),
        "{line}"
    );
    assert!(!line.contains('?'), "{line}");
    assert_eq!(snapshot(&mut c).await, before, "refused: nothing changed");

    let out = db.quota(&["reset-user", LIMITED_USER, "--yes", "--format", "json"]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["user_id"], LIMITED_USER);
    assert_eq!(r["before"]["usage_this_month"], 5);
    assert_eq!(r["before"]["clips_this_month"], 50);
    assert_eq!(r["after"]["usage_this_month"], 0);
    assert_eq!(r["after"]["clips_this_month"], 0);
    assert_eq!(r["changed"], true);
    assert_eq!(counters(&mut c, LIMITED_USER).await, (0, Some(0)));
    // The user can be admitted again.
    let call = json(&db.quota(&["call", LIMITED_USER, "--format", "json"]));
    assert_eq!(call["allowed"], true);

    let again = json(&db.quota(&["reset-user", LIMITED_USER, "--yes", "--format", "json"]));
    assert_eq!(again["changed"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_user_selects_counters_and_renews_the_period() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    db.exec(&format!(
        "UPDATE public.user_usage SET clips_period_start = '2020-01-01' WHERE user_id = '{NEARLY_USER}'"
    ))
    .await;
    let out = db.quota(&[
        "reset-user",
        NEARLY_USER,
        "--clips",
        "-y",
        "--format",
        "json",
    ]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["before"]["clips_period_start"], "2020-01-01");
    assert_ne!(r["after"]["clips_period_start"], "2020-01-01");
    assert_eq!(
        r["after"]["clips_period_start"],
        r["after"]["usage_period_start"]
    );
    assert_eq!(
        counters(&mut c, NEARLY_USER).await,
        (4, Some(0)),
        "--clips leaves the scrape counter"
    );

    let out = db.quota(&["reset-user", NEARLY_USER, "--scrapes", "-y"]);
    assert_success(&out);
    assert!(stdout(&out).contains("usage_this_month"));
    assert_eq!(counters(&mut c, NEARLY_USER).await, (0, Some(0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_user_refuses_unknown_and_malformed_users() {
    let db = installed_db().await;
    let mut c = db.connect().await;
    let before = snapshot(&mut c).await;
    let unknown = Uuid::new_v4().to_string();
    let out = db.quota(&["reset-user", &unknown, "--yes"]);
    assert_exit_with(&out, 4, &format!("no user with id {unknown}"));
    assert_exit(&db.quota(&["reset-user", "xyz", "--yes"]), 2);
    assert_exit(&db.quota(&["reset-user", "", "--yes"]), 2);
    assert_eq!(snapshot(&mut c).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_use_the_limits_table_and_the_month() {
    let db = installed_db().await;
    let at = json(&db.quota(&["report", "at-limit", "--format", "json"]));
    let mut rows: Vec<(String, String)> = at["meters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| {
            m["users"].as_array().unwrap().iter().map(move |u| {
                (
                    u["user_id"].as_str().unwrap().to_string(),
                    m["meter"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        vec![
            (LIMITED_USER.into(), "clips".into()),
            (LIMITED_USER.into(), "scrapes".into())
        ]
    );

    let near = json(&db.quota(&["report", "near-limit", "--format", "json"]));
    let near_ids: Vec<&str> = near["meters"][1]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        near_ids,
        vec![NEARLY_USER],
        "46 of 50 is near; 50 of 50 is at, not near"
    );
    assert_eq!(near["threshold"], 0.9);
    let near = json(&db.quota(&[
        "report",
        "near-limit",
        "--threshold",
        "0.95",
        "--format",
        "json",
    ]));
    assert!(
        near["meters"][1]["users"].as_array().unwrap().is_empty(),
        "46 < 47.5"
    );

    // Limits come from public.clip_limits, not from code.
    db.exec("UPDATE public.clip_limits SET monthly_limit = 46 WHERE tier = 'free'")
        .await;
    let at = json(&db.quota(&["report", "at-limit", "--format", "json"]));
    assert!(at["meters"][1]["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["user_id"] == NEARLY_USER && u["limit"] == 46));

    // An earlier month's counter counts as 0.
    db.exec(&format!(
        "UPDATE public.user_usage SET clips_period_start = '2020-01-01' WHERE user_id = '{LIMITED_USER}';
         UPDATE public.users SET usage_period_start = '2020-01-01' WHERE id = '{LIMITED_USER}'"
    ))
    .await;
    let at = json(&db.quota(&["report", "at-limit", "--format", "json"]));
    assert!(
        !at["meters"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["users"].as_array().unwrap().iter())
            .any(|u| u["user_id"] == LIMITED_USER),
        "{at}"
    );

    let summary = json(&db.quota(&["report", "summary", "--format", "json"]));
    assert_eq!(summary["users"], 4);
    let (scrapes, clips) = (&summary["meters"][0], &summary["meters"][1]);
    assert_eq!(
        (scrapes["meter"].as_str(), clips["meter"].as_str()),
        (Some("scrapes"), Some("clips"))
    );
    assert_eq!(clips["at_limit"], 1);
    assert_eq!(scrapes["at_limit"], 0);
    let tiers: Vec<&str> = clips["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tier"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, vec!["free", "pro"]);
    let table = db.quota(&["report"]);
    assert_success(&table);
    assert!(stdout(&table).contains("near limit"));

    assert_exit(
        &db.quota(&["report", "near-limit", "--threshold", "1.5"]),
        2,
    );
    let bare = demo_db().await;
    let out = bare.quota(&["report", "summary"]);
    assert_exit_with(&out, 4, "quota migrate apply");
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_views_work_before_install() {
    let db = demo_db().await;
    let u = db.quota(&["user", LIMITED_USER, "--format", "json"]);
    assert_success(&u);
    let u = json(&u);
    assert_eq!(u["usage_this_month"], 5);
    assert!(
        u["usage_period_start"].is_null() && u["clip_limit"].is_null(),
        "{u}"
    );
    assert!(u["clip_limit_reached"].is_null());
    let list = json(&db.quota(&["users", "--under-limit", "--format", "json"]));
    assert_eq!(list["users"].as_array().unwrap().len(), 3);
    let out = db.quota(&["reset-user", LIMITED_USER, "--yes", "--format", "json"]);
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["after"]["usage_this_month"], 0);
    assert!(r["after"]["usage_period_start"].is_null());
}

/// reset-user reads "before" under the row lock: while another transaction
/// holds an uncommitted change to the user, the reset waits for it and
/// reports the committed value, not a stale snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn reset_user_before_is_read_under_the_row_lock() {
    use sqlx::Connection;
    let db = installed_db().await;
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("UPDATE public.users SET usage_this_month = 3 WHERE id = $1")
        .bind(Uuid::parse_str(LIMITED_USER).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();

    let url = db.url.clone();
    let reset = tokio::task::spawn_blocking(move || {
        quota_with_url(
            &url,
            &[
                "reset-user",
                LIMITED_USER,
                "--scrapes",
                "--yes",
                "--format",
                "json",
            ],
        )
    });
    // Wait until the reset is blocked on our row lock.
    let mut watcher = db.connect().await;
    let mut waited = 0;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'quota'
                AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        waited += 1;
        assert!(waited < 300, "reset-user never waited for the row lock");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tx.commit().await.unwrap();
    let out = reset.await.unwrap();
    assert_success(&out);
    let r = json(&out);
    assert_eq!(r["before"]["usage_this_month"], 3, "{r}");
    assert_eq!(r["after"]["usage_this_month"], 0);
}
