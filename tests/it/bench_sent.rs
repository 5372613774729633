//! What the bench's PostgREST-shaped message carries, as the server
//! received it: the statement alone, the JWT once, no comment.

use sqlx::{Executor, Row};

use crate::supabase;

/// The server's record of the message the `rpc_authenticated` scenario
/// sends (`pg_stat_activity.query`, the whole simple-protocol message up
/// to `track_activity_query_size`) is that message, whole: the user's JWT
/// once, no comment. It runs as the user. Before the fix the message
/// carried the JWT a second time inside a comment that named `$1`
/// (1877 bytes, cut at the default 1024).
#[tokio::test]
async fn the_postgrest_message_reaches_the_server_with_the_jwt_once() {
    let db = supabase::supabase_installed_db().await;
    let mut c = db.connect().await;
    let mut admin = db.connect_admin().await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_catalog.pg_backend_pid()")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let user: uuid::Uuid = supabase::FREE_USER.parse().unwrap();
    let claims = quota::authenticated_claims(user);
    let jwt = quota::JsonText::new(&claims).unwrap();
    let sql = quota::postgrest_call("authenticated", &claims, user).unwrap();
    let rows = c.fetch_all(sqlx::raw_sql(&sql)).await.unwrap();
    assert_eq!(rows[0].get::<String, _>(0), "authenticated");

    let seen: String =
        sqlx::query_scalar("SELECT query FROM pg_catalog.pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(seen, sql, "the server saw another message");
    assert_eq!(seen.matches(jwt.as_sql()).count(), 1, "{seen}");
    assert_eq!(seen.matches(&user.to_string()).count(), 3, "{seen}");
    assert!(seen.starts_with("BEGIN;") && !seen.contains("--"), "{seen}");
}
