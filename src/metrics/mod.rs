//! `quota metrics`: gauges per meter and tier for Prometheus — subjects,
//! at the limit, near it, usage summed, the limit, subjects without a limit
//! of their own — never one series per user. Each scrape is one read-only
//! transaction with a statement timeout; with `--verify` the checks of
//! `verify` run too, in their own rolled-back transaction. `serve.rs` answers
//! HTTP scrapes; `output/metrics.rs` renders OpenMetrics text.

pub(crate) mod serve;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::checks::{verdict, Status};
use crate::meters::{self, TierRow};
use crate::{db, error, sql};

/// At most this many tiers per meter get series of their own (most
/// subjects first); the rest are summed under [`OTHER_TIER`], so a column
/// of free-form tiers cannot blow up Prometheus.
pub const MAX_TIERS: usize = 50;
/// The tier label of the tiers beyond [`MAX_TIERS`].
pub const OTHER_TIER: &str = "_other";

/// One meter's tier: the values of its series.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TierSeries {
    pub meter: String,
    /// `""`: subjects with no tier (NULL).
    pub tier: String,
    pub subjects: i64,
    pub at_limit: i64,
    pub near_limit: i64,
    pub usage: i64,
    /// The tier's limit (scrapes: the highest of its users' limits);
    /// `None` when no subject on it has one.
    pub limit: Option<i64>,
    /// Subjects whose tier has no limit of its own (clips: a tier missing
    /// from clip_limits, which gets free's; scrapes: a NULL limit).
    pub without_limit: i64,
}

/// One check's verdict, with `--verify`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckSeries {
    pub check: &'static str,
    pub ok: bool,
}

/// One scrape.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub threshold: f64,
    pub tiers: Vec<TierSeries>,
    /// With `--verify`: every check, and whether none failed.
    pub verify: Option<Vec<CheckSeries>>,
    pub duration_seconds: f64,
}

/// How a scrape reads. Its defaults are the one set (`cli.rs` takes them
/// from here).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScrapeOptions {
    pub threshold: f64,
    pub statement_timeout: Duration,
    pub verify: bool,
}

impl ScrapeOptions {
    /// `--statement-timeout`, in milliseconds as the flag takes it.
    pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 5000;
}

impl Default for ScrapeOptions {
    fn default() -> Self {
        ScrapeOptions {
            threshold: meters::DEFAULT_NEAR_THRESHOLD,
            statement_timeout: Duration::from_millis(Self::DEFAULT_STATEMENT_TIMEOUT_MS),
            verify: false,
        }
    }
}

/// One scrape: a fresh connection, one read-only transaction with a
/// statement timeout, and with `verify` the checks.
pub async fn scrape(database: &db::Database, opts: ScrapeOptions) -> Result<Metrics> {
    let started = Instant::now();
    let mut db = database.connect().await?;
    let mut tx = db.read_only().await?;
    db::query(sql::SET_LOCAL_SETTING)
        .bind("statement_timeout")
        .bind(opts.statement_timeout.as_millis().to_string())
        .execute(&mut *tx)
        .await
        .context("setting the scrape's statement_timeout")?;
    let rows = meters::tiers(&mut tx, opts.threshold).await.map_err(|e| {
        if !error::cause::is_statement_timeout(e.as_ref()) {
            return e;
        }
        let raise = format!(
            "--statement-timeout (now {}ms)",
            opts.statement_timeout.as_millis()
        );
        error::statement_timed_out(None, "reading limits and usage per meter and tier", &raise)
    })?;
    tx.commit().await?;
    drop(db);
    let verify = if opts.verify {
        let v = verdict::verify(database).await?;
        Some(
            v.checks
                .iter()
                .map(|c| CheckSeries {
                    check: c.name,
                    ok: c.status != Status::Fail,
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Metrics {
        threshold: opts.threshold,
        tiers: per_tier(rows),
        verify,
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Rows of `meter_tiers.sql` (scrapes: one per tier and limit) summed per
/// meter and tier, at most [`MAX_TIERS`] tiers per meter.
fn per_tier(rows: Vec<TierRow>) -> Vec<TierSeries> {
    let mut by: BTreeMap<(String, String), TierSeries> = BTreeMap::new();
    for r in rows {
        let tier = r.tier.clone().unwrap_or_default();
        let s = by
            .entry((r.meter.clone(), tier.clone()))
            .or_insert_with(|| TierSeries {
                meter: r.meter.clone(),
                tier,
                ..TierSeries::default()
            });
        add(s, &r);
    }
    let mut per_meter: BTreeMap<String, Vec<TierSeries>> = BTreeMap::new();
    for ((meter, _), s) in by {
        per_meter.entry(meter).or_default().push(s);
    }
    let mut out = Vec::new();
    for (meter, mut tiers) in per_meter.into_iter().rev() {
        if tiers.len() > MAX_TIERS {
            tiers.sort_by(|a, b| b.subjects.cmp(&a.subjects).then(a.tier.cmp(&b.tier)));
            let rest = tiers.split_off(MAX_TIERS - 1);
            let mut other = TierSeries {
                meter: meter.clone(),
                tier: OTHER_TIER.to_string(),
                ..TierSeries::default()
            };
            for r in rest {
                merge(&mut other, &r);
            }
            tiers.push(other);
            tiers.sort_by(|a, b| a.tier.cmp(&b.tier));
        }
        out.extend(tiers);
    }
    out
}

fn add(s: &mut TierSeries, r: &TierRow) {
    s.subjects += r.subjects;
    s.at_limit += r.at_limit;
    s.near_limit += r.near_limit;
    s.usage += r.usage;
    if !r.own_limit {
        s.without_limit += r.subjects;
    }
    // scrapes: the highest limit of the tier's users; clips: the tier's.
    if r.own_limit || r.meter == "clips" {
        s.limit = s.limit.max(r.limit);
    }
}

fn merge(s: &mut TierSeries, r: &TierSeries) {
    s.subjects += r.subjects;
    s.at_limit += r.at_limit;
    s.near_limit += r.near_limit;
    s.usage += r.usage;
    s.without_limit += r.without_limit;
    s.limit = s.limit.max(r.limit);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(meter: &str, tier: &str, limit: Option<i64>, own: bool, n: i64) -> TierRow {
        TierRow {
            meter: meter.into(),
            tier: Some(tier.into()),
            limit,
            own_limit: own,
            subjects: n,
            at_limit: 1,
            near_limit: 0,
            usage: 10 * n,
        }
    }

    #[test]
    fn scrape_limits_sum_per_tier() {
        let s = per_tier(vec![
            row("scrapes", "free", Some(5), true, 2),
            row("scrapes", "free", Some(10), true, 3),
            row("scrapes", "free", None, false, 1),
            row("clips", "Pro", Some(50), false, 4),
        ]);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].meter.as_str(), s[0].subjects), ("scrapes", 6));
        assert_eq!(
            (s[0].limit, s[0].without_limit, s[0].at_limit),
            (Some(10), 1, 3)
        );
        assert_eq!((s[1].limit, s[1].without_limit), (Some(50), 4));
    }

    #[test]
    fn tiers_beyond_the_cap_are_summed() {
        let rows = (0..(MAX_TIERS + 20))
            .map(|i| row("clips", &format!("t{i:03}"), Some(1), true, 1))
            .collect();
        let s = per_tier(rows);
        assert_eq!(s.len(), MAX_TIERS);
        let other = s.iter().find(|t| t.tier == OTHER_TIER).unwrap();
        assert_eq!(other.subjects, 21);
    }
}
