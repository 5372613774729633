//! What a newcomer reads first: `--help` texts and argument errors. These
//! never reach a database (parsing fails or help prints first).

use crate::common::*;

const NO_DB: &str = "postgres://unused@localhost/x";

fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let out = quota_cmd(NO_DB, &all)
        .env_remove("QUOTA_CONNECT_TIMEOUT")
        .output()
        .unwrap();
    assert_success(&out);
    stdout(&out)
}

/// The description clap prints under `flag` in long help (the next line).
fn described(text: &str, flag: &str) -> String {
    let mut lines = text.lines();
    lines
        .find(|l| l.trim_start().starts_with(flag))
        .unwrap_or_else(|| panic!("no {flag} in\n{text}"));
    lines.next().unwrap_or_default().trim().to_string()
}

#[test]
fn every_argument_and_option_has_a_description() {
    for (args, flag) in [
        (&["migrate", "apply"][..], "--all"),
        (&["verify"], "--jobs <N>"),
        (&["check", "drift"], "--jobs <N>"),
        (&["migrate", "status"], "--jobs <N>"),
        (&["limits", "set"], "--meter <METER>"),
        (&["limits", "set"], "<TIER>"),
        (&["call"], "<UUID>"),
        (&["reset-user"], "<UUID>"),
        (&["user"], "[UUID]"),
    ] {
        let text = help(args);
        let line = described(&text, flag);
        assert!(
            !line.is_empty() && !line.starts_with("Possible values"),
            "{args:?} {flag} has no description:\n{text}"
        );
    }
}

#[test]
fn metrics_help_names_the_metric_it_exports() {
    let text = help(&["metrics"]);
    assert!(text.contains("quota_verify_check_ok"), "{text}");
}

#[test]
fn an_unset_environment_variable_shows_no_empty_value() {
    let text = help(&["verify"]);
    assert!(text.contains("[env: QUOTA_CONNECT_TIMEOUT]"), "{text}");
    assert!(!text.contains("QUOTA_CONNECT_TIMEOUT=]"), "{text}");
}

#[test]
fn quiet_and_verbose_conflict_names_the_flags_as_typed() {
    for args in [&["-q", "-v", "verify"][..], &["verify", "-v", "--quiet"]] {
        let out = quota_with_url(NO_DB, args);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains("'--verbose'"), "{err}");
        assert!(!err.contains("--verbose..."), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
