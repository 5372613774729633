//! Errors a new-user trial met: each names the operation that failed, says
//! what to do next and ends with the README's exit code. A rollback or
//! repair by a role without rights, an application table dropped after
//! install, a statement timeout, `check <name>` before install, a
//! `--listen` port in use.

use crate::common::{
    assert_exit, demo_db, installed_db, login_role, quota_with_url, recorded_versions, stderr,
};

const FREE_USER: &str = "11111111-1111-4111-8111-111111111111";

/// The one `error:` line of a failed run.
fn error_line(out: &std::process::Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    lines[0].to_string()
}

#[tokio::test]
async fn rollback_and_repair_by_a_role_without_rights_name_their_own_operation() {
    let db = installed_db().await;
    let before = recorded_versions(&mut db.connect().await).await;
    let (role, url) = login_role(&db, "ro").await;
    // Repair checks the contract first: the role may read the tables.
    db.exec(&format!(
        "GRANT SELECT ON public.users, public.user_usage, public.clips TO {role}"
    ))
    .await;
    for (args, operation) in [
        (&["migrate", "rollback", "--yes"][..], Some("rolling back")),
        // Repair reads the status first, which says the same.
        (&["migrate", "apply", "--repair"][..], None),
    ] {
        let out = quota_with_url(&url, args);
        assert_exit(&out, 4);
        let line = error_line(&out);
        if let Some(operation) = operation {
            assert!(line.contains(&format!("while {operation}")), "{line}");
        }
        assert!(!line.contains("applying"), "{line}");
        assert!(!line.contains("creating schema quota"), "{line}");
        assert!(
            line.contains(&format!("GRANT USAGE ON SCHEMA quota TO {role}")),
            "{line}"
        );
        assert!(!line.contains("CREATE ON DATABASE"), "{line}");
    }
    assert_eq!(recorded_versions(&mut db.connect().await).await, before);
}

#[tokio::test]
async fn a_dropped_application_table_points_to_check_schema_not_apply() {
    let db = installed_db().await;
    db.exec("DROP TABLE public.user_usage CASCADE").await;
    for args in [
        &["user", FREE_USER][..],
        &["reset-user", FREE_USER, "--yes"][..],
        &["report"][..],
        &["race"][..],
    ] {
        let out = db.quota(args);
        assert_exit(&out, 4);
        let line = error_line(&out);
        assert!(line.contains("public.user_usage"), "{args:?}: {line}");
        assert!(line.contains("quota check schema"), "{args:?}: {line}");
        assert!(!line.contains("migrate apply"), "{args:?}: {line}");
    }
    // A schema that no longer fits after install is a failed check.
    let out = db.quota(&["verify"]);
    assert_exit(&out, 1);
    assert!(error_line(&out).contains("schema"));
}

#[tokio::test]
async fn a_function_missing_before_install_still_points_to_apply() {
    let db = demo_db().await;
    let out = db.quota(&["call", FREE_USER]);
    assert_exit(&out, 4);
    assert!(error_line(&out).contains("quota migrate apply"));
}

#[tokio::test]
async fn a_statement_timeout_says_to_raise_it() {
    use sqlx::{Connection, Executor};
    let db = installed_db().await;
    let mut holder = db.connect().await;
    let mut tx = holder.begin().await.unwrap();
    tx.execute("LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let out = db.quota(&["metrics", "--statement-timeout", "200"]);
    tx.rollback().await.unwrap();
    assert_exit(&out, 4);
    let line = error_line(&out);
    assert!(line.contains("statement timeout"), "{line}");
    assert!(line.contains("raise --statement-timeout"), "{line}");
}

#[tokio::test]
async fn check_exits_4_like_verify_when_nothing_is_installed() {
    let db = demo_db().await;
    assert_exit(&db.quota(&["verify"]), 4);
    for check in ["routine", "trigger", "grants", "security", "drift"] {
        let out = db.quota(&["check", check]);
        assert_exit(&out, 4);
        assert!(error_line(&out).contains("quota migrate apply"), "{check}");
    }
}

#[tokio::test]
async fn listen_on_a_port_in_use_is_a_precondition() {
    let db = installed_db().await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = db.quota(&["metrics", "--listen", &addr]);
    assert_exit(&out, 4);
    let line = error_line(&out);
    assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
    assert!(line.contains("--listen"), "{line}");
}
