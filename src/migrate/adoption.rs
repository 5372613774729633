//! quota never adopts an application's objects. V1's `ADD COLUMN IF NOT
//! EXISTS` and V3's `CREATE TABLE IF NOT EXISTS` would silently take over a
//! period column or a `public.clip_limits` table the application already
//! has, and their reverts would later drop it with its data. So before a
//! version runs, every object it creates must be absent.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::StatusReport;
use crate::error;

/// Refuses (precondition) when a version about to be applied, up to
/// `target`, would create an object that already exists.
pub async fn refuse(conn: &mut PgConnection, status: &StatusReport, target: u32) -> Result<()> {
    let pending: Vec<u32> = status
        .pending()
        .filter(|m| m.version <= target)
        .map(|m| m.version)
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let present: Vec<(i32, String)> = db::query_as(sql::QUOTA_OBJECTS_PRESENT)
        .fetch_all(&mut *conn)
        .await
        .context("looking for objects the migrations would create")?;
    let clashes: Vec<String> = present
        .iter()
        .filter(|(v, _)| pending.contains(&(*v as u32)))
        .map(|(v, object)| format!("{object} (created by V{v})"))
        .collect();
    if clashes.is_empty() {
        return Ok(());
    }
    Err(error::precondition(format!(
        "{} already exists but the version that creates it is not recorded: it belongs to the \
         application, and quota will not adopt it (its rollback would drop it); rename it, or \
         drop it if it is a leftover of quota, then run the command again; nothing was installed",
        clashes.join(", ")
    )))
}
