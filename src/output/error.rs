//! The error document a failing command prints on stdout with `--format
//! json` or `junit`, so a CI step that parses stdout never gets nothing.

use super::Format;
use crate::error::{self, ExitKind};

/// The document for `format`, or `None` for a table (stderr says it all).
pub fn document(kind: ExitKind, line: &str, format: Format, suite: &str) -> Option<String> {
    match format {
        Format::Json => Some(json(kind, line)),
        Format::Junit => Some(junit(kind, line, suite)),
        Format::Table => None,
    }
}

/// `{"error": {"kind", "message", "hint", "exit_code"}}`; `line` is already
/// redacted, and the hint is taken from it.
pub fn json(kind: ExitKind, line: &str) -> String {
    let doc = serde_json::json!({
        "error": {
            "kind": kind.name(),
            "message": line,
            "hint": error::hint_of(kind, line),
            "exit_code": kind.code(),
        }
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| doc.to_string())
}

/// A JUnit document with one errored test case: the run could not check
/// anything (no connection, bad arguments), which a test reporter must show.
pub fn junit(kind: ExitKind, line: &str, suite: &str) -> String {
    let esc = super::xml_escape;
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"{suite}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n  \
         <testsuite name=\"{suite}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    \
         <testcase name=\"{suite}\" classname=\"{suite}\">\n      \
         <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>\n  </testsuite>\n</testsuites>",
        esc(line),
        kind.name(),
        esc(&format!("{line}\nhint: {}", error::hint_of(kind, line))),
        suite = esc(suite),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_carry_kind_hint_and_code() {
        let doc: serde_json::Value = serde_json::from_str(&json(
            ExitKind::Connect,
            "cannot connect to h:1: refused; check the host",
        ))
        .unwrap();
        assert_eq!(doc["error"]["kind"], "connect");
        assert_eq!(doc["error"]["hint"], "check the host");
        assert_eq!(doc["error"]["exit_code"], 3);
        let xml = junit(ExitKind::Usage, "bad <arg>", "quota verify");
        assert!(
            xml.contains("<error message=\"bad &lt;arg&gt;\" type=\"usage\">"),
            "{xml}"
        );
    }
}
