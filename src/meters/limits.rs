//! `quota limits` and `quota limits set`: each meter's limit per tier with
//! the subjects on it, and changing one.
//!
//! clips: the tier's row in `public.clip_limits`; setting a tier that has
//! none creates it when users are on it (until then they get `free`'s), or
//! with `--create` (a new tier on purpose): a tier without a row that no
//! user is on is refused as unknown, a typo must not become a tier. scrapes: the limit is `users.plan_limits_scrapes`, a
//! column of each user row, so the list shows each distinct limit of a
//! tier, and setting a tier's limit sets it on every user of the tier (new
//! users get what the application writes there).

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::{did_you_mean, Meter, TierRow};
use crate::db::{self, Session};
use crate::{error, sql};

/// One line of `quota limits`.
#[derive(Clone, Debug, Serialize)]
pub struct LimitRow {
    pub meter: Meter,
    /// `null`: users with no tier.
    pub tier: Option<String>,
    /// `null`: no limit, which admits nothing.
    pub limit: Option<i64>,
    /// Whether the limit is the tier's own; when not, `note` says which applies.
    pub own_limit: bool,
    pub subjects: i64,
    pub note: Option<String>,
}

/// `quota limits`: a JSON array.
#[derive(Serialize)]
#[serde(transparent)]
pub struct LimitList {
    pub rows: Vec<LimitRow>,
}

impl LimitList {
    /// Tiers in use without a limit of their own.
    pub fn flagged(&self) -> usize {
        self.rows.iter().filter(|r| r.note.is_some()).count()
    }
}

/// Every meter's limits per tier, or only `meter`'s, in one read-only transaction.
pub async fn list(database: &db::Database, meter: Option<Meter>) -> Result<LimitList> {
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    let tiers = super::tiers(&mut tx, 1.0).await?;
    let unlimited = super::unlimited_tiers(&mut tx).await?;
    tx.commit().await?;
    let rows = tiers
        .into_iter()
        .filter_map(|t| {
            let m = t.meter()?;
            meter.is_none_or(|w| w == m).then(|| row(m, t, &unlimited))
        })
        .collect();
    Ok(LimitList { rows })
}

fn row(meter: Meter, t: TierRow, unlimited: &[super::Unlimited]) -> LimitRow {
    let note = match (meter, t.own_limit, t.tier.as_deref()) {
        (_, true, _) => None,
        (Meter::Clips, false, None) => Some("no tier set: the free limit applies".to_string()),
        (Meter::Clips, false, Some(tier)) => {
            let similar = unlimited
                .iter()
                .find(|u| u.tier == tier)
                .and_then(|u| u.similar.as_deref());
            Some(format!(
                "no limit of its own: the free limit applies{}",
                did_you_mean(similar)
            ))
        }
        (Meter::Scrapes, false, _) => {
            Some("plan_limits_scrapes is NULL: admits nothing".to_string())
        }
    };
    LimitRow {
        meter,
        tier: t.tier,
        limit: t.limit,
        own_limit: t.own_limit,
        subjects: t.subjects,
        note,
    }
}

/// A tier's limit before a change: the limits its subjects have now (one
/// for clips, or none for a tier without a row; each distinct one for
/// scrapes) and how many subjects are on it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TierLimit {
    pub limits: Vec<Option<i64>>,
    pub subjects: i64,
    /// clips: the tier has a row of its own in clip_limits.
    pub own_limit: bool,
    /// A tier that differs only in case or blanks (clips).
    pub similar: Option<String>,
    /// clips: the tiers with a row in clip_limits.
    pub known: Vec<String>,
}

/// What `quota limits set` did.
#[derive(Serialize)]
pub struct SetReport {
    pub meter: Meter,
    pub tier: String,
    /// The limits before (`null`: none).
    pub before: Vec<Option<i64>>,
    pub after: i64,
    pub subjects: i64,
    /// clips: the tier had no row and got one.
    pub created: bool,
    /// Rows changed: 0 when the limit already was N.
    pub changed: i64,
}

/// The warning for a limit of 0: it refuses every subject on the tier and,
/// for the clips of `free`, every user whose tier has no limit of its own
/// (`quota check trigger` then fails); `None` for any other limit.
pub fn zero_limit_warning(meter: Meter, tier: &str, limit: i64, subjects: i64) -> Option<String> {
    if limit != 0 {
        return None;
    }
    let users = match subjects {
        0 => "anyone who joins".to_string(),
        1 => "the 1 user on".to_string(),
        n => format!("all {n} users on"),
    };
    let one = match meter {
        Meter::Clips => "clip",
        Meter::Scrapes => "scrape",
    };
    let mut warning = format!("a {meter} limit of 0 refuses {users} tier '{tier}' every {one}");
    if meter == Meter::Clips && tier == "free" {
        warning.push_str(
            ", and every user with no tier or a tier without a limit of its own; `quota check \
             trigger` (and `verify`) fails until it is raised: quota limits set free 50 --yes",
        );
    }
    Some(warning)
}

/// The tier's limit now, read before asking (nothing changes); a clip tier
/// with no row that no user is on is refused unless `create`.
pub async fn current(
    db: &mut Session,
    meter: Meter,
    tier: &str,
    create: bool,
) -> Result<TierLimit> {
    let mut tx = db.read_only().await?;
    let tiers = super::tiers(&mut tx, 1.0).await?;
    let mut now = TierLimit::default();
    for t in tiers
        .iter()
        .filter(|t| t.meter() == Some(meter) && t.tier.as_deref() == Some(tier))
    {
        now.subjects += t.subjects;
        if meter == Meter::Scrapes || t.own_limit {
            now.limits.push(t.limit);
            now.own_limit |= t.own_limit;
        }
    }
    now.known = tiers
        .iter()
        .filter(|t| t.meter() == Some(Meter::Clips) && t.own_limit)
        .filter_map(|t| t.tier.clone())
        .collect();
    if meter == Meter::Clips {
        let (_, similar): (bool, Option<String>) = db::query_as(sql::CLIP_TIER_OWN)
            .bind(tier)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| crate::users::explain(e, "reading public.clip_limits"))?;
        now.similar = similar;
    }
    tx.commit().await?;
    if meter == Meter::Scrapes && now.subjects == 0 {
        return Err(error::precondition(format!(
            "no user is on tier '{tier}': the scrape limit is users.plan_limits_scrapes, a column \
             of each user row, so there is nothing to set; check the tier with `quota limits \
             --meter scrapes`"
        )));
    }
    if meter == Meter::Clips && !now.own_limit && now.subjects == 0 && !create {
        return Err(error::precondition(unknown_clip_tier(tier, &now)));
    }
    Ok(now)
}

/// The refusal of a clip tier with no row that no user is on: a typo, until
/// `--create` says it is a new tier on purpose.
fn unknown_clip_tier(tier: &str, now: &TierLimit) -> String {
    let hint = match (&now.similar, now.known.is_empty()) {
        (Some(_), _) => did_you_mean(now.similar.as_deref()),
        (None, false) => format!(" (tiers with a limit: {})", now.known.join(", ")),
        (None, true) => String::new(),
    };
    format!(
        "unknown tier '{tier}': it has no row in public.clip_limits and no user is on it{hint}; \
         nothing was changed: pass --create to add it as a new tier on purpose"
    )
}

/// Sets `meter`'s limit of `tier` to `limit` in one transaction.
pub async fn set(db: &mut Session, meter: Meter, tier: &str, limit: i32) -> Result<SetReport> {
    let mut tx = db.begin().await?;
    let doing = format!("setting the {meter} limit of tier '{tier}'");
    let report = match meter {
        Meter::Clips => {
            let (before, after): (Option<i64>, Option<i64>) = db::query_as(sql::LIMITS_SET_CLIPS)
                .bind(tier)
                .bind(limit)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| crate::users::explain(e, &doing))?;
            let after = after.unwrap_or(i64::from(limit));
            SetReport {
                meter,
                tier: tier.to_string(),
                before: before.map(Some).into_iter().collect(),
                after,
                subjects: 0,
                created: before.is_none(),
                changed: i64::from(before != Some(after)),
            }
        }
        Meter::Scrapes => {
            let (subjects, changed, before): (i64, i64, Option<Vec<Option<i32>>>) =
                db::query_as(sql::LIMITS_SET_SCRAPES)
                    .bind(tier)
                    .bind(limit)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| crate::users::explain(e, &doing))?;
            SetReport {
                meter,
                tier: tier.to_string(),
                before: before
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| l.map(i64::from))
                    .collect(),
                after: i64::from(limit),
                subjects,
                created: false,
                changed,
            }
        }
    };
    tx.commit()
        .await
        .with_context(|| format!("committing: {doing}"))?;
    Ok(report)
}
