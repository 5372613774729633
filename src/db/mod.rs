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
use crate::sql;

pub mod literal;

/// Where and how to connect, as given on the command line.
#[derive(Clone, Debug)]
pub struct Database {
    url: Option<String>,
    pub connect_timeout: Duration,
}

impl Database {
    /// Seconds to wait for the server to answer a connection attempt unless
    /// `--connect-timeout` says otherwise.
    pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;

    /// An empty URL is kept (and refused by [`Database::options`]): silently
    /// falling back to `PG*` defaults would point a deploy script whose
    /// variable expanded to nothing at whatever server `localhost` is.
    pub fn new(url: Option<String>, connect_timeout: Duration) -> Self {
        Database {
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
            Some(url) => {
                error::connect::check_url(url)?;
                PgConnectOptions::from_str(url).map_err(|e| error::connect::invalid_url(&e))?
            }
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

    /// The URL without its password (and without a `password` query
    /// parameter), naming this database among many; without a URL, the
    /// server as [`Database::describe`] says it.
    pub fn label(&self) -> String {
        let Some(raw) = &self.url else {
            return self.describe();
        };
        let Ok(mut url) = url::Url::parse(raw) else {
            return self.describe();
        };
        let _ = url.set_password(None);
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !k.to_ascii_lowercase().contains("password"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        url.to_string()
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
            Err(_) => Err(error::connect::no_answer(&server, self.connect_timeout)),
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
            .begin_with(sql::BEGIN_READ_ONLY)
            .await
            .context("starting a read-only transaction on the database")
    }

    /// Runs `work` in a [`Session::read_only`] transaction and ends it
    /// explicitly: committed on success, rolled back (awaited) on error. A
    /// dropped `Transaction` only queues its ROLLBACK for the connection's
    /// next use, so a long load would otherwise keep the snapshot open
    /// (holding back vacuum) and pin a pooled server connection.
    pub async fn read<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.read_only().await?;
        let result = work(&mut tx).await;
        end(tx, result).await
    }

    /// [`Session::read`] for a read-write transaction ([`Session::begin`]):
    /// committed on success, rolled back (awaited) on error.
    pub async fn write<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.begin().await?;
        let result = work(&mut tx).await;
        end(tx, result).await
    }

    /// One parameterless statement (or several separated by `;`) by the
    /// simple-query protocol, in one message and one round trip: safe
    /// through a pooler without a transaction. Values in it must come from
    /// [`literal`], never from user text.
    pub async fn simple(&mut self, sql: &str) -> Result<Vec<PgRow>, sqlx::Error> {
        use sqlx::Executor;
        self.conn.fetch_all(sqlx::raw_sql(sql)).await
    }
}

/// Ends `tx` as `result` says: commit on success, an awaited rollback on
/// error (whose own failure is secondary to the error being returned).
async fn end<T>(tx: Transaction<'_, Postgres>, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            tx.commit()
                .await
                .context("committing a transaction on the database")?;
            Ok(value)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
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

/// A role name as SQL shows it (the one spelling lives in the leaf `names`).
pub use crate::names::quote_ident;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_cover_raw_and_decoded_password() {
        let t = Database::new(
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
        let t = Database::new(
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
        let t = Database::new(Some("  ".into()), Duration::from_secs(1));
        assert_eq!(
            crate::error::kind_of(&t.options().unwrap_err()),
            ExitKind::Usage
        );
    }
}
