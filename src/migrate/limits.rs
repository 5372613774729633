//! What a rollback discards besides definitions: reverting V3 drops
//! `public.clip_limits`, and with it every limit edited since install.
//! `rollback --dry-run` and the confirmation prompt list them.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::PgConnection;

use super::Step;

/// The version whose revert drops `public.clip_limits`.
const CLIP_LIMITS_VERSION: u32 = 3;

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
        "; this drops public.clip_limits with limits edited since install: {} (note them to set \
         them again after a re-apply)",
        list.join(", ")
    )
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
