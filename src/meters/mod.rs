//! The meters quota enforces and their limits per tier, read the way the
//! function and the trigger count: `scrapes` (the RPC: counter
//! `users.usage_this_month`, limit `users.plan_limits_scrapes`, a column of
//! each user row) and `clips` (the trigger: counter
//! `user_usage.clips_this_month`, limit per tier in `public.clip_limits`, an
//! unknown tier gets `free`'s). `limits` lists and sets them; `report`,
//! `metrics`, `check tiers` and `user` read them from here. A subject's
//! tier is `users.subscription_tier` for both meters. Meter-specific SQL
//! stays in `sql/` (`meter_tiers.sql`, `limits_set_*.sql`).

pub(crate) mod limits;

use anyhow::Result;
use serde::Serialize;
use sqlx::PgConnection;

use crate::{db, sql};

/// A meter, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Meter {
    /// The RPC increment_usage_if_allowed: users.usage_this_month against users.plan_limits_scrapes.
    Scrapes,
    /// The clip trigger: user_usage.clips_this_month against public.clip_limits by tier.
    Clips,
}

impl Meter {
    pub const ALL: [Meter; 2] = [Meter::Scrapes, Meter::Clips];

    pub fn name(self) -> &'static str {
        match self {
            Meter::Scrapes => "scrapes",
            Meter::Clips => "clips",
        }
    }

    fn from_name(name: &str) -> Option<Meter> {
        Meter::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The default mapping's meter `--meter NAME` names (no quota.toml);
    /// any other name is a usage error.
    pub fn named(name: &str) -> anyhow::Result<Meter> {
        Meter::from_name(name).ok_or_else(|| {
            crate::error::usage(format!(
                "no meter {name}: without quota.toml the meters are scrapes and clips (give --config PATH for yours)"
            ))
        })
    }
}

impl std::fmt::Display for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One row of `meter_tiers.sql`: a meter's tier (for scrapes, a tier and
/// one of the limits its users have) and the subjects on it this month.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct TierRow {
    pub meter: String,
    /// `None`: users with no tier (NULL).
    pub tier: Option<String>,
    /// `None`: no limit, which admits nothing.
    pub limit: Option<i64>,
    /// The limit is the tier's own (clips: its row in clip_limits; scrapes:
    /// not NULL); otherwise `free`'s (clips) or none (scrapes).
    pub own_limit: bool,
    pub subjects: i64,
    pub at_limit: i64,
    pub near_limit: i64,
    pub usage: i64,
}

impl TierRow {
    pub fn meter(&self) -> Option<Meter> {
        Meter::from_name(&self.meter)
    }
}

/// Every meter's tiers with their limits and subjects; `threshold` (0–1) is
/// the share of a limit that counts as near it. Read in the caller's
/// transaction.
pub(crate) async fn tiers(conn: &mut PgConnection, threshold: f64) -> Result<Vec<TierRow>> {
    db::query_as(sql::METER_TIERS)
        .bind(threshold)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| crate::users::explain(e, "reading limits and usage per meter and tier"))
}

/// A tier users are on without a clip limit of its own.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Unlimited {
    pub tier: String,
    pub subjects: i64,
    /// A tier of `clip_limits` that differs only in case or blanks.
    pub similar: Option<String>,
}

impl Unlimited {
    /// "tier 'Pro' (3 users) has no clip limit of its own: the free limit applies (did you mean 'pro'?)"
    pub fn describe(&self) -> String {
        let users = if self.subjects == 1 {
            "1 user".to_string()
        } else {
            format!("{} users", self.subjects)
        };
        format!(
            "tier '{}' ({users}) has no clip limit of its own: the free limit applies{}",
            self.tier,
            did_you_mean(self.similar.as_deref())
        )
    }
}

/// " (did you mean 'pro'?)", or nothing.
pub(crate) fn did_you_mean(similar: Option<&str>) -> String {
    similar
        .map(|s| format!(" (did you mean '{s}'?)"))
        .unwrap_or_default()
}

/// Tiers users are on without a clip limit of their own (typos such as
/// 'Pro' for 'pro'), most users first; empty before V3.
pub(crate) async fn unlimited_tiers(conn: &mut PgConnection) -> Result<Vec<Unlimited>> {
    let installed: bool = db::query_scalar(sql::CLIP_LIMITS_INSTALLED)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| crate::users::explain(e, "looking for public.clip_limits"))?;
    if !installed {
        return Ok(Vec::new());
    }
    db::query_as(sql::TIERS_WITHOUT_LIMIT)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| crate::users::explain(e, "reading tiers without a clip limit"))
}

/// The share of a limit that counts as near it unless `--threshold` says
/// otherwise (`report`, `metrics`).
pub const DEFAULT_NEAR_THRESHOLD: f64 = 0.9;

/// The hint for a tier without a limit of its own.
pub const HINT_TIER: &str =
    "correct the users' subscription_tier, or give the tier a limit of its \
     own: quota limits set TIER N --meter clips";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_reads_plainly() {
        let u = Unlimited {
            tier: "Pro".into(),
            subjects: 1,
            similar: Some("pro".into()),
        };
        assert_eq!(
            u.describe(),
            "tier 'Pro' (1 user) has no clip limit of its own: the free limit applies (did you \
             mean 'pro'?)"
        );
        assert_eq!(Meter::from_name("clips"), Some(Meter::Clips));
    }
}
