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

use crate::dburl;
use crate::exit::{self, ExitKind};

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
                return Err(exit::usage(
                    "--database-url / DATABASE_URL is empty: give a URL such as \
                     postgres://user:password@host:5432/database, or unset it to use PG* variables",
                ))
            }
            Some(url) if !is_postgres_url(url) => {
                return Err(exit::usage(
                    "invalid database URL: expected postgres://user:password@host:port/database \
                     (or postgresql://)",
                ))
            }
            Some(url) if !dburl::raw_password_delimiters(url).is_empty() => {
                return Err(dburl::raw_password_error(&dburl::raw_password_delimiters(url)))
            }
            Some(url) => PgConnectOptions::from_str(url).map_err(|e| {
                exit::usage(format!(
                    "invalid database URL ({}): expected postgres://user:password@host:port/database",
                    describe_url_error(&e)
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
            Err(_) => Err(exit::error(
                ExitKind::Connect,
                format!(
                    "cannot connect to {server}: no answer within {}s; check the host and port, \
                     firewalls, and that the server is running (--connect-timeout raises the limit)",
                    self.connect_timeout.as_secs()
                ),
            )),
            Ok(Err(e)) => Err(exit::error(
                ExitKind::Connect,
                connect_failure(&server, &options, &e),
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
/// protocol is the simple one too). Only types whose text form cannot hold
/// a quote are offered: a `Uuid` (hex digits and dashes) and integers.
/// Never add a string variant: user text is always bound.
pub mod literal {
    use uuid::Uuid;

    /// A typed value rendered as a SQL literal.
    #[derive(Clone, Copy, Debug)]
    pub enum Lit {
        Uuid(Uuid),
        Int(i64),
    }

    impl Lit {
        fn sql(self) -> String {
            match self {
                Lit::Uuid(id) => format!("'{id}'::uuid"),
                Lit::Int(n) => format!("({n})"),
            }
        }
    }

    /// `sql` with `$1`, `$2`, … replaced by the literals of `values`
    /// (highest first, so `$1` never eats the start of `$12`).
    pub fn render(sql: &str, values: &[Lit]) -> String {
        let mut out = sql.to_string();
        for (i, v) in values.iter().enumerate().rev() {
            out = out.replace(&format!("${}", i + 1), &v.sql());
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn renders_typed_values_only() {
            let id = Uuid::nil();
            let sql = render("SELECT f($1) WHERE a = $2", &[Lit::Uuid(id), Lit::Int(-3)]);
            assert_eq!(
                sql,
                "SELECT f('00000000-0000-0000-0000-000000000000'::uuid) WHERE a = (-3)"
            );
        }
    }
}

/// One line for a failed connection attempt, saying what to check next.
fn connect_failure(server: &str, options: &PgConnectOptions, e: &sqlx::Error) -> String {
    let user = options.get_username();
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") => format!(
                "cannot connect to {server}: password authentication failed for user \"{user}\"; \
                 check the password in --database-url / DATABASE_URL / PGPASSWORD"
            ),
            Some("28000") => format!(
                "cannot connect to {server}: the server refused user \"{user}\" ({}); check the user \
                 name and pg_hba.conf",
                db.message()
            ),
            Some("3D000") => format!(
                "cannot connect to {server}: {}; check the database name in the URL",
                db.message()
            ),
            Some("53300") => format!(
                "cannot connect to {server}: too many connections; retry later or raise max_connections"
            ),
            _ => format!("cannot connect to {server}: {}", db.message()),
        },
        sqlx::Error::Io(io) => format!(
            "cannot connect to {server}: {io}; check the host and port and that the server is running"
        ),
        sqlx::Error::Protocol(_) => format!(
            "cannot connect to {server}: the answer was not PostgreSQL's protocol; check that the \
             port is a PostgreSQL server's (not a proxy or another service)"
        ),
        sqlx::Error::Tls(tls) => dburl::tls_failure(server, options, &tls.to_string()),
        other => format!("cannot connect to {server}: {other}"),
    }
}

fn describe_url_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(inner) => inner.to_string(),
        other => other.to_string(),
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

/// True when the error means the connection to the server went away (server
/// crash, `pg_terminate_backend`, network): the server rolled back whatever
/// transaction was open.
pub fn is_connection_lost(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(err) = c.downcast_ref::<sqlx::Error>() {
            return match err {
                sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => true,
                // 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash_shutdown,
                // 57P03 cannot_connect_now, 08xxx connection exceptions.
                sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                    matches!(c.as_ref(), "57P01" | "57P02" | "57P03") || c.starts_with("08")
                }),
                _ => false,
            };
        }
        cause = c.source();
    }
    false
}

/// What to grant for a server "permission denied" message, naming `role`.
pub fn permission_hint(message: &str, role: &str) -> String {
    let role = quote_ident(role);
    let object = |kind: &str| {
        message
            .split_once(&format!("permission denied for {kind} "))
            .map(|(_, name)| name.trim().to_string())
    };
    if let Some(f) = object("function") {
        format!("as the function's owner run: GRANT EXECUTE ON FUNCTION {f} TO {role}")
    } else if let Some(s) = object("schema") {
        format!("as the schema's owner run: GRANT USAGE, CREATE ON SCHEMA {s} TO {role}")
    } else if let Some(t) = object("table") {
        format!(
            "as the table's owner run: GRANT SELECT ON {t} TO {role} (and INSERT, UPDATE, DELETE \
             for commands that write)"
        )
    } else if message.starts_with("must be owner of") {
        format!(
            "run quota as that owner (on Supabase: postgres), or as the owner run: GRANT <owner> TO {role}"
        )
    } else {
        format!("grant {role} the privilege named above, or run quota as the owner of the objects")
    }
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
    fn secrets_cover_raw_and_decoded_password() {
        let t = Target::new(
            Some("postgres://u:p%40ss%3Aword@h:5432/d".into()),
            Duration::from_secs(1),
        );
        let s = t.secrets();
        assert!(s.contains(&"p%40ss%3Aword".to_string()));
        assert!(s.contains(&"p@ss:word".to_string()));
        assert_eq!(redact("x p@ss:word y", &s), "x *** y");
    }

    #[test]
    fn malformed_url_is_a_usage_error_without_the_url() {
        let t = Target::new(
            Some("postgres://u:secretpw@h:notaport/d".into()),
            Duration::from_secs(1),
        );
        let err = t.options().unwrap_err();
        assert_eq!(crate::exit::kind_of(&err), ExitKind::Usage);
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
            crate::exit::kind_of(&t.options().unwrap_err()),
            ExitKind::Usage
        );
    }

    #[test]
    fn permission_hints_name_the_grant() {
        assert_eq!(
            permission_hint("permission denied for function pg_try_advisory_lock", "ro"),
            "as the function's owner run: GRANT EXECUTE ON FUNCTION pg_try_advisory_lock TO ro"
        );
        assert!(permission_hint("permission denied for schema public", "Ro")
            .contains("GRANT USAGE, CREATE ON SCHEMA public TO \"Ro\""));
    }
}
