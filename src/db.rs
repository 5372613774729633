//! The one place that opens connections to the database.
//!
//! Connection settings come from `--database-url` / `DATABASE_URL`, or from
//! libpq's `PG*` variables when neither is given. Every failure to connect is
//! turned into one line of [`ExitKind::Connect`] that says what to check next,
//! and never contains the password.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::ConnectOptions;

use crate::exit::{self, ExitKind};

/// Supabase's transaction pooler (Supavisor/PgBouncer in transaction mode):
/// session state such as advisory locks does not survive between statements.
pub const SUPABASE_TRANSACTION_POOLER_PORT: u16 = 6543;

/// Where and how to connect, as given on the command line.
#[derive(Clone, Debug)]
pub struct Target {
    url: Option<String>,
    pub connect_timeout: Duration,
}

impl Target {
    pub fn new(url: Option<String>, connect_timeout: Duration) -> Self {
        Target {
            url: url.filter(|u| !u.trim().is_empty()),
            connect_timeout,
        }
    }

    /// Strings that must never be printed: the password from the URL (raw and
    /// percent-decoded) and from `PGPASSWORD`.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        if let Some(password) = self.url.as_deref().and_then(url_password) {
            let decoded = percent_encoding::percent_decode_str(&password)
                .decode_utf8_lossy()
                .into_owned();
            secrets.push(password);
            secrets.push(decoded);
        }
        if let Ok(p) = std::env::var("PGPASSWORD") {
            secrets.push(p);
        }
        secrets.retain(|s| s.len() >= 3);
        secrets
    }

    /// Parsed connection options; a malformed URL is a usage error whose
    /// message does not repeat the URL (it may hold a password).
    pub fn options(&self) -> Result<PgConnectOptions> {
        let options = match &self.url {
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
            // Logging every statement at INFO would drown the CLI's output.
            .log_statements(log::LevelFilter::Off))
    }

    /// A short, password-free description of the server, for messages.
    pub fn describe(&self) -> String {
        match self.options() {
            Ok(o) => match o.get_socket() {
                Some(s) => format!("socket {}", s.display()),
                None => format!("{}:{}", o.get_host(), o.get_port()),
            },
            Err(_) => "the database".to_string(),
        }
    }

    /// True when the port is Supabase's transaction pooler.
    pub fn is_transaction_pooler(&self) -> bool {
        self.options()
            .map(|o| o.get_port() == SUPABASE_TRANSACTION_POOLER_PORT)
            .unwrap_or(false)
    }

    /// Opens one connection, bounded by the connect timeout.
    pub async fn connect(&self) -> Result<PgConnection> {
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
        sqlx::Error::Tls(tls) => format!(
            "cannot connect to {server}: TLS failed ({tls}); with sslmode=require the server must \
             have ssl=on, or use sslmode=disable/prefer for a local server"
        ),
        other => format!("cannot connect to {server}: {other}"),
    }
}

fn describe_url_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// The password part of a URL, still percent-encoded, if there is one.
fn url_password(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed.password().map(str::to_string)
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
    fn pooler_port_is_detected() {
        let t = Target::new(
            Some("postgres://u@db.example.com:6543/postgres".into()),
            Duration::from_secs(1),
        );
        assert!(t.is_transaction_pooler());
        let t = Target::new(
            Some("postgres://u@db.example.com:5432/postgres".into()),
            Duration::from_secs(1),
        );
        assert!(!t.is_transaction_pooler());
    }
}
