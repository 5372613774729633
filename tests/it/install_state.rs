//! `verify` where quota is not installed exits 4 (a precondition, as the
//! README's exit codes say), after printing what it found; behind this
//! build (V3 of V5), hints say `quota migrate apply`, never `--repair`,
//! which only re-runs the applied versions.

use crate::common::{assert_exit, assert_success, demo_db, json, stderr, stdout};

#[tokio::test(flavor = "multi_thread")]
async fn verify_where_quota_is_not_installed_exits_4() {
    let db = demo_db().await;
    let out = db.quota(&["verify"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: quota is not installed in this database")
            && err.contains("`quota migrate apply`"),
        "{err}"
    );
    assert!(stdout(&out).contains("routine"), "the report is printed");
    // JSON: one document, the report.
    let out = db.quota(&["verify", "--format", "json"]);
    assert_exit(&out, 4);
    let report = json(&out);
    assert_eq!(report["passed"], false, "{report}");

    // Installed and then taken out again: the same.
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_success(&db.quota(&["verify", "-q"]));
    assert_success(&db.quota(&["migrate", "rollback", "--yes", "-q", "--target", "0"]));
    assert_exit(&db.quota(&["verify"]), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_this_build_the_hints_say_apply_not_repair() {
    let db = demo_db().await;
    assert_success(&db.quota(&["migrate", "apply", "-q", "--target", "3"]));
    let out = db.quota(&["check", "security", "--format", "json"]);
    assert_exit(&out, 1);
    let hint = json(&out)["checks"][0]["hint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(hint.contains("quota migrate apply"), "{hint}");
    assert!(!hint.contains("--repair"), "{hint}");
    // Installed, only behind: exit 1 (not 4), and no check says --repair.
    let out = db.quota(&["verify", "--format", "json"]);
    assert_exit(&out, 1);
    let report = json(&out);
    for check in report["checks"].as_array().unwrap() {
        let hint = check["hint"].as_str().unwrap();
        assert!(!hint.contains("--repair"), "{report}");
    }
    // Applied to the newest: every check passes.
    assert_success(&db.quota(&["migrate", "apply", "-q"]));
    assert_success(&db.quota(&["verify", "-q"]));
}
