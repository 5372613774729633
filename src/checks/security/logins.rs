//! Logins that inherit an API role. The RPC's guard protects requests that
//! PostgREST makes: it switches the role and sets the claims. A raw SQL
//! login that inherits `anon` or `authenticated` switches no role, so the
//! guard sees a direct session and lets it spend any user's quota (and it
//! may set `request.jwt.claims` itself in any case). One that inherits
//! `service_role` is as trusted as the service key: listed as a warning.

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::super::Findings;
use crate::db::quote_ident;
use crate::{db, sql};

/// LOGIN roles inheriting anon or authenticated fail; service_role only, warn.
pub(super) async fn api_logins(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let rows: Vec<(String, Vec<String>, Vec<String>)> = db::query_as(sql::CHECK_API_LOGINS)
        .fetch_all(&mut *conn)
        .await
        .context("listing the login roles that inherit the API roles")?;
    for (login, inherits, via) in rows {
        let via: Vec<String> = via.iter().map(|r| quote_ident(r)).collect();
        let revoke = format!("`REVOKE {} FROM {}`", via.join(", "), quote_ident(&login));
        let api_user = inherits.iter().any(|r| r != "service_role");
        if api_user {
            f.fail(
                format!(
                    "the login role {login} inherits {}: a raw SQL session as it switches no role, \
                     so the RPC's guard treats it as a direct session and lets it spend any user's \
                     quota (and it could set request.jwt.claims itself)",
                    inherits.join(", ")
                ),
                format!(
                    "{revoke}, or, if it must act for users, make it NOINHERIT and switch roles \
                     per request as PostgREST's authenticator does"
                ),
            );
        } else {
            f.warn(
                format!(
                    "the login role {login} inherits service_role: whoever holds its password may \
                     spend any user's quota and bypasses row level security"
                ),
                format!("{revoke} unless it is a trusted server-side role"),
            );
        }
    }
    Ok(())
}
