//! A database a newer quota upgraded (its history records a version this
//! build does not embed): `apply`, `rollback` and `--repair` say plainly
//! that the database is ahead and which quota to install (exit 4, nothing
//! changed, no talk of drift); the read-only commands keep working on the
//! versions this build knows.

use crate::common::{
    assert_exit, assert_success, installed_db, json, latest, objects_by_version, recorded_versions,
    stderr, stdout, versions, FREE_USER,
};

/// What apply and rollback say, with the newest version this build embeds.
fn ahead() -> String {
    format!(
        "the database is at version 9, newer than this quota (knows up to {}); \
         install a newer quota (one that knows version 9)",
        latest()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_ahead_of_this_binary_is_named_and_read_only_commands_work() {
    let db = installed_db().await;
    db.exec(
        "INSERT INTO quota.schema_history VALUES (9, 'from_a_newer_quota', '2030-01-01T00:00:00Z', '1')",
    )
    .await;
    let mut c = db.connect().await;
    let before = (
        recorded_versions(&mut c).await,
        objects_by_version(&mut c).await,
    );

    for args in [
        &["migrate", "apply"][..],
        &["migrate", "apply", "--dry-run"],
        &["migrate", "apply", "--target", "3"],
        &["migrate", "apply", "--repair"],
        &["migrate", "apply", "--repair", "--dry-run"],
        &["migrate", "rollback", "--yes"],
        &["migrate", "rollback", "--yes", "--target", "0"],
        &["migrate", "rollback", "--dry-run"],
    ] {
        let out = db.quota(args);
        assert_exit(&out, 4);
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {}", ahead())),
            "{args:?}: {err}"
        );
        assert!(!err.contains("drift"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    assert_eq!(
        (
            recorded_versions(&mut c).await,
            objects_by_version(&mut c).await
        ),
        before,
        "nothing changed"
    );

    // Status lists the version as newer than this binary (JSON: "unknown").
    let out = db.quota(&["migrate", "status"]);
    assert_success(&out);
    let table = stdout(&out);
    assert!(table.contains("newer than this binary"), "{table}");
    assert!(
        table.contains(&format!("database at V9, newest V{}", latest())),
        "{table}"
    );
    let status = json(&db.quota(&["migrate", "status", "--format", "json"]));
    assert_eq!(status["database_version"], 9, "{status}");
    assert_eq!(status["latest_version"], latest(), "{status}");
    let newer = versions().len();
    assert_eq!(status["migrations"][newer]["version"], 9, "{status}");
    assert_eq!(status["migrations"][newer]["state"], "unknown", "{status}");
    assert_eq!(status["migrations"][4]["state"], "applied", "{status}");

    // verify passes on what this build knows, warning about the rest.
    let out = db.quota(&["verify", "--format", "json"]);
    assert_exit(&out, 0);
    let report = json(&out);
    let drift = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "drift")
        .unwrap()
        .clone();
    assert_eq!(drift["status"], "warn", "{report}");
    let detail = drift["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "the database is at version 9, newer than this quota (knows up to {})",
            latest()
        )),
        "{detail}"
    );
    for check in [
        "routine", "schema", "trigger", "grants", "security", "drift",
    ] {
        assert_success(&db.quota(&["check", check]));
    }
    assert_success(&db.quota(&["user", FREE_USER]));
    assert_success(&db.quota(&["users"]));
    for report in ["at-limit", "near-limit", "summary"] {
        assert_success(&db.quota(&["report", report]));
    }

    // A function edited on such a database is a warning, not drift: a later
    // version may have defined it so.
    db.exec(
        "CREATE OR REPLACE FUNCTION public.enforce_clip_limit() RETURNS trigger
           LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
           AS $enforce_clip_limit$ BEGIN RETURN NULL; END $enforce_clip_limit$",
    )
    .await;
    let out = db.quota(&["check", "drift", "--format", "json"]);
    assert_exit(&out, 0);
    let detail = json(&out)["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("body differs from V7"), "{detail}");
}
