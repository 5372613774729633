//! What a rollback would discard besides definitions: reverting V3 drops
//! `public.clip_limits`, and with it every limit edited since install.
//! `rollback --dry-run` and the confirmation prompt list them; the revert
//! step keeps them in `quota.saved_clip_limits` ([`save`]) and the next
//! apply of V3 puts them back ([`restore`]).

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{Executor, PgConnection};

use super::Step;

/// The version whose revert drops `public.clip_limits`.
pub(crate) const CLIP_LIMITS_VERSION: u32 = 3;

/// One row of `public.clip_limits` that differs from the seeded defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct EditedLimit {
    pub tier: String,
    pub monthly_limit: i32,
    /// The seeded limit of this tier; `None` for a tier added since install.
    pub seeded: Option<i32>,
}

impl std::fmt::Display for EditedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seeded {
            None => write!(f, "{}={} (added)", self.tier, self.monthly_limit),
            Some(s) => write!(f, "{}={} (changed from {s})", self.tier, self.monthly_limit),
        }
    }
}

/// The edited limits that reverting `plan` would drop; empty when the plan
/// keeps V3 or nothing was edited.
pub async fn discarded_by(conn: &mut PgConnection, plan: &[Step]) -> Result<Vec<EditedLimit>> {
    if !plan.iter().any(|s| s.version == CLIP_LIMITS_VERSION) {
        return Ok(Vec::new());
    }
    let installed: bool = db::query_scalar(sql::CLIP_LIMITS_INSTALLED)
        .fetch_one(&mut *conn)
        .await
        .context("looking for public.clip_limits")?;
    if !installed {
        return Ok(Vec::new());
    }
    db::query_as(sql::CLIP_LIMITS_EDITED)
        .fetch_all(&mut *conn)
        .await
        .context("reading public.clip_limits for limits edited since install")
}

/// ", and drops clip limits edited since install: enterprise=10000 (added)"
/// for the prompt; empty when nothing edited is lost.
pub fn warning(edited: &[EditedLimit]) -> String {
    if edited.is_empty() {
        return String::new();
    }
    let list: Vec<String> = edited.iter().map(|e| e.to_string()).collect();
    format!(
        "; this drops public.clip_limits with limits edited since install: {} (they are kept in \
         quota.saved_clip_limits and the next `quota migrate apply` restores them)",
        list.join(", ")
    )
}

/// In V3's revert step, before the revert drops `public.clip_limits`: when
/// limits were edited since install, keeps the whole table in
/// `quota.saved_clip_limits` and returns what was kept (empty otherwise).
pub(crate) async fn save(conn: &mut PgConnection) -> Result<Vec<SavedLimit>, sqlx::Error> {
    (&mut *conn)
        .execute(sqlx::raw_sql(sql::SAVED_LIMITS_SAVE))
        .await?;
    saved(conn).await
}

/// In V3's apply step, after V3 seeded `public.clip_limits`: when a
/// rollback saved edited limits, makes the table exactly what it saved,
/// drops the copy, and returns the limits restored (empty otherwise).
pub(crate) async fn restore(conn: &mut PgConnection) -> Result<Vec<SavedLimit>, sqlx::Error> {
    let rows = saved(conn).await?;
    if !rows.is_empty() {
        (&mut *conn)
            .execute(sqlx::raw_sql(sql::SAVED_LIMITS_RESTORE))
            .await?;
    }
    Ok(rows)
}

/// The rows of `quota.saved_clip_limits`; empty when there is no such table.
pub(crate) async fn saved(conn: &mut PgConnection) -> Result<Vec<SavedLimit>, sqlx::Error> {
    let exists: bool = db::query_scalar(sql::SAVED_LIMITS_EXISTS)
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    db::query_as(sql::SAVED_LIMITS_ROWS)
        .fetch_all(&mut *conn)
        .await
}

/// One limit kept across a rollback.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SavedLimit {
    pub tier: String,
    pub monthly_limit: i32,
}

/// "free=10, enterprise=10000" for a note on stderr.
pub fn listed(limits: &[SavedLimit]) -> String {
    let list: Vec<String> = limits
        .iter()
        .map(|l| format!("{}={}", l.tier, l.monthly_limit))
        .collect();
    list.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_and_changed_tiers_read_plainly() {
        let e = [
            EditedLimit {
                tier: "enterprise".into(),
                monthly_limit: 10000,
                seeded: None,
            },
            EditedLimit {
                tier: "free".into(),
                monthly_limit: 10,
                seeded: Some(50),
            },
        ];
        assert_eq!(e[0].to_string(), "enterprise=10000 (added)");
        assert_eq!(e[1].to_string(), "free=10 (changed from 50)");
        assert!(warning(&e).contains("enterprise=10000 (added), free=10 (changed from 50)"));
        assert_eq!(warning(&[]), "");
    }
}
