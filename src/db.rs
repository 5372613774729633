//! The one place that opens connections to the database.
//!
//! Connection settings come from `--database-url` / `DATABASE_URL`, or from
//! libpq's `PG*` variables when neither is given. Every failure to connect is
//! turned into one line of [`ExitKind::Connect`] that says what to check next,
//! and never contains the password.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{ConnectOptions, Connection, Postgres, Transaction};

use crate::error::{self, ExitKind};

/// Where and how to connect, as given on the command line.
#[derive(Clone, Debug)]
pub struct Target {
    url: Option<String>,
    pub connect_timeout: Duration,
}

impl Target {
    /// An empty URL is kept (and refused by [`Target::options`]): silently
    /// falling back to `PG*` defaults would point a deploy script whose
    /// variable expanded to nothing at whatever server `localhost` is.
    pub fn new(url: Option<String>, connect_timeout: Duration) -> Self {
        Target {
            url,
            connect_timeout,
        }
    }

    /// Strings that must never be printed: the password from the URL (raw and
    /// percent-decoded) and from `PGPASSWORD`.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = self.url.as_deref().map(secrets_in).unwrap_or_default();
        if let Ok(p) = std::env::var("PGPASSWORD") {
            if p.len() >= 3 {
                secrets.push(p);
            }
        }
        secrets
    }

    /// The role the connection logs in as (URL, `PGUSER`, or the OS user).
    pub fn role(&self) -> String {
        self.options()
            .map(|o| o.get_username().to_string())
            .unwrap_or_else(|_| "the role in the URL".to_string())
    }

    /// Parsed connection options; a malformed URL is a usage error whose
    /// message does not repeat the URL (it may hold a password).
    pub fn options(&self) -> Result<PgConnectOptions> {
        let options = match &self.url {
            Some(url) if url.trim().is_empty() => {
                return Err(error::usage(
                    "--database-url / DATABASE_URL is empty: give a URL such as \
                     postgres://user:password@host:5432/database, or unset it to use PG* variables",
                ))
            }
            Some(url) if !is_postgres_url(url) => {
                return Err(error::usage(
                    "invalid database URL: expected postgres://user:password@host:port/database \
                     (or postgresql://)",
                ))
            }
            Some(url) if !error::connect::raw_password_delimiters(url).is_empty() => {
                return Err(error::connect::raw_password_error(&error::connect::raw_password_delimiters(url)))
            }
            Some(url) => PgConnectOptions::from_str(url).map_err(|e| {
                error::usage(format!(
                    "invalid database URL ({}): expected postgres://user:password@host:port/database",
                    error::connect::describe_url_error(&e)
                ))
            })?,
            None => PgConnectOptions::new(),
        };
        Ok(options
            .application_name("quota")
            // PgBouncer and Supavisor refuse startup parameters they do not
            // know unless configured otherwise; sqlx sends this one by default.
            .extra_float_digits(None)
            // Named statements live on one server connection, which a
            // transaction pooler hands to other clients; see `query`.
            .statement_cache_capacity(0)
            // Logging every statement at INFO would drown the CLI's output.
            .log_statements(log::LevelFilter::Off))
    }

    /// A short, password-free description of the server, for messages.
    pub fn describe(&self) -> String {
        match self.options() {
            Ok(o) => match o.get_socket() {
                Some(s) => format!("socket {}", shorten(&s.display().to_string())),
                None => format!("{}:{}", shorten(o.get_host()), o.get_port()),
            },
            Err(_) => "the database".to_string(),
        }
    }

    /// Opens one connection, bounded by the connect timeout.
    pub async fn connect(&self) -> Result<Session> {
        Ok(Session {
            conn: self.connect_raw().await?,
        })
    }

    async fn connect_raw(&self) -> Result<PgConnection> {
        let options = self.options()?;
        let server = self.describe();
        let attempt = tokio::time::timeout(self.connect_timeout, options.connect()).await;
        match attempt {
            Err(_) => Err(error::new(
                ExitKind::Connect,
                format!(
                    "cannot connect to {server}: no answer within {}s; check the host and port, \
                     firewalls, and that the server is running (--connect-timeout raises the limit)",
                    self.connect_timeout.as_secs()
                ),
            )),
            Ok(Err(e)) => Err(error::new(
                ExitKind::Connect,
                error::connect::connect_failure(&server, &options, &e),
            )),
            Ok(Ok(conn)) => Ok(conn),
        }
    }
}

/// A connection that is safe behind a transaction-mode pooler (PgBouncer,
/// Supavisor on port 6543), which may hand the client a different server
/// connection after every transaction.
///
/// It gives no direct access to the connection: parameterized statements
/// run inside a transaction ([`Session::begin`], [`Session::read_only`]),
/// during which the pooler keeps the server connection, and are unnamed
/// ([`query`], [`query_as`], [`query_scalar`]), so nothing outlives the
/// transaction. Outside a transaction only [`Session::simple`] runs: one
/// parameterless statement in one simple-protocol message, which a pooler
/// cannot split. No session state (SET, advisory locks, prepared
/// statements) is ever relied upon across transactions.
pub struct Session {
    conn: PgConnection,
}

impl Session {
    /// A read-write transaction; rolled back when dropped without commit.
    pub async fn begin(&mut self) -> Result<Transaction<'_, Postgres>> {
        self.conn
            .begin()
            .await
            .context("starting a transaction on the database")
    }

    /// A read-only transaction, for commands that only look: one snapshot of
    /// the database for the whole report (REPEATABLE READ, so what one query
    /// reads agrees with the next even while others commit).
    pub async fn read_only(&mut self) -> Result<Transaction<'_, Postgres>> {
        self.conn
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .context("starting a read-only transaction on the database")
    }

    /// One parameterless statement (or several separated by `;`) by the
    /// simple-query protocol, in one message and one round trip: safe
    /// through a pooler without a transaction. Values in it must come from
    /// [`literal`], never from user text.
    pub async fn simple(&mut self, sql: &str) -> Result<Vec<PgRow>, sqlx::Error> {
        use sqlx::Executor;
        self.conn.fetch_all(sqlx::raw_sql(sql)).await
    }

    /// Closes the connection politely (the server sees a Terminate).
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// A statement run by the extended protocol without a name: the server
/// forgets it at the next one, so no other client of a pooler can meet it.
/// Use it inside a [`Session`] transaction; `sqlx::query` is refused by
/// clippy (see clippy.toml) because it names and caches statements.
#[allow(clippy::disallowed_methods)]
pub fn query(sql: &str) -> Query<'_, Postgres, PgArguments> {
    sqlx::query(sql).persistent(false)
}

/// [`query`] mapping rows to a tuple or `FromRow` type.
#[allow(clippy::disallowed_methods)]
pub fn query_as<'q, O>(sql: &'q str) -> QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> sqlx::FromRow<'r, PgRow>,
{
    sqlx::query_as(sql).persistent(false)
}

/// [`query`] returning the first column.
#[allow(clippy::disallowed_methods)]
pub fn query_scalar<'q, O>(sql: &'q str) -> QueryScalar<'q, Postgres, O, PgArguments>
where
    (O,): for<'r> sqlx::FromRow<'r, PgRow>,
{
    sqlx::query_scalar(sql).persistent(false)
}

/// SQL literals for typed values, for [`Session::simple`] statements in hot
/// loops (race, bench), where a parameterized statement would cost a
/// transaction and four round trips instead of one (pgbench's default
/// protocol is the simple one too). Only typed values are offered: a `Uuid`
/// (hex digits and dashes), integers, and JSON that quota itself built with
/// serde_json ([`JsonText`], quoted safely). Never add a plain string
/// variant: user text is always bound.
pub mod literal {
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
}

/// sqlx ignores the scheme; `mysql://...` must not be tried as Postgres.
fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A host name as shown in messages: a 100 KB one is not echoed whole.
fn shorten(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX).collect();
    format!("{head}…")
}

/// The password of a URL-like string, raw and percent-decoded, as secrets
/// to redact; empty when there is none. Works on arguments that are not
/// valid URLs too (a bad port must not make the password printable).
pub fn secrets_in(text: &str) -> Vec<String> {
    let password = url::Url::parse(text)
        .ok()
        .and_then(|u| u.password().map(str::to_string))
        .or_else(|| raw_url_password(text));
    let mut secrets = Vec::new();
    if let Some(password) = password {
        let decoded = percent_encoding::percent_decode_str(&password)
            .decode_utf8_lossy()
            .into_owned();
        secrets.push(password);
        secrets.push(decoded);
    }
    secrets.retain(|s| s.len() >= 3);
    secrets
}

/// `scheme://user:PASSWORD@host...` taken apart by hand: the text between the
/// first `:` of the authority and its last `@`.
fn raw_url_password(text: &str) -> Option<String> {
    let rest = &text[text.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

/// A role name as SQL shows it: quoted unless plainly lower-case.
pub fn quote_ident(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_cover_raw_and_decoded_password() {
        let t = Target::new(
            Some("postgres://u:p%40ss%3Aword@h:5432/d".into()),
            Duration::from_secs(1),
        );
        let s = t.secrets();
        assert!(s.contains(&"p%40ss%3Aword".to_string()));
        assert!(s.contains(&"p@ss:word".to_string()));
        assert_eq!(crate::error::line::redact("x p@ss:word y", &s), "x *** y");
    }

    #[test]
    fn malformed_url_is_a_usage_error_without_the_url() {
        let t = Target::new(
            Some("postgres://u:secretpw@h:notaport/d".into()),
            Duration::from_secs(1),
        );
        let err = t.options().unwrap_err();
        assert_eq!(crate::error::kind_of(&err), ExitKind::Usage);
        assert!(!format!("{err:#}").contains("secretpw"));
    }

    #[test]
    fn secrets_survive_an_unparsable_url() {
        assert_eq!(
            secrets_in("postgres://u:hunter2@h:notaport/d"),
            vec!["hunter2".to_string(), "hunter2".to_string()]
        );
        assert!(secrets_in("postgres://u@h/d").is_empty());
        assert!(secrets_in("not a url").is_empty());
        let s = secrets_in("postgres://u:p%ZZw@127.0.0.1:1/d");
        assert!(s.contains(&"p%ZZw".to_string()), "{s:?}");
    }

    #[test]
    fn empty_url_is_a_usage_error() {
        let t = Target::new(Some("  ".into()), Duration::from_secs(1));
        assert_eq!(
            crate::error::kind_of(&t.options().unwrap_err()),
            ExitKind::Usage
        );
    }
}
