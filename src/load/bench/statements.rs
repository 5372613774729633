//! What each scenario sends: one simple-protocol message per operation,
//! for the floors and the enforcement alike (pgbench's default protocol),
//! and safe through a transaction pooler.

use anyhow::{Context, Result};
use uuid::Uuid;

use super::setup::Scratch;
use super::Scenario;
use crate::db::literal::{render_exact, JsonText, Lit};
use crate::db::Session;
use crate::load::naive::{self, Counter, Work};
use crate::load::{allowed, UserStatements};
use crate::sql;

/// The SQL of the insert scenarios, with the scratch schema and the
/// placeholders for clips' required columns filled in.
pub(super) struct Statements {
    insert_plain: String,
    insert_trigger: String,
}

impl Statements {
    pub(super) fn new(scratch: &Scratch) -> Result<std::sync::Arc<Self>> {
        let shape = scratch.shape()?;
        Ok(std::sync::Arc::new(Statements {
            insert_plain: shape.clips.fill(&scratch.sql(sql::BENCH_INSERT_PLAIN)),
            insert_trigger: shape.clips.fill(&scratch.sql(sql::BENCH_INSERT_TRIGGER)),
        }))
    }

    /// One client's statements, with its user's id rendered in.
    pub(super) fn for_user(&self, user: Uuid) -> Result<ClientStatements> {
        let with_id = |sql: &str| render_exact(sql, &[Lit::Uuid(user)]);
        let signed_in = authenticated_claims(user);
        Ok(ClientStatements {
            update_floor: with_id(sql::BENCH_UPDATE_FLOOR)?,
            insert_plain: with_id(&self.insert_plain)?,
            insert_trigger: with_id(&self.insert_trigger)?,
            rpc_floor: rpc_floor(&signed_in, user)?,
            rpc_service_role: postgrest_call("service_role", &service_role_claims(), user)?,
            rpc_authenticated: postgrest_call("authenticated", &signed_in, user)?,
            user: UserStatements::new(user),
        })
    }
}

impl super::generator::Workload for Statements {
    type Client = ClientStatements;

    fn client(&self, subject: Uuid) -> Result<ClientStatements> {
        self.for_user(subject)
    }

    fn operation<'a>(
        conn: &'a mut Session,
        scenario: Scenario,
        client: &'a ClientStatements,
    ) -> impl std::future::Future<Output = Result<()>> + Send + 'a {
        operation(conn, scenario, client)
    }
}

/// The floor of the PostgREST-shaped calls for `user`, with `claims`.
fn rpc_floor(claims: &serde_json::Value, user: Uuid) -> Result<String> {
    let claims = JsonText::new(claims)?;
    render_exact(sql::BENCH_RPC_FLOOR, &[Lit::Json(&claims), Lit::Uuid(user)])
}

/// A fixed instant for the claims' iat/exp: they are only read as text.
const CLAIMS_IAT: i64 = 1_767_225_600;

/// The payload of Supabase's service key, as PostgREST sets it.
fn service_role_claims() -> serde_json::Value {
    serde_json::json!({
        "iss": "supabase",
        "ref": "quotabenchprojectref",
        "role": "service_role",
        "iat": CLAIMS_IAT,
        "exp": CLAIMS_IAT + 10 * 365 * 86_400,
    })
}

/// A signed-in user's access-token payload as Supabase Auth issues it
/// (~600 bytes), with `sub` the scratch user: what PostgREST parses on
/// every request of that user.
pub fn authenticated_claims(user: Uuid) -> serde_json::Value {
    let email = format!("quota-scratch-{}@quota.invalid", user.simple());
    serde_json::json!({
        "aud": "authenticated",
        "exp": CLAIMS_IAT + 3600,
        "iat": CLAIMS_IAT,
        "iss": "https://quotabenchprojectref.supabase.co/auth/v1",
        "sub": user.to_string(),
        "email": email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {
            "email": email,
            "email_verified": true,
            "phone_verified": false,
            "sub": user.to_string(),
        },
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": CLAIMS_IAT}],
        "session_id": Uuid::from_u128(0x5e55_1011_0000_4000_8000_0000_0000_0001).to_string(),
        "is_anonymous": false,
    })
}

/// The statement one PostgREST-shaped request sends for `role`
/// (`service_role` or `authenticated`) with `claims`, calling the RPC for
/// `user`: exactly what the bench measures, for tests to replay.
pub fn postgrest_call(role: &str, claims: &serde_json::Value, user: Uuid) -> Result<String> {
    anyhow::ensure!(
        matches!(role, "service_role" | "authenticated"),
        "unknown API role {role}"
    );
    let claims = JsonText::new(claims)?;
    render_exact(
        &sql::BENCH_RPC_CALL.replace("{role}", role),
        &[Lit::Json(&claims), Lit::Uuid(user)],
    )
}

/// What one client sends, its user's id rendered in.
pub(super) struct ClientStatements {
    user: UserStatements,
    update_floor: String,
    insert_plain: String,
    insert_trigger: String,
    rpc_floor: String,
    rpc_service_role: String,
    rpc_authenticated: String,
}

/// One operation of `scenario`.
async fn operation(conn: &mut Session, scenario: Scenario, st: &ClientStatements) -> Result<()> {
    match scenario {
        Scenario::UpdateFloor => {
            conn.simple(&st.update_floor).await?;
        }
        Scenario::Function => {
            let rows = conn.simple(&st.user.call).await?;
            require_allowed(rows.first())?;
        }
        Scenario::RpcFloor => {
            let rows = conn.simple(&st.rpc_floor).await?;
            // set_config's row, then the UPDATE's: the floor really wrote.
            if rows.len() != 2 {
                anyhow::bail!("the floor's UPDATE did not find the bench user");
            }
        }
        Scenario::RpcServiceRole => {
            let rows = conn.simple(&st.rpc_service_role).await?;
            require_allowed(rows.last())?;
        }
        Scenario::RpcAuthenticated => {
            let rows = conn.simple(&st.rpc_authenticated).await?;
            require_allowed(rows.last())?;
        }
        Scenario::Naive => {
            naive::read_check_write(conn, &st.user, Counter::Scrapes, Work::Nothing)
                .await?
                .context("the bench user disappeared")?;
        }
        Scenario::InsertFloor => {
            conn.simple(&st.insert_plain).await?;
        }
        Scenario::Trigger => {
            conn.simple(&st.insert_trigger).await?;
        }
        Scenario::MeterUpdateFloor
        | Scenario::MeterFunction
        | Scenario::MeterInsertFloor
        | Scenario::MeterTrigger => {
            anyhow::bail!("internal error: a meter's scenario in the default bench")
        }
        Scenario::NaiveClip => {
            // The bench users' tier has an unreachable limit: every
            // operation does the whole read, check, insert and write.
            let unreachable = Counter::Clips(|_| i32::MAX);
            let work = Work::Statement(&st.insert_plain);
            naive::read_check_write(conn, &st.user, unreachable, work)
                .await?
                .context("the bench user disappeared")?;
        }
    }
    Ok(())
}

/// The RPC's answer must be an admission: the bench users' limit is
/// unreachable, so anything else means the bench measured a refusal.
pub(crate) fn require_allowed(row: Option<&sqlx::postgres::PgRow>) -> Result<()> {
    if !allowed(row)? {
        anyhow::bail!("the function refused a bench user with an unreachable limit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::literal::render;

    #[test]
    fn claims_are_a_realistic_access_token_payload_for_the_user() {
        let user = Uuid::new_v4();
        let claims = authenticated_claims(user);
        assert_eq!(claims["sub"], user.to_string());
        assert_eq!(claims["role"], "authenticated");
        let size = claims.to_string().len();
        assert!((500..=700).contains(&size), "{size} bytes");
        let sql = postgrest_call("authenticated", &claims, user).unwrap();
        assert!(sql.starts_with("BEGIN;") && sql.contains("'authenticated'"));
        assert!(sql.contains(&format!("increment_usage_if_allowed('{user}'::uuid)")));
        assert!(postgrest_call("postgres", &claims, user).is_err());
    }

    /// Every statement the bench sends carries the claims JSON exactly
    /// once and no comment: the SQL files' comments name the placeholders,
    /// and a comment used to carry the JWT a second time.
    #[test]
    fn bench_statements_send_the_jwt_once_and_no_comment() {
        let user = Uuid::new_v4();
        let signed_in = authenticated_claims(user);
        let cases = [
            (rpc_floor(&signed_in, user).unwrap(), signed_in.clone()),
            (
                postgrest_call("authenticated", &signed_in, user).unwrap(),
                signed_in.clone(),
            ),
            (
                postgrest_call("service_role", &service_role_claims(), user).unwrap(),
                service_role_claims(),
            ),
        ];
        for (sql, claims) in cases {
            let jwt = JsonText::new(&claims).unwrap();
            assert_eq!(sql.matches(jwt.as_sql()).count(), 1, "{sql}");
            assert_eq!(
                sql.matches(&user.to_string()).count(),
                1 + 2 * usize::from(claims == signed_in),
                "{sql}"
            );
            assert!(!sql.contains("--") && !sql.contains("/*"), "{sql}");
            assert!(crate::db::literal::placeholders(&sql).is_empty(), "{sql}");
        }
        // The other hot-loop statements: no comment, no placeholder left.
        let st = UserStatements::new(user);
        let plain = render(sql::BENCH_INSERT_PLAIN, &[Lit::Uuid(user)]);
        for sql in [
            render(sql::BENCH_UPDATE_FLOOR, &[Lit::Uuid(user)]),
            plain,
            st.call,
        ] {
            assert_eq!(sql.matches(&user.to_string()).count(), 1, "{sql}");
            assert!(!sql.contains("--"), "{sql}");
            assert!(crate::db::literal::placeholders(&sql).is_empty(), "{sql}");
        }
    }
}
