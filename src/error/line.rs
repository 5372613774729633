//! The one line an error is shown as: causes said once, on one line, long
//! quoted values cut, never a password.

/// The error and its causes, outermost first, each said once (sqlx and
/// refinery repeat their source's text in their own).
pub fn describe(err: &anyhow::Error) -> String {
    let mut line = String::new();
    let err: &(dyn std::error::Error + 'static) = err.as_ref();
    for cause in super::cause::chain(err) {
        let text = cause.to_string();
        let text = text
            .strip_prefix("error returned from database: ")
            .unwrap_or(&text);
        // refinery wraps its parts in backticks; our own hints end in one.
        let text = match text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
            Some(inner) if !inner.contains('`') => inner,
            _ => text,
        };
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// The error as one line without any of `secrets`, for a place other
/// than the final error line (a metrics scrape's 503).
pub fn shown(err: &anyhow::Error, secrets: &[String]) -> String {
    redact(&one_line(&describe(err)), secrets)
}

/// Keeps the error on one line whatever the server or a value contained.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts every '...'-quoted value longer than `max` characters.
pub fn shorten_quoted(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(1024));
    for (i, part) in text.split('\'').enumerate() {
        if i > 0 {
            out.push('\'');
        }
        let quoted = i % 2 == 1;
        if quoted && part.chars().count() > max {
            out.extend(part.chars().take(max));
            out.push_str(&format!("… ({} characters)", part.chars().count()));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// Replaces every secret in `text` with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quoted_values_are_cut() {
        let long = "9".repeat(500);
        let line = shorten_quoted(&format!("invalid value '{long}' for '--target <V>'"), 20);
        let cut = "9".repeat(20);
        assert_eq!(
            line,
            format!("invalid value '{cut}… (500 characters)' for '--target <V>'")
        );
    }

    #[test]
    fn causes_are_said_once() {
        let err = anyhow::anyhow!("permission denied for table t").context("reading history");
        assert_eq!(
            describe(&err),
            "reading history: permission denied for table t"
        );
        let err = anyhow::anyhow!("x").context("wrapped: x");
        assert_eq!(describe(&err), "wrapped: x");
    }

    #[test]
    fn one_line_collapses_newlines() {
        assert_eq!(one_line("a\n  b\r\nc"), "a b c");
    }
}
