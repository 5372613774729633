//! `quota check trigger`: the clip limit trigger exists on public.clips,
//! fires on INSERT as the migrations define it (AFTER since V4, so only
//! inserted rows are charged; BEFORE at V3; for each row up to V6, for each
//! statement with the transition table `inserted_clips` since V7), and is
//! enabled.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::{Findings, HINT_APPLY, HINT_REPAIR};

// pg_trigger.tgtype bits (src/include/catalog/pg_trigger.h).
pub(crate) const ROW: i32 = 1;
pub(crate) const BEFORE: i32 = 2;
pub(crate) const INSERT: i32 = 4;
const INSTEAD: i32 = 64;

/// One row of `check_trigger.sql`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TriggerRow {
    pub on_clips: Option<bool>,
    pub table_name: String,
    pub tgtype: i32,
    pub enabled: String,
    pub calls_function: Option<bool>,
    pub function: String,
    pub unconditional: bool,
    pub definition: String,
    /// The transition table of inserted rows it names (V7), if any.
    pub new_table: Option<String>,
}

pub(crate) async fn find(conn: &mut PgConnection) -> Result<Option<TriggerRow>> {
    let rows: Vec<TriggerRow> = db::query_as(sql::CHECK_TRIGGER)
        .fetch_all(&mut *conn)
        .await
        .context("reading pg_trigger")?;
    Ok(rows.into_iter().find(|r| r.on_clips == Some(true)))
}

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    let Some(t) = find(conn).await? else {
        f.fail(
            "enforce_clip_limit_trigger does not exist on public.clips: clip inserts are not limited",
            HINT_APPLY,
        );
        return Ok(f);
    };
    let at = crate::migrate::status(conn).await?.database_version;
    let def = super::drift::embedded_trigger(at);
    let fires = def.fires();
    if t.tgtype & (BEFORE | INSTEAD) != def.tgtype() & BEFORE
        || t.tgtype & INSERT == 0
        || t.tgtype & ROW != def.tgtype() & ROW
        || t.new_table.as_deref() != def.new_table()
    {
        f.fail(
            format!("the trigger is not {fires}: {}", t.definition),
            HINT_REPAIR,
        );
    }
    match t.enabled.as_str() {
        "O" | "A" => {}
        "D" => f.fail(
            "the trigger is disabled: clip inserts are not limited",
            "run `ALTER TABLE public.clips ENABLE TRIGGER enforce_clip_limit_trigger` (or `quota migrate apply --repair`)",
        ),
        _ => f.fail(
            "the trigger fires only when session_replication_role = replica: clip inserts are not limited",
            "run `ALTER TABLE public.clips ENABLE TRIGGER enforce_clip_limit_trigger` (or `quota migrate apply --repair`)",
        ),
    }
    if t.calls_function != Some(true) {
        f.fail(
            format!(
                "the trigger calls {}, not public.enforce_clip_limit()",
                t.function
            ),
            HINT_REPAIR,
        );
    }
    if !t.unconditional {
        f.fail(
            format!(
                "the trigger has a WHEN condition, so some inserts skip the limit: {}",
                t.definition
            ),
            HINT_REPAIR,
        );
    }
    free_tier_limit(conn, &mut f).await?;
    if !f.has_failures() {
        f.note(format!(
            "{fires} on {}, enabled, calls {}",
            t.table_name, t.function
        ));
    }
    Ok(f)
}

/// The `free` row of public.clip_limits is every unknown tier's limit;
/// without it the trigger fails closed and refuses every such clip.
async fn free_tier_limit(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let installed: bool = db::query_scalar(sql::CLIP_LIMITS_INSTALLED)
        .fetch_one(&mut *conn)
        .await
        .context("looking for public.clip_limits")?;
    let free: Option<i32> = if installed {
        db::query_scalar(sql::FREE_CLIP_LIMIT)
            .fetch_optional(&mut *conn)
            .await
            .context("reading the free tier's limit from public.clip_limits")?
    } else {
        None
    };
    match free {
        Some(limit) if limit > 0 => f.note(format!("free tier limit {limit} clips a month")),
        Some(_) => f.fail(
            "public.clip_limits gives the free tier 0 clips: every free or unknown-tier user is refused",
            "raise it if that is not intended: `quota limits set free 50` (or `UPDATE public.clip_limits SET monthly_limit = 50 WHERE tier = 'free'`)",
        ),
        None if installed => f.fail(
            "public.clip_limits has no 'free' row: every free or unknown-tier user is refused every clip",
            HINT_REPAIR,
        ),
        None => f.fail(
            "public.clip_limits is missing: the trigger refuses every clip",
            HINT_REPAIR,
        ),
    }
    Ok(())
}
