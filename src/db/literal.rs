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

/// `sql` as it is sent: `$1`, `$2`, … replaced by the literals of
/// `values` and the comments left out, in one pass.
///
/// Only real placeholders are filled: a `$1` inside a `--` or `/* */`
/// comment, a `'…'` or `E'…'` string, a `"…"` identifier or a
/// `$tag$…$tag$` string is not one, nor is the `$1` of an identifier such
/// as `a$1`. A rendered value is never scanned again (a `$2` inside JSON
/// text stays text), and `$1` never eats the start of `$12`. A `$n`
/// without a value is left as it is. Comments are dropped (a comment on a
/// line of its own with its line), so a hot loop sends only the
/// statement: a comment that named a placeholder used to carry the
/// value a second time.
pub fn render(sql: &str, values: &[Lit]) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut drop_newline = false;
    for piece in scan(sql) {
        match piece {
            Piece::Text(text) => {
                let text = match drop_newline {
                    true => text.strip_prefix('\n').unwrap_or(text),
                    false => text,
                };
                out.push_str(text);
                drop_newline = false;
            }
            Piece::Param(n, raw) => {
                match n.checked_sub(1).and_then(|i| values.get(i)) {
                    Some(v) => out.push_str(&v.sql()),
                    None => out.push_str(raw),
                }
                drop_newline = false;
            }
            Piece::LineComment => {
                out.truncate(out.trim_end_matches([' ', '\t']).len());
                drop_newline = out.is_empty() || out.ends_with('\n');
            }
            Piece::BlockComment => {
                if !out.is_empty() && !out.ends_with(char::is_whitespace) {
                    out.push(' ');
                }
            }
        }
    }
    out
}

/// [`render`], refusing a statement whose placeholders do not match
/// `values` exactly: a `$n` left without a value, or a value no
/// placeholder takes (its `$n` sat in a comment or a string). The bench
/// renders its statements through this once, before any load.
pub fn render_exact(sql: &str, values: &[Lit]) -> anyhow::Result<String> {
    let used = placeholders(sql);
    let unfilled: Vec<usize> = used
        .iter()
        .copied()
        .filter(|&n| n == 0 || n > values.len())
        .collect();
    anyhow::ensure!(
        unfilled.is_empty(),
        "internal error: a statement has placeholders without a value: {unfilled:?}"
    );
    let unused: Vec<usize> = (1..=values.len()).filter(|n| !used.contains(n)).collect();
    anyhow::ensure!(
        unused.is_empty(),
        "internal error: a statement takes no placeholder for values {unused:?}"
    );
    Ok(render(sql, values))
}

/// The numbers of the real placeholders in `sql`, in order of appearance
/// (what [`render`] would fill).
pub(crate) fn placeholders(sql: &str) -> Vec<usize> {
    scan(sql)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Param(n, _) => Some(n),
            _ => None,
        })
        .collect()
}

/// A piece of SQL text as the scanner sees it.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    /// Text sent as it is: code, quoted strings and identifiers.
    Text(&'a str),
    /// `$n` outside any comment or quoting (its number, its text).
    Param(usize, &'a str),
    /// A `--` comment, up to (not including) its newline.
    LineComment,
    /// A `/* */` comment (nested ones included, as PostgreSQL nests them).
    BlockComment,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Splits `sql` into pieces. Every delimiter is ASCII, so each cut is on
/// a character boundary. Unterminated quoting or comments run to the end
/// and are kept as text: the server reports them, quota does not guess.
fn scan(sql: &str) -> Vec<Piece<'_>> {
    let b = sql.as_bytes();
    let mut pieces = Vec::new();
    let (mut i, mut text_from) = (0, 0);
    while i < b.len() {
        let after_ident = i > 0 && is_ident(b[i - 1]);
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let end = sql[i..].find('\n').map_or(b.len(), |n| i + n);
                flush(&mut pieces, sql, text_from, i);
                pieces.push(Piece::LineComment);
                (i, text_from) = (end, end);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match block_comment_end(b, i) {
                Some(end) => {
                    flush(&mut pieces, sql, text_from, i);
                    pieces.push(Piece::BlockComment);
                    (i, text_from) = (end, end);
                }
                None => i = b.len(),
            },
            b'\'' => {
                let escapes =
                    i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_ident(b[i - 2]));
                i = quoted_end(b, i, b'\'', escapes);
            }
            b'"' => i = quoted_end(b, i, b'"', false),
            b'$' if !after_ident => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    let raw = &sql[i..i + 1 + digits];
                    match raw[1..].parse::<usize>() {
                        Ok(n) => {
                            flush(&mut pieces, sql, text_from, i);
                            pieces.push(Piece::Param(n, raw));
                            i += 1 + digits;
                            text_from = i;
                        }
                        Err(_) => i += 1 + digits,
                    }
                } else {
                    i = dollar_quoted_end(sql, i);
                }
            }
            _ => i += 1,
        }
    }
    flush(&mut pieces, sql, text_from, b.len());
    pieces
}

/// Adds `sql[from..to]` as text, if there is any.
fn flush<'a>(pieces: &mut Vec<Piece<'a>>, sql: &'a str, from: usize, to: usize) {
    if from < to {
        pieces.push(Piece::Text(&sql[from..to]));
    }
}

/// Where the block comment opening at `start` ends, or `None` if it never does.
fn block_comment_end(b: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut i) = (0usize, start);
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Just past the quoting opened by `quote` at `start` (a doubled quote
/// stays inside; with `escapes`, a backslash takes the next character).
fn quoted_end(b: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Just past the dollar-quoted string whose tag starts at `start`, or
/// just past the `$` if none starts there.
fn dollar_quoted_end(sql: &str, start: usize) -> usize {
    let b = sql.as_bytes();
    let tag_len = b[start + 1..]
        .iter()
        .take_while(|&&c| is_ident(c) && c != b'$')
        .count();
    let tag_end = start + 1 + tag_len;
    if b.get(tag_end) != Some(&b'$') || b.get(start + 1).is_some_and(u8::is_ascii_digit) {
        return start + 1;
    }
    let tag = &sql[start..=tag_end];
    match sql[tag_end + 1..].find(tag) {
        Some(n) => tag_end + 1 + n + tag.len(),
        None => b.len(),
    }
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

    fn one(sql: &str) -> String {
        render(sql, &[Lit::Int(1), Lit::Int(2)])
    }

    #[test]
    fn placeholders_in_line_comments_are_not_filled_and_comments_are_dropped() {
        assert_eq!(
            one("-- $1 is the claims\nSELECT $1 -- and $2\n"),
            "SELECT (1)\n"
        );
        assert_eq!(one("SELECT $1, -- $2\n  $2"), "SELECT (1),\n  (2)");
        assert_eq!(one("SELECT 1 --$1"), "SELECT 1");
        assert_eq!(placeholders("-- $1\nSELECT $2 -- $3"), [2]);
    }

    #[test]
    fn placeholders_in_block_comments_are_not_filled_nested_ones_included() {
        assert_eq!(one("SELECT/* $1 */$2"), "SELECT (2)");
        assert_eq!(one("SELECT /* a /* $1 */ $1 */ $2"), "SELECT  (2)");
        assert_eq!(one("/* $1\n$2 */\nSELECT $1"), "\nSELECT (1)");
        // Unterminated: kept for the server to refuse, nothing filled.
        assert_eq!(one("SELECT $1 /* $2"), "SELECT (1) /* $2");
    }

    #[test]
    fn placeholders_in_string_literals_are_not_filled() {
        assert_eq!(one("SELECT '$1', $1"), "SELECT '$1', (1)");
        assert_eq!(one("SELECT 'it''s $1', $2"), "SELECT 'it''s $1', (2)");
        assert_eq!(one(r"SELECT E'\' $1', $2"), r"SELECT E'\' $1', (2)");
        // Not an escape string: the backslash is plain, the quote ends it.
        assert_eq!(one(r"SELECT '\', $1"), r"SELECT '\', (1)");
        assert_eq!(one(r"SELECT note'\', $1"), r"SELECT note'\', (1)");
        assert_eq!(
            one("SELECT '-- $1', '/* $2', $1"),
            "SELECT '-- $1', '/* $2', (1)"
        );
    }

    #[test]
    fn placeholders_in_quoted_identifiers_are_not_filled() {
        assert_eq!(
            one(r#"SELECT $1 AS "$2 ""x"" $1""#),
            r#"SELECT (1) AS "$2 ""x"" $1""#
        );
        assert_eq!(one(r#"SELECT "a--b", $2"#), r#"SELECT "a--b", (2)"#);
    }

    #[test]
    fn placeholders_in_dollar_quoted_strings_are_not_filled() {
        assert_eq!(one("SELECT $$ $1 ' $$, $2"), "SELECT $$ $1 ' $$, (2)");
        assert_eq!(
            one("SELECT $f$ $$ $1 $f$, $1, $g$x$g$"),
            "SELECT $f$ $$ $1 $f$, (1), $g$x$g$"
        );
        assert_eq!(placeholders("DO $body$ -- $1\n $body$; SELECT $2"), [2]);
    }

    #[test]
    fn ten_is_not_one_and_identifiers_keep_their_dollars() {
        assert_eq!(one("SELECT $10, $1, $2, $3"), "SELECT $10, (1), (2), $3");
        assert_eq!(one("SELECT a$1, $1"), "SELECT a$1, (1)");
        assert_eq!(placeholders("SELECT $10, $1, x$2"), [10, 1]);
    }

    #[test]
    fn render_exact_refuses_unfilled_placeholders_and_unused_values() {
        assert_eq!(
            render_exact("SELECT $2, $1", &[Lit::Int(1), Lit::Int(2)]).unwrap(),
            "SELECT (2), (1)"
        );
        assert!(render_exact("SELECT $1, $3", &[Lit::Int(1), Lit::Int(2)]).is_err());
        assert!(render_exact("SELECT $0", &[]).is_err());
        assert!(render_exact("-- $2\nSELECT $1", &[Lit::Int(1), Lit::Int(2)]).is_err());
        assert!(render_exact("SELECT '$1'", &[Lit::Int(1)]).is_err());
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
