//! SQL literals for typed values, for [`super::Session::simple`] statements in hot
//! loops (race, bench), where a parameterized statement would cost a
//! transaction and four round trips instead of one (pgbench's default
//! protocol is the simple one too). Only typed values are offered: a `Uuid`
//! (hex digits and dashes), integers, and JSON that quota itself built with
//! serde_json ([`JsonText`], quoted safely). Never add a plain string
//! variant: user text is always bound.

use uuid::Uuid;

/// A JSON document as a quoted SQL string literal, ready to render.
///
/// Written as an escape string (`E'…'`), whose meaning does not depend
/// on `standard_conforming_strings`: with the setting off, a backslash
/// before a quote in a plain `'…'` literal would end the quoting early.
/// Backslashes are doubled, single quotes doubled. A NUL character
/// (which no PostgreSQL text value can hold, and jsonb refuses as
/// `\u0000`) is refused rather than rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonText(String);

/// Why a JSON value cannot be a literal.
#[derive(Debug, PartialEq, Eq)]
pub struct NulInJson;

impl std::fmt::Display for NulInJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON string holds a NUL character, which PostgreSQL text cannot hold")
    }
}

impl std::error::Error for NulInJson {}

impl JsonText {
    pub fn new(value: &serde_json::Value) -> Result<Self, NulInJson> {
        if holds_nul(value) {
            return Err(NulInJson);
        }
        let text = value.to_string();
        // serde_json escapes control characters, so a raw NUL cannot
        // appear; checked again because the literal depends on it.
        if text.contains('\0') {
            return Err(NulInJson);
        }
        let mut quoted = String::with_capacity(text.len() + 8);
        quoted.push_str("E'");
        for c in text.chars() {
            match c {
                '\'' => quoted.push_str("''"),
                '\\' => quoted.push_str("\\\\"),
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        Ok(JsonText(quoted))
    }

    /// The literal as it appears in SQL.
    pub fn as_sql(&self) -> &str {
        &self.0
    }
}

fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// A typed value rendered as a SQL literal.
#[derive(Clone, Copy, Debug)]
pub enum Lit<'a> {
    Uuid(Uuid),
    Int(i64),
    Json(&'a JsonText),
}

impl Lit<'_> {
    fn sql(self) -> String {
        match self {
            Lit::Uuid(id) => format!("'{id}'::uuid"),
            Lit::Int(n) => format!("({n})"),
            Lit::Json(j) => j.as_sql().to_string(),
        }
    }
}

/// `sql` with `$1`, `$2`, … replaced by the literals of `values`, in one
/// pass: a rendered value is never scanned again (a `$2` inside JSON
/// text stays text), and `$1` never eats the start of `$12`. A `$n`
/// without a value is left as it is.
pub fn render(sql: &str, values: &[Lit]) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let value = after[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| values.get(i));
        match value {
            Some(v) => out.push_str(&v.sql()),
            None => out.push_str(&rest[at..at + 1 + digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_typed_values_only() {
        let id = Uuid::nil();
        let sql = render("SELECT f($1) WHERE a = $2", &[Lit::Uuid(id), Lit::Int(-3)]);
        assert_eq!(
            sql,
            "SELECT f('00000000-0000-0000-0000-000000000000'::uuid) WHERE a = (-3)"
        );
    }

    #[test]
    fn renders_in_one_pass() {
        let j = JsonText::new(&json!({"a": "$2 and $1"})).unwrap();
        let sql = render("SELECT $1, $2, $12, $", &[Lit::Json(&j), Lit::Int(7)]);
        assert_eq!(sql, r#"SELECT E'{"a":"$2 and $1"}', (7), $12, $"#);
    }

    #[test]
    fn json_quotes_are_doubled_and_backslashes_escaped() {
        let j = JsonText::new(&json!({"name": "O'Brien", "path": "a\\b", "q": "\""})).unwrap();
        assert_eq!(
            j.as_sql(),
            r#"E'{"name":"O''Brien","path":"a\\\\b","q":"\\""}'"#
        );
        // No unescaped quote can end the literal early: after the
        // opening E' every quote comes in a pair until the last one.
        let body = &j.as_sql()[2..j.as_sql().len() - 1];
        assert_eq!(body.replace("''", "").matches('\'').count(), 0);
    }

    #[test]
    fn json_with_nul_is_refused() {
        assert_eq!(JsonText::new(&json!({"a": "x\u{0}y"})), Err(NulInJson));
        assert_eq!(JsonText::new(&json!({"k\u{0}": 1})), Err(NulInJson));
        assert_eq!(JsonText::new(&json!([["\u{0}"]])), Err(NulInJson));
        assert!(JsonText::new(&json!({"a": "\u{1}"})).is_ok());
    }
}
