//! Views that run as their owner (not `security_invoker`) write past the
//! caller's row level security and grants, at any depth: a view over a view
//! over the counters is as much a write path as one over the table itself.
//! Materialized views have no row level security at all: one over the
//! counters that an API role may read shows every user's usage.

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::super::Findings;
use super::writes::grantees;
use crate::{db, sql};

/// The counter and limit tables an API role must not write.
pub(super) const COUNTER_TABLES: [&str; 3] =
    ["public.users", "public.user_usage", "public.clip_limits"];

/// pg_relation_is_updatable's bits for UPDATE, INSERT, DELETE.
pub(super) const WRITES: i32 = 4 | 8 | 16;
/// pg_relation_is_updatable's bit for INSERT.
pub(super) const INSERTS: i32 = 8;

/// Every updatable owner-rights view over `tables` (at any depth) that a
/// role in `roles` may write through with a command in `commands` (bits).
/// `what` says what the write does, for the finding.
pub(super) async fn definer_views(
    conn: &mut PgConnection,
    roles: &[String],
    tables: &[&str],
    commands: i32,
    what: &str,
    f: &mut Findings,
) -> Result<()> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    let rows: Vec<(String, String, Vec<String>, Vec<String>)> =
        db::query_as(sql::CHECK_DEFINER_VIEWS)
            .bind(roles)
            .bind(&tables)
            .bind(commands)
            .fetch_all(&mut *conn)
            .await
            .with_context(|| format!("looking for updatable views over {}", tables.join(", ")))?;
    for (view, owner, bases, holders) in rows {
        if holders.is_empty() {
            continue;
        }
        f.fail(
            format!(
                "{} can write through the view {view} over {}: it is updatable and runs as its owner \
                 {owner} (not security_invoker), so row level security and grants of the caller do \
                 not apply{what}",
                holders.join(", "),
                bases.join(", ")
            ),
            format!("`ALTER VIEW {view} SET (security_invoker = true)`"),
        );
    }
    Ok(())
}

/// Materialized views over the counters that API roles may read: listed as
/// a warning (they write nothing; they disclose every user's usage).
pub(super) async fn counter_matviews(
    conn: &mut PgConnection,
    roles: &[String],
    f: &mut Findings,
) -> Result<()> {
    let tables: Vec<String> = COUNTER_TABLES.iter().map(|t| t.to_string()).collect();
    type Row = (String, Vec<String>, Vec<String>, bool, Vec<String>);
    let rows: Vec<Row> = db::query_as(sql::CHECK_COUNTER_MATVIEWS)
        .bind(roles)
        .bind(&tables)
        .fetch_all(&mut *conn)
        .await
        .context("looking for materialized views over the counter tables")?;
    for (view, bases, holders, public, direct) in rows {
        if holders.is_empty() {
            continue;
        }
        f.warn(
            format!(
                "{} can read the materialized view {view} over {}: a materialized view has no row \
                 level security, so they read every user's usage and limits (it cannot write them)",
                holders.join(", "),
                bases.join(", ")
            ),
            format!(
                "`REVOKE SELECT ON {view} FROM {}`",
                if direct.is_empty() && !public {
                    grantees(&holders, false)
                } else {
                    grantees(&direct, public)
                }
            ),
        );
    }
    Ok(())
}
