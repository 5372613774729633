//! `quota report`, `limits` (and the refusal of `limits set`) and `metrics`
//! on a mapping: per meter, and per tier where the file declares `limits`,
//! the subjects at or near their limit, read with the queries rendered from
//! the meter (`mapping::ops`) in the caller's read-only transaction.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use serde::Serialize;
use sqlx::PgConnection;

use super::subjects::{targets, SubjectLine};
use super::State;
use crate::db;
use crate::error;
use crate::mapping::ops::ops_queries;
use crate::mapping::{Kind, Limit, Meter};
use crate::meters::TierRow;
use crate::metrics::{TierSeries, MAX_TIERS, OTHER_TIER};

/// One meter's subjects at (or near) the limit.
#[derive(Clone, Debug, Serialize)]
pub struct MeterSubjects {
    pub meter: String,
    pub subject_table: String,
    pub subjects: Vec<SubjectLine>,
}

/// `report at-limit | near-limit` on a mapping: one entry per installed meter.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectsReport {
    pub report: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    pub meters: Vec<MeterSubjects>,
    pub notes: Vec<String>,
}

/// Subjects at their limit (`threshold` None) or at `threshold` or more
/// of it but not at it, per installed meter.
pub async fn subjects(
    conn: &mut PgConnection,
    state: &State,
    threshold: Option<f64>,
) -> Result<SubjectsReport> {
    let mut meters = Vec::new();
    let mut notes = Vec::new();
    for target in targets(state)? {
        notes.extend(target.note);
        let Some(meter) = target.meter else { continue };
        let q = ops_queries(meter)?;
        let statement = match threshold {
            None => db::query_as(&q.at_limit),
            Some(t) => db::query_as(&q.near_limit).bind(t),
        };
        let subjects = statement
            .fetch_all(&mut *conn)
            .await
            .with_context(|| format!("reading the subjects of meter {}", meter.name()))?;
        meters.push(MeterSubjects {
            meter: meter.name().to_string(),
            subject_table: meter.declared.subject.table.to_string(),
            subjects,
        });
    }
    Ok(SubjectsReport {
        report: if threshold.is_some() {
            "near-limit"
        } else {
            "at-limit"
        },
        threshold,
        meters,
        notes,
    })
}

/// One meter's counts, per tier where its limits are per tier.
#[derive(Clone, Debug, Serialize)]
pub struct MeterSummary {
    pub meter: String,
    pub kind: Kind,
    pub subject_table: String,
    /// `tiers` (quota.toml's `limits`) or the subject table's limit column.
    pub limit_source: String,
    pub subjects: i64,
    pub at_limit: i64,
    pub near_limit: i64,
    pub usage: i64,
    /// Per tier (empty for a limit column: one limit per subject).
    pub tiers: Vec<TierRow>,
}

/// `report summary` on a mapping.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub report: &'static str,
    pub threshold: f64,
    pub meters: Vec<MeterSummary>,
    pub notes: Vec<String>,
}

/// Counts per installed meter (and tier): subjects, at the limit, near it, usage.
pub async fn summary(conn: &mut PgConnection, state: &State, threshold: f64) -> Result<Summary> {
    let mut meters = Vec::new();
    let mut notes = Vec::new();
    for target in targets(state)? {
        notes.extend(target.note);
        let Some(meter) = target.meter else { continue };
        let rows = tier_rows(conn, meter, threshold).await?;
        let sum = |f: fn(&TierRow) -> i64| rows.iter().map(f).sum();
        let tiered = matches!(meter.declared.limit, Limit::Tiers { .. });
        if let Limit::Tiers { default_tier, .. } = &meter.declared.limit {
            for r in rows.iter().filter(|r| !r.own_limit && r.subjects > 0) {
                notes.push(format!(
                    "meter {}: tier {} ({} subject(s)) has no limit of its own in quota.toml: {default_tier}'s applies",
                    meter.name(),
                    r.tier.as_deref().map_or("(none)".to_string(), |t| format!("'{t}'")),
                    r.subjects
                ));
            }
        }
        meters.push(MeterSummary {
            meter: meter.name().to_string(),
            kind: meter.declared.kind(),
            subject_table: meter.declared.subject.table.to_string(),
            limit_source: limit_source(meter),
            subjects: sum(|t| t.subjects),
            at_limit: sum(|t| t.at_limit),
            near_limit: sum(|t| t.near_limit),
            usage: sum(|t| t.usage),
            tiers: if tiered { rows } else { Vec::new() },
        });
    }
    Ok(Summary {
        report: "summary",
        threshold,
        meters,
        notes,
    })
}

/// "tiers" or "column public.profiles.credits_limit".
pub fn limit_source(meter: &Meter) -> String {
    match &meter.declared.limit {
        Limit::Tiers { .. } => "tiers".into(),
        Limit::Column(c) => format!("column {}.{c}", meter.declared.subject.table),
    }
}

async fn tier_rows(conn: &mut PgConnection, meter: &Meter, threshold: f64) -> Result<Vec<TierRow>> {
    let q = ops_queries(meter)?;
    db::query_as(&q.tiers)
        .bind(threshold)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| {
            format!(
                "reading limits and usage of meter {} per tier",
                meter.name()
            )
        })
}

/// One row of `quota limits` on a mapping.
#[derive(Clone, Debug, Serialize)]
pub struct LimitRow {
    pub meter: String,
    pub tier: Option<String>,
    /// `None` for a limit column (one limit per subject), or no limit.
    pub limit: Option<i64>,
    pub own_limit: bool,
    pub subjects: i64,
    /// `tiers` or the limit column.
    pub source: String,
    pub note: Option<String>,
}

/// `quota limits` on a mapping.
#[derive(Clone, Debug, Serialize)]
pub struct LimitList {
    pub rows: Vec<LimitRow>,
    pub notes: Vec<String>,
}

/// Every installed meter's limits: per tier with the subjects on it, or
/// one row saying the limit is a column of each subject's row.
pub async fn limits(
    conn: &mut PgConnection,
    state: &State,
    only: Option<&str>,
) -> Result<LimitList> {
    let names: Vec<String> = only.map(str::to_string).into_iter().collect();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for target in super::subjects::chosen(state, &names)? {
        notes.extend(target.note);
        let Some(meter) = target.meter else { continue };
        let tier_rows = tier_rows(conn, meter, crate::meters::DEFAULT_NEAR_THRESHOLD).await?;
        let source = limit_source(meter);
        match &meter.declared.limit {
            Limit::Column(column) => rows.push(LimitRow {
                meter: meter.name().to_string(),
                tier: None,
                limit: None,
                own_limit: true,
                subjects: tier_rows.iter().map(|r| r.subjects).sum(),
                note: Some(format!(
                    "per subject: column {column} of {}",
                    meter.declared.subject.table
                )),
                source,
            }),
            Limit::Tiers { default_tier, .. } => rows.extend(tier_rows.into_iter().map(|r| {
                LimitRow {
                    meter: meter.name().to_string(),
                    note: (!r.own_limit)
                        .then(|| format!("no limit of its own: {default_tier}'s applies")),
                    tier: r.tier,
                    limit: r.limit,
                    own_limit: r.own_limit,
                    subjects: r.subjects,
                    source: source.clone(),
                }
            })),
        }
    }
    Ok(LimitList { rows, notes })
}

/// `limits set` on a mapping: never changes anything. Declared limits are
/// the file's (exit 4: edit quota.toml, `migrate apply --repair`); a limit
/// column is each subject's (exit 4: the application's data).
pub fn refuse_set(state: &State, meter: Option<&str>, tier: &str, limit: i64) -> Result<()> {
    let meter = state.pick(meter, |_| true)?;
    Err(match &meter.declared.limit {
        Limit::Tiers { .. } => error::precondition(format!(
            "meter {}: its limits are declared in {} (meters.{}.limits), the source of truth; nothing was \
             changed: edit the file (e.g. {tier} = {limit}) and run `quota migrate apply --repair`",
            meter.name(),
            state.path.display(),
            meter.name()
        )),
        Limit::Column(column) => error::precondition(format!(
            "meter {}: its limit is per subject, column {column} of {} (meters.{}.limit), your \
             application's data; nothing was changed: update that column on the subjects' rows \
             (there is no tier '{tier}' to set)",
            meter.name(),
            meter.declared.subject.table,
            meter.name()
        )),
    })
}

/// `metrics` on a mapping: per installed meter and tier (a limit column:
/// one series per meter, tier ""), at most [`MAX_TIERS`] tiers per meter.
pub async fn series(
    conn: &mut PgConnection,
    state: &State,
    threshold: f64,
) -> Result<Vec<TierSeries>> {
    let mut out = Vec::new();
    for target in targets(state)? {
        let Some(meter) = target.meter else { continue };
        let rows = tier_rows(conn, meter, threshold).await?;
        let tiered = matches!(meter.declared.limit, Limit::Tiers { .. });
        let mut by: BTreeMap<String, TierSeries> = BTreeMap::new();
        for r in rows {
            let tier = if tiered {
                r.tier.clone().unwrap_or_default()
            } else {
                String::new()
            };
            let s = by.entry(tier.clone()).or_insert_with(|| TierSeries {
                meter: meter.name().to_string(),
                tier,
                ..TierSeries::default()
            });
            add(s, &r, tiered);
        }
        let mut tiers: Vec<TierSeries> = by.into_values().collect();
        if tiers.len() > MAX_TIERS {
            tiers.sort_by(|a, b| b.subjects.cmp(&a.subjects).then(a.tier.cmp(&b.tier)));
            let rest = tiers.split_off(MAX_TIERS - 1);
            let mut other = TierSeries {
                meter: meter.name().to_string(),
                tier: OTHER_TIER.to_string(),
                ..TierSeries::default()
            };
            for r in rest {
                other.subjects += r.subjects;
                other.at_limit += r.at_limit;
                other.near_limit += r.near_limit;
                other.usage += r.usage;
                other.without_limit += r.without_limit;
                other.limit = other.limit.max(r.limit);
            }
            tiers.push(other);
            tiers.sort_by(|a, b| a.tier.cmp(&b.tier));
        }
        out.extend(tiers);
    }
    Ok(out)
}

/// Adds a row: a tier's limit is its own or the default tier's; a limit
/// column's is the highest of its subjects'.
fn add(s: &mut TierSeries, r: &TierRow, tiered: bool) {
    s.subjects += r.subjects;
    s.at_limit += r.at_limit;
    s.near_limit += r.near_limit;
    s.usage += r.usage;
    if !r.own_limit {
        s.without_limit += r.subjects;
    }
    if tiered || r.own_limit {
        s.limit = s.limit.max(r.limit);
    }
}

/// One scrape of a mapping: a fresh connection, one read-only transaction
/// with a statement timeout (the file resolved in it), and with `verify`
/// the mapped checks in their own rolled-back transaction.
pub async fn scrape(
    database: &db::Database,
    config: &crate::mapping::file::Config,
    opts: crate::metrics::ScrapeOptions,
) -> Result<crate::metrics::Metrics> {
    let started = std::time::Instant::now();
    let mut session = database.connect().await?;
    let timeout = opts.statement_timeout.as_millis().to_string();
    let tiers = session
        .read(async |tx| {
            db::query(crate::sql::SET_LOCAL_SETTING)
                .bind("statement_timeout")
                .bind(&timeout)
                .execute(&mut *tx)
                .await
                .context("setting the scrape's statement_timeout")?;
            let state = State::read(tx, config).await?;
            series(tx, &state, opts.threshold).await
        })
        .await
        .map_err(|e| {
            if !error::cause::is_statement_timeout(e.as_ref()) {
                return e;
            }
            let raise = format!("--statement-timeout (now {timeout}ms)");
            error::statement_timed_out(None, "reading limits and usage per meter and tier", &raise)
        })?;
    let verify = if opts.verify {
        let mut tx = session.begin().await?;
        let state = State::read(&mut tx, config).await?;
        let checks = super::checks::run_all(&mut tx, &state).await?;
        tx.rollback().await?;
        Some(
            checks
                .iter()
                .map(|c| crate::metrics::CheckSeries {
                    check: c.name,
                    ok: c.status != crate::checks::Status::Fail,
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(crate::metrics::Metrics {
        threshold: opts.threshold,
        tiers,
        verify,
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}
