//! The cross-user guard, probed live: the RPC called as PostgREST would
//! call it for another user's id, on every path a JWT can take, in
//! transactions that are always rolled back.

use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::super::{Findings, HINT_REPAIR, RPC};
use crate::{db, error, sql};

/// One way a request can carry a JWT, as PostgREST versions pass it.
#[derive(Clone, Debug)]
struct JwtPath {
    /// Shown in findings.
    label: String,
    /// `SET LOCAL ROLE` to this role first; `None` switches no role.
    role: Option<String>,
    /// `request.jwt.claims` JSON, with the sub filled in.
    claims: Option<fn(&str) -> serde_json::Value>,
    /// The per-claim settings of older PostgREST: `request.jwt.claim.sub` and `.role`.
    legacy: bool,
}

/// How one guarded call ended.
enum Call {
    Returned,
    Refused,
    Error(String, String),
}

/// The paths the probe tries: as `authenticated` (when this session may
/// become it and it can execute the RPC) with full claims, claims without
/// a role, only the legacy per-claim settings; as each role inheriting
/// `authenticated` that this session may become; and with no role switched
/// but claims set (what a custom role looks like to the guard).
async fn jwt_paths(conn: &mut PgConnection) -> Result<Vec<JwtPath>> {
    let roles: Vec<String> = db::query_scalar(sql::CAN_BECOME_AUTHENTICATED)
        .bind(RPC)
        .fetch_all(&mut *conn)
        .await
        .context("listing the roles the guard test can run as")?;
    let full = |sub: &str| serde_json::json!({ "role": "authenticated", "sub": sub });
    let no_role = |sub: &str| serde_json::json!({ "sub": sub, "aud": "authenticated" });
    // An anonymous request's JWT has no sub at all.
    let anon = |_: &str| serde_json::json!({ "role": "anon" });
    let mut paths = Vec::new();
    for role in &roles {
        let is_authenticated = role == "authenticated";
        if role == "anon" {
            paths.push(JwtPath {
                label: "as anon with an anonymous JWT".into(),
                role: Some(role.clone()),
                claims: Some(anon),
                legacy: false,
            });
            continue;
        }
        paths.push(JwtPath {
            label: format!("as {role} with request.jwt.claims"),
            role: Some(role.clone()),
            claims: Some(full),
            legacy: false,
        });
        if is_authenticated {
            paths.push(JwtPath {
                label: "as authenticated with claims without a role claim".into(),
                role: Some(role.clone()),
                claims: Some(no_role),
                legacy: false,
            });
            paths.push(JwtPath {
                label: "as authenticated with only the legacy request.jwt.claim.sub/.role settings"
                    .into(),
                role: Some(role.clone()),
                claims: None,
                legacy: true,
            });
        }
    }
    paths.push(JwtPath {
        label: "with no role switched and request.jwt.claims set".into(),
        role: None,
        claims: Some(full),
        legacy: false,
    });
    paths.push(JwtPath {
        label: "with no role switched and only the legacy per-claim settings".into(),
        role: None,
        claims: None,
        legacy: true,
    });
    Ok(paths)
}

/// Calls the RPC for `target` the way PostgREST runs a request whose JWT
/// names `sub`, inside a transaction that is always rolled back.
async fn guarded_call(
    conn: &mut PgConnection,
    path: &JwtPath,
    sub: Uuid,
    target: Uuid,
) -> Result<Call> {
    let mut tx = conn.begin().await.context("starting the guard test")?;
    let sub_text = sub.to_string();
    let mut settings: Vec<(&str, String)> = Vec::new();
    if let Some(claims) = path.claims {
        settings.push(("request.jwt.claims", claims(&sub_text).to_string()));
    }
    if path.legacy {
        settings.push(("request.jwt.claim.sub", sub_text.clone()));
        settings.push(("request.jwt.claim.role", "authenticated".to_string()));
    }
    if let Some(role) = &path.role {
        settings.push(("role", role.clone()));
    }
    for (name, value) in settings {
        db::query(sql::SET_LOCAL_SETTING)
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("setting {name} for the guard test"))?;
    }
    let result = db::query(sql::CALL_RPC_ROWS)
        .bind(target)
        .fetch_all(&mut *tx)
        .await;
    tx.rollback().await.context("rolling back the guard test")?;
    Ok(match result {
        Ok(_) => Call::Returned,
        Err(e) => match error::checks::guard_refusal(&e) {
            error::checks::GuardAnswer::Refused => Call::Refused,
            error::checks::GuardAnswer::Other { code, message } => Call::Error(code, message),
        },
    })
}

/// On every JWT path the guard refuses another user's id; on the first
/// (authenticated with full claims) it lets the caller's own id through.
pub(super) async fn guard(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let paths = jwt_paths(conn).await?;
    let (caller, victim) = (Uuid::new_v4(), Uuid::new_v4());
    let mut refused = 0;
    for path in &paths {
        let who = &path.label;
        match guarded_call(conn, path, caller, victim).await? {
            Call::Refused => refused += 1,
            Call::Returned => f.fail(
                format!("cross-user guard missing: a call {who} for another user's id returned a row"),
                HINT_REPAIR,
            ),
            Call::Error(code, msg) if code == error::sqlstate::NO_DATA_FOUND => f.fail(
                format!("cross-user guard missing: a call {who} for another user's id got past it (it failed later: {msg})"),
                HINT_REPAIR,
            ),
            Call::Error(code, msg) => f.fail(
                format!("the guard test {who} failed unexpectedly (SQLSTATE {code}): {msg}"),
                HINT_REPAIR,
            ),
        }
    }
    if f.has_failures() {
        return Ok(());
    }
    // Own id: the guard must let it through (the unknown id then fails with P0002).
    // Any path whose JWT carries a sub (not anon's); the no-role ones always do.
    let Some(first) = paths.iter().find(|p| p.role.as_deref() != Some("anon")) else {
        return Ok(());
    };
    match guarded_call(conn, first, victim, victim).await? {
        Call::Error(code, _) if code == error::sqlstate::NO_DATA_FOUND => f.note(format!(
            "cross-user guard refused another user's id on all {refused} JWT paths (SQLSTATE 42501) \
             and let the caller's own id through"
        )),
        Call::Refused => f.fail("the cross-user guard refuses callers their own id too", HINT_REPAIR),
        Call::Returned => f.fail("the RPC returned a row for a user that does not exist", HINT_REPAIR),
        Call::Error(code, msg) => f.fail(
            format!(
                "a call {} for the caller's own id failed unexpectedly (SQLSTATE {code}): {msg}",
                first.label
            ),
            HINT_REPAIR,
        ),
    }
    Ok(())
}
