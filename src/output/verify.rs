//! How `quota verify` and `quota check` look: a table, JSON, JUnit XML, and
//! GitHub Actions annotations.

use std::io::IsTerminal;

use super::{github_annotation, status_cell, table, xml_escape, Report, Tone};
use crate::checks::verdict::Verdict;
use crate::checks::{CheckResult, Status};

impl super::Status for Status {
    fn tone(&self) -> Tone {
        match self {
            Status::Pass => Tone::Good,
            Status::Warn => Tone::Attention,
            Status::Fail => Tone::Bad,
        }
    }
}

impl Report for Verdict {
    fn to_table(&self) -> String {
        let mut t = table(&["check", "status", "detail", "hint"]);
        // Details are long: wrap them on a pipe too, where the width is unknown.
        if !std::io::stdout().is_terminal() {
            t.set_width(140);
        }
        for c in &self.checks {
            t.add_row(vec![
                comfy_table::Cell::new(c.name),
                status_cell(&c.status),
                comfy_table::Cell::new(&c.detail),
                comfy_table::Cell::new(&c.hint),
            ]);
        }
        let failed = self.checks.iter().filter(|c| c.failed()).count();
        let verdict = if failed == 0 {
            "all checks passed".to_string()
        } else {
            format!("{failed} of {} checks failed", self.checks.len())
        };
        format!("{t}\n{verdict}")
    }

    fn to_junit(&self) -> Option<String> {
        Some(junit(self))
    }
}

/// JUnit XML as GitLab, Jenkins, CircleCI and GitHub's test reporters read
/// it: one `<testcase>` per check; a failed check is a `<failure>` carrying
/// the detail and the hint, a warning is `<skipped>` (not a failure, but
/// visible), a passing check's detail goes to `<system-out>`.
fn junit(v: &Verdict) -> String {
    let suite = junit_suite(v, v.suite);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" \
         time=\"{:.3}\">\n",
        xml_escape(v.suite),
        suite.tests,
        suite.failures,
        suite.skipped,
        v.elapsed.as_secs_f64()
    ));
    xml.push_str(&suite.xml);
    xml.push_str("</testsuites>");
    xml
}

/// One `<testsuite>` named `name` with a `<testcase>` per check (the test
/// cases' class name is the suite's name too).
pub(super) fn junit_suite(v: &Verdict, name: &str) -> super::fleet::Suite {
    let count = |s: Status| v.checks.iter().filter(|c| c.status == s).count();
    let (tests, failures, skipped) = (v.checks.len(), count(Status::Fail), count(Status::Warn));
    let mut xml = format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{:.3}\">\n",
        xml_escape(name),
        v.elapsed.as_secs_f64()
    );
    for c in &v.checks {
        xml.push_str(&junit_case(name, c));
    }
    xml.push_str("  </testsuite>\n");
    super::fleet::Suite {
        xml,
        tests,
        failures,
        errors: 0,
        skipped,
    }
}

fn junit_case(suite: &str, c: &CheckResult) -> String {
    let open = format!(
        "    <testcase name=\"{}\" classname=\"{}\"",
        xml_escape(c.name),
        xml_escape(suite)
    );
    let summary = with_hint(&c.detail, &c.hint, "; hint: ");
    match c.status {
        Status::Fail => format!(
            "{open}>\n      <failure message=\"{}\" type=\"fail\">{}</failure>\n    </testcase>\n",
            xml_escape(&summary),
            xml_escape(&with_hint(&c.detail, &c.hint, "\nhint: "))
        ),
        Status::Warn => format!(
            "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
            xml_escape(&format!("warn: {summary}"))
        ),
        Status::Pass => format!(
            "{open}>\n      <system-out>{}</system-out>\n    </testcase>\n",
            xml_escape(&c.detail)
        ),
    }
}

/// `detail`, then `hint` after `sep` when there is one.
fn with_hint(detail: &str, hint: &str, sep: &str) -> String {
    if hint.is_empty() {
        detail.to_string()
    } else {
        format!("{detail}{sep}{hint}")
    }
}

/// Inside GitHub Actions, one annotation per failed or warning check on
/// stderr, where the runner picks them up; elsewhere nothing.
pub fn annotate(verdict: &Verdict) {
    if super::in_github_actions() {
        for line in annotations(verdict.suite, &verdict.checks) {
            eprintln!("{line}");
        }
    }
}

/// [`annotate`] for one of many databases: its URL (without password) in the title.
pub fn annotate_as(verdict: &Verdict, database: &str) {
    if super::in_github_actions() {
        let suite = format!("{} {database}", verdict.suite);
        for line in annotations(&suite, &verdict.checks) {
            eprintln!("{line}");
        }
    }
}

/// `::error title=quota verify: <check>::<detail>` for each failed check,
/// `::warning` for each warning; the hint on the annotation's second line.
fn annotations(suite: &str, checks: &[CheckResult]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| {
            let level = match c.status {
                Status::Fail => "error",
                Status::Warn => "warning",
                Status::Pass => return None,
            };
            let title = format!("{suite}: {}", c.name);
            let message = with_hint(&c.detail, &c.hint, "\nhint: ");
            Some(github_annotation(level, &title, &message))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &'static str, status: Status, detail: &str, hint: &str) -> CheckResult {
        CheckResult {
            name,
            status,
            detail: detail.into(),
            hint: hint.into(),
        }
    }

    fn verdict(checks: Vec<CheckResult>) -> Verdict {
        Verdict {
            passed: !checks.iter().any(|c| c.failed()),
            checks,
            suite: "quota verify",
            elapsed: std::time::Duration::from_millis(1234),
            nothing_installed: false,
        }
    }

    #[test]
    fn junit_has_one_case_per_check_and_escapes_everything() {
        let v = verdict(vec![
            result("routine", Status::Pass, "FUNCTION returning record", ""),
            result("grants", Status::Warn, "role anon absent", "create it"),
            result(
                "trigger",
                Status::Fail,
                "enforce_clip_limit_trigger is disabled <\"&'>",
                "run `quota migrate apply --repair`",
            ),
        ]);
        let xml = junit(&v);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
        assert!(xml.contains(
            "<testsuite name=\"quota verify\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"1.234\">"
        ));
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert!(xml.contains(
            "<failure message=\"enforce_clip_limit_trigger is disabled &lt;&quot;&amp;&apos;&gt;; hint: run `quota migrate apply --repair`\" type=\"fail\">"
        ), "{xml}");
        assert!(xml.contains("&#10;hint: run `quota migrate apply --repair`</failure>"));
        assert!(xml.contains("<skipped message=\"warn: role anon absent; hint: create it\"/>"));
        assert!(xml.contains("<system-out>FUNCTION returning record</system-out>"));
    }

    #[test]
    fn annotations_only_for_failures_and_warnings() {
        let lines = annotations(
            "quota verify",
            &[
                result("routine", Status::Pass, "ok", ""),
                result("trigger", Status::Fail, "disabled", "repair: 100%"),
                result("grants", Status::Warn, "anon absent", ""),
            ],
        );
        assert_eq!(
            lines,
            vec![
                "::error title=quota verify%3A trigger::disabled%0Ahint: repair: 100%25",
                "::warning title=quota verify%3A grants::anon absent",
            ]
        );
    }
}
