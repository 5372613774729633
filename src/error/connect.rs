//! Connection failures and database-URL mistakes worth their own message: a password with raw URL
//! delimiters, and TLS failures explained for the sslmode actually asked for.
//! Also the one line for a failed connection attempt. `db` calls these;
//! nothing here ever includes the password in a message.

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::error;
use crate::error::sqlstate;

/// Characters that end the password part of a URL unless percent-encoded,
/// with their encoding.
const DELIMITERS: [(char, &str); 4] = [('@', "%40"), ('/', "%2F"), ('#', "%23"), ('?', "%3F")];

/// The password of `url` as its author meant it, when it holds a raw `/`,
/// `?` or `#`: URL parsers end the authority at the first of those, so the
/// host becomes part of the password and "failed to lookup address" would
/// follow. Taken as everything between the first `:` after the scheme and
/// the last `@` past that early end, unless the `@` belongs to a query
/// string (`?name=value`). A raw `@` alone is read right by the parser (the
/// last `@` of the authority ends the user info) and is not reported.
pub fn misparsed_password(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest.rfind('@')?;
    if at < authority_end {
        return None;
    }
    let before = &rest[..at];
    if let Some(q) = before[authority_end..].find('?') {
        if before[authority_end + q..].contains('=') {
            return None;
        }
    }
    let (_, password) = before.split_once(':')?;
    Some(password)
}

/// The delimiters found raw in a misparsed password (see
/// [`misparsed_password`]), in the order of [`DELIMITERS`]; empty when the
/// URL is read as meant.
pub fn raw_password_delimiters(url: &str) -> Vec<char> {
    let Some(password) = misparsed_password(url) else {
        return Vec::new();
    };
    DELIMITERS
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| password.contains(*c))
        .collect()
}

/// A usage error for a URL whose password holds raw delimiters: which ones
/// (never the password) and how to percent-encode them.
pub fn raw_password_error(found: &[char]) -> anyhow::Error {
    let chars: Vec<String> = found.iter().map(|c| format!("`{c}`")).collect();
    let encodings: Vec<String> = DELIMITERS
        .iter()
        .filter(|(c, _)| found.contains(c))
        .map(|(c, enc)| format!("{c} as {enc}"))
        .collect();
    error::usage(format!(
        "the password in the database URL contains a raw {}, which ends the password part of a \
         URL; percent-encode it in the URL ({}, and % as %25), e.g. with \
         `python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' \
         'PASSWORD'`, or pass the password in PGPASSWORD and leave it out of the URL",
        chars.join(", "),
        encodings.join(", ")
    ))
}

/// One line for a TLS failure, with advice for the sslmode in force:
/// `require` only needs the server to speak TLS, `verify-ca`/`verify-full`
/// also need its certificate to be trusted (and, for verify-full, to name
/// the host).
pub fn tls_failure(server: &str, options: &PgConnectOptions, detail: &str) -> String {
    let mode = match options.get_ssl_mode() {
        PgSslMode::VerifyFull => "verify-full",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::Require => "require",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Allow => "allow",
        PgSslMode::Disable => "disable",
    };
    let no_tls = detail.contains("does not support TLS");
    let advice = match (mode, no_tls) {
        (_, true) => format!(
            "with sslmode={mode} the server must have ssl=on; use sslmode=disable or prefer only \
             for a server on a network you trust"
        ),
        ("verify-full", false) => "with sslmode=verify-full the server's certificate must be \
             signed by a CA you trust (sslrootcert=/path/to/ca.crt) and name the host you \
             connect to; use sslmode=require to encrypt without verifying"
            .to_string(),
        ("verify-ca", false) => "with sslmode=verify-ca the server's certificate must be signed \
             by a CA you trust (sslrootcert=/path/to/ca.crt); use sslmode=require to encrypt \
             without verifying"
            .to_string(),
        _ => format!("check the server's TLS set-up (ssl=on, certificate) for sslmode={mode}"),
    };
    format!("cannot connect to {server}: TLS failed ({detail}); {advice}")
}

/// One line for a failed connection attempt, saying what to check next.
pub fn connect_failure(server: &str, options: &PgConnectOptions, e: &sqlx::Error) -> String {
    let user = options.get_username();
    match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some(sqlstate::INVALID_PASSWORD) => format!(
                "cannot connect to {server}: password authentication failed for user \"{user}\"; \
                 check the password in --database-url / DATABASE_URL / PGPASSWORD"
            ),
            Some(sqlstate::INVALID_AUTHORIZATION) => format!(
                "cannot connect to {server}: the server refused user \"{user}\" ({}); check the user \
                 name and pg_hba.conf",
                db.message()
            ),
            Some(sqlstate::INVALID_CATALOG_NAME) => format!(
                "cannot connect to {server}: {}; check the database name in the URL",
                db.message()
            ),
            Some(sqlstate::TOO_MANY_CONNECTIONS) => format!(
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
        sqlx::Error::Tls(tls) => tls_failure(server, options, &tls.to_string()),
        other => format!("cannot connect to {server}: {other}"),
    }
}

pub fn describe_url_error(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// Refuses a URL that cannot work before anything parses it: empty, not a
/// PostgreSQL URL, or a password with raw delimiters. The message never
/// repeats the URL (it may hold a password).
pub fn check_url(url: &str) -> anyhow::Result<()> {
    if url.trim().is_empty() {
        return Err(error::usage(
            "--database-url / DATABASE_URL is empty: give a URL such as \
             postgres://user:password@host:5432/database, or unset it to use PG* variables",
        ));
    }
    if !is_postgres_url(url) {
        return Err(error::usage(
            "invalid database URL: expected postgres://user:password@host:port/database \
             (or postgresql://)",
        ));
    }
    let delimiters = raw_password_delimiters(url);
    if !delimiters.is_empty() {
        return Err(raw_password_error(&delimiters));
    }
    Ok(())
}

/// A URL the driver could not parse.
pub fn invalid_url(e: &sqlx::Error) -> anyhow::Error {
    error::usage(format!(
        "invalid database URL ({}): expected postgres://user:password@host:port/database",
        describe_url_error(e)
    ))
}

/// No answer from the server within the connect timeout.
pub fn no_answer(server: &str, timeout: std::time::Duration) -> anyhow::Error {
    error::new(
        error::ExitKind::Connect,
        format!(
            "cannot connect to {server}: no answer within {}s; check the host and port, \
             firewalls, and that the server is running (--connect-timeout raises the limit)",
            timeout.as_secs()
        ),
    )
}

/// sqlx ignores the scheme; `mysql://...` must not be tried as Postgres.
fn is_postgres_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn raw_delimiters_in_the_password_are_found() {
        assert_eq!(
            raw_password_delimiters("postgres://u:p@ss/w#r?d@db.example.com:5432/postgres"),
            vec!['@', '/', '#', '?']
        );
        assert_eq!(
            raw_password_delimiters("postgres://u:pa/ss@h/db?sslmode=require"),
            vec!['/']
        );
        assert!(raw_password_delimiters("postgres://u:p%40ss@h:5432/db").is_empty());
        assert!(raw_password_delimiters("postgres://u@h/db").is_empty());
        assert!(raw_password_delimiters("postgres://h/db").is_empty());
        // An `@` in the query string is not a password's.
        assert!(raw_password_delimiters("postgres://u:pw@h/db?options=a@b").is_empty());
        assert!(raw_password_delimiters("postgres://h:5432/db?user=a@b").is_empty());
    }

    #[test]
    fn a_raw_at_sign_alone_is_read_as_meant() {
        let url = "postgres://u:p@ss@db.example.com:5432/postgres";
        assert!(raw_password_delimiters(url).is_empty());
        let opts = PgConnectOptions::from_str(url).unwrap();
        assert_eq!(opts.get_host(), "db.example.com");
        assert_eq!(opts.get_username(), "u");
    }

    #[test]
    fn the_advice_never_contains_the_password() {
        let url = "postgres://u:s3cr@t/pw@h/db";
        let found = raw_password_delimiters(url);
        let msg = format!("{:#}", raw_password_error(&found));
        assert!(msg.contains("raw `@`, `/`"), "{msg}");
        assert!(msg.contains("@ as %40, / as %2F"), "{msg}");
        assert!(!msg.contains("s3cr"), "{msg}");
        assert_eq!(
            error::kind_of(&raw_password_error(&found)),
            error::ExitKind::Usage
        );
    }

    #[test]
    fn tls_advice_follows_the_sslmode() {
        let opts = |mode: &str| {
            PgConnectOptions::from_str(&format!("postgres://u@h/db?sslmode={mode}")).unwrap()
        };
        let full = tls_failure(
            "h:5432",
            &opts("verify-full"),
            "server does not support TLS",
        );
        assert!(full.contains("with sslmode=verify-full the server must have ssl=on"));
        assert!(!full.contains("sslmode=require the server"), "{full}");
        let ca = tls_failure("h:5432", &opts("verify-ca"), "invalid peer certificate");
        assert!(
            ca.contains("sslmode=verify-ca") && ca.contains("sslrootcert"),
            "{ca}"
        );
        let req = tls_failure("h:5432", &opts("require"), "server does not support TLS");
        assert!(req.contains("with sslmode=require the server must have ssl=on"));
    }
}
