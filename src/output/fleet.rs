//! How a command run on many databases looks: a section per database
//! (its own table, or its error), JSON with one entry per database, and
//! JUnit with one `<testsuite>` per database named by its URL without the
//! password.

use super::{xml_escape, Report};
use crate::checks::verdict::Verdict;
use crate::fleet::{Entry, Fleet, Outcome};
use crate::migrate::StatusReport;

/// One `<testsuite>` element and its counts.
pub struct Suite {
    pub xml: String,
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
}

/// A report that can be one database's section.
pub trait Section: Report {
    /// Its `<testsuite>` named `name`, for reports that are test results.
    fn junit_suite(&self, _name: &str) -> Option<Suite> {
        None
    }

    /// The name of the whole JUnit document.
    fn junit_name(&self) -> &'static str {
        "quota"
    }
}

impl Section for Verdict {
    fn junit_suite(&self, name: &str) -> Option<Suite> {
        Some(super::verify::junit_suite(self, name))
    }

    fn junit_name(&self) -> &'static str {
        self.suite
    }
}

impl Section for StatusReport {}

impl Section for super::migrate::OutcomeView {}

impl Section for crate::mapped::StatusReport {}

impl Section for crate::mapped::install::Report {}

impl<R: Section> Report for Fleet<R> {
    fn to_table(&self) -> String {
        let mut out = String::new();
        for e in &self.databases {
            out.push_str(&format!("== {} ==\n", e.url));
            match (&e.report, &e.error) {
                (Some(r), _) => out.push_str(&r.to_table()),
                (None, Some(err)) => out.push_str(&format!("error: {}", err.message)),
                (None, None) => out.push_str("not attempted: an earlier database failed"),
            }
            out.push_str("\n\n");
        }
        let count = |o: Outcome| self.databases.iter().filter(|e| e.outcome == o).count();
        let mut summary = format!(
            "{} databases: {} ok, {} failed, {} with an error",
            self.databases.len(),
            count(Outcome::Ok),
            count(Outcome::Failed),
            count(Outcome::Error)
        );
        if count(Outcome::NotRun) > 0 {
            summary.push_str(&format!(", {} not attempted", count(Outcome::NotRun)));
        }
        out.push_str(&summary);
        out
    }

    fn to_junit(&self) -> Option<String> {
        let name = self
            .databases
            .iter()
            .find_map(|e| e.report.as_ref().map(Section::junit_name))
            .unwrap_or("quota verify");
        let mut suites = Vec::new();
        for e in &self.databases {
            suites.push(suite_of(e, name)?);
        }
        let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str(&format!(
            "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">\n",
            xml_escape(name),
            total(|s| s.tests),
            total(|s| s.failures),
            total(|s| s.errors),
            total(|s| s.skipped)
        ));
        for s in &suites {
            xml.push_str(&s.xml);
        }
        xml.push_str("</testsuites>");
        Some(xml)
    }
}

/// A database's suite: its report's, or one errored test case saying why
/// it could not be checked.
fn suite_of<R: Section>(e: &Entry<R>, name: &str) -> Option<Suite> {
    if let Some(r) = &e.report {
        return r.junit_suite(&e.url);
    }
    let (kind, message, hint) = match &e.error {
        Some(err) => (err.kind, err.message.as_str(), err.hint.as_str()),
        None => ("not_run", "not attempted: an earlier database failed", ""),
    };
    let url = xml_escape(&e.url);
    let xml = format!(
        "  <testsuite name=\"{url}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    \
         <testcase name=\"{}\" classname=\"{url}\">\n      \
         <error message=\"{}\" type=\"{kind}\">{}</error>\n    </testcase>\n  </testsuite>\n",
        xml_escape(name),
        xml_escape(message),
        xml_escape(&format!("{message}\nhint: {hint}")),
    );
    Some(Suite {
        xml,
        tests: 1,
        failures: 0,
        errors: 1,
        skipped: 0,
    })
}
