//! `quota verify` and `quota check <name>`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use super::Context;
use crate::checks::{self, Check, CheckResult, Status};
use crate::error;
use crate::output::{self, status_text_cell, xml_escape, Report};

/// What `verify` and `check` print: `{"passed": bool, "checks": [...]}`.
#[derive(Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub checks: Vec<CheckResult>,
    /// `quota verify` or `quota check`: the JUnit suite's name.
    #[serde(skip)]
    pub suite: &'static str,
    /// How long the checks took, for JUnit's `time`.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Report for Verdict {
    fn to_table(&self) -> String {
        let mut t = output::table(&["check", "status", "detail", "hint"]);
        // Details are long: wrap them on a pipe too, where the width is unknown.
        if !std::io::stdout().is_terminal() {
            t.set_width(140);
        }
        for c in &self.checks {
            t.add_row(vec![
                comfy_table::Cell::new(c.name),
                status_text_cell(c.status.as_str()),
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
    let count = |s: Status| v.checks.iter().filter(|c| c.status == s).count();
    let (tests, failures, skipped) = (v.checks.len(), count(Status::Fail), count(Status::Warn));
    let secs = format!("{:.3}", v.elapsed.as_secs_f64());
    let suite = xml_escape(v.suite);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{secs}\">\n"
    ));
    xml.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{secs}\">\n"
    ));
    for c in &v.checks {
        xml.push_str(&junit_case(v.suite, c));
    }
    xml.push_str("  </testsuite>\n</testsuites>");
    xml
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

pub async fn verify(ctx: &Context) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let started = Instant::now();
    // One transaction for all checks, rolled back: the security check calls
    // the function as hostile callers would, and nothing of that may stay.
    let mut tx = db.begin().await?;
    let results = checks::run_all(&mut tx).await?;
    tx.rollback().await?;
    finish(ctx, "quota verify", results, started.elapsed())
}

pub async fn check(ctx: &Context, check: Check) -> Result<()> {
    let mut db = ctx.target.connect().await?;
    let started = Instant::now();
    let mut tx = db.begin().await?;
    let result = checks::run_one(&mut tx, check).await?;
    tx.rollback().await?;
    finish(ctx, "quota check", vec![result], started.elapsed())
}

/// Prints the verdict (and, inside GitHub Actions, an annotation per failed
/// or warning check on stderr), then fails (exit 1) when any check failed.
fn finish(
    ctx: &Context,
    suite: &'static str,
    checks: Vec<CheckResult>,
    elapsed: Duration,
) -> Result<()> {
    let failed: Vec<&'static str> = checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name)
        .collect();
    if output::in_github_actions() {
        for line in annotations(suite, &checks) {
            eprintln!("{line}");
        }
    }
    let verdict = Verdict {
        passed: failed.is_empty(),
        checks,
        suite,
        elapsed,
    };
    output::print(&verdict, ctx.format)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(error::failed(format!(
            "check failed: {}",
            failed.join(", ")
        )))
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
            Some(output::github_annotation(level, &title, &message))
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
            elapsed: Duration::from_millis(1234),
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
