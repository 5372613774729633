//! `quota check tiers`: every tier users are on has a clip limit of its
//! own in `public.clip_limits`. The trigger gives a tier without one the
//! free limit, so a typo ('Pro' for 'pro') silently gives a paying user the
//! free limit. Not wrong in itself (a tier may mean to get free's limit), so
//! a warning, naming each tier, its users and the tier it probably meant.
//! Last in `verify`: where the schema contract is broken (no
//! `subscription_tier`), its failed query is a warning here and the
//! `schema` check says what is missing.

use anyhow::Result;
use sqlx::PgConnection;

use super::{Findings, HINT_APPLY};
use crate::meters::{self, HINT_TIER};
use crate::{db, sql};

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    let installed: bool = db::query_scalar(sql::CLIP_LIMITS_INSTALLED)
        .fetch_one(&mut *conn)
        .await?;
    if !installed {
        f.warn(
            "public.clip_limits does not exist: no tier has a clip limit",
            HINT_APPLY,
        );
        return Ok(f);
    }
    let unlimited = match meters::unlimited_tiers(conn).await {
        Ok(u) => u,
        Err(e) => {
            f.warn(
                format!("could not compare the users' tiers with public.clip_limits: {e:#}"),
                "run `quota check schema`",
            );
            return Ok(f);
        }
    };
    if unlimited.is_empty() {
        f.note("every tier users are on has a clip limit of its own");
    }
    for u in &unlimited {
        f.warn(u.describe(), HINT_TIER);
    }
    Ok(f)
}
