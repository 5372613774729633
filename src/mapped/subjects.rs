//! `quota user`, `users` and `reset-user --meter` on a mapping: a subject's
//! usage and limit per meter, subjects to test with, and setting a counter
//! for this period under the row lock the meter's function takes. Queries
//! come from `mapping::ops` (rendered from the resolved meter); subjects
//! are named by id only.

use anyhow::{Context as _, Result};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::State;
use crate::db;
use crate::error;
use crate::mapping::ops::{ops_queries, OpsQueries};
use crate::mapping::{Kind, Meter, Period};

/// A meter of the file as the database enforces it: the installed mapping
/// (the file's, unless it drifted), or none when it is not installed.
pub struct Target<'a> {
    pub name: &'a str,
    pub meter: Option<&'a Meter>,
    /// Said when the installed mapping differs from the file's.
    pub note: Option<String>,
}

/// Every meter of the file, in its order, as [`Target`]s.
pub fn targets(state: &State) -> Result<Vec<Target<'_>>> {
    let mut out = Vec::new();
    for meter in state.meters()? {
        let target = match state.installed(meter.name()) {
            None => Target {
                name: meter.name(),
                meter: None,
                note: Some(format!(
                    "meter {} is not installed: `quota migrate apply` installs it",
                    meter.name()
                )),
            },
            Some(installed) => {
                let note = match super::drift(installed, meter)? {
                    super::MeterState::Drifted(changes) => Some(format!(
                        "meter {} is installed from another mapping ({}): shown as installed; \
                         `quota migrate apply --repair` installs the file's",
                        meter.name(),
                        changes.join("; ")
                    )),
                    _ => None,
                };
                Target {
                    name: meter.name(),
                    meter: Some(&installed.meter),
                    note,
                }
            }
        };
        out.push(target);
    }
    Ok(out)
}

/// The meters `names` pick (all of the file's when empty); an unknown name
/// is a usage error naming the file's meters.
pub fn chosen<'a>(state: &'a State, names: &[String]) -> Result<Vec<Target<'a>>> {
    let all = targets(state)?;
    if names.is_empty() {
        return Ok(all);
    }
    let known = all.iter().map(|t| t.name).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for name in names {
        let Some(i) = all.iter().position(|t| t.name == name) else {
            return Err(error::usage(format!(
                "no meter {name} in {}; its meters: {known}",
                state.path.display()
            )));
        };
        if !out.iter().any(|t: &Target| t.name == name) {
            let t = &all[i];
            out.push(Target {
                name: t.name,
                meter: t.meter,
                note: t.note.clone(),
            });
        }
    }
    Ok(out)
}

/// One subject's row of a meter, as `ops_user.sql` reads it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SubjectRow {
    pub tier: Option<String>,
    pub used: i64,
    pub limit: Option<i64>,
    pub own_limit: bool,
    pub stored: Option<i64>,
    pub marker: Option<String>,
    pub period: String,
}

/// Where a subject stands on one meter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// A row of the meter's subject table.
    Subject,
    /// No row with that key in the meter's subject table (e.g. a user id
    /// on a meter whose subjects are accounts).
    NotASubject,
    /// The meter is in the file but not installed.
    NotInstalled,
}

/// `quota user UUID` on a mapping: the subject on every meter.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectView {
    pub subject: String,
    pub meters: Vec<SubjectMeter>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SubjectMeter {
    pub meter: String,
    pub kind: Option<Kind>,
    pub subject_table: Option<String>,
    pub standing: Standing,
    pub tier: Option<String>,
    pub used: Option<i64>,
    pub limit: Option<i64>,
    /// False when the subject's tier has no limit of its own in quota.toml
    /// (the default tier's applies), or its limit column is NULL.
    pub own_limit: Option<bool>,
    /// A missing limit admits nothing and counts as reached.
    pub at_limit: Option<bool>,
    /// month, day or none (lifetime).
    pub period: Option<Period>,
    /// The UTC day this period began (none for lifetime meters).
    pub period_start: Option<String>,
}

/// The subject on every meter of the file; an error (exit 4) when no
/// meter's subject table has it.
pub async fn view(conn: &mut PgConnection, state: &State, subject: Uuid) -> Result<SubjectView> {
    let mut meters = Vec::new();
    let mut notes = Vec::new();
    for target in targets(state)? {
        notes.extend(target.note.clone());
        let Some(meter) = target.meter else {
            meters.push(SubjectMeter {
                meter: target.name.to_string(),
                kind: None,
                subject_table: None,
                standing: Standing::NotInstalled,
                tier: None,
                used: None,
                limit: None,
                own_limit: None,
                at_limit: None,
                period: None,
                period_start: None,
            });
            continue;
        };
        let row = row(conn, meter, subject).await?;
        let d = &meter.declared;
        meters.push(SubjectMeter {
            meter: target.name.to_string(),
            kind: Some(d.kind()),
            subject_table: Some(d.subject.table.to_string()),
            standing: if row.is_some() {
                Standing::Subject
            } else {
                Standing::NotASubject
            },
            tier: row.as_ref().and_then(|r| r.tier.clone()),
            used: row.as_ref().map(|r| r.used),
            limit: row.as_ref().and_then(|r| r.limit),
            own_limit: row.as_ref().map(|r| r.own_limit),
            at_limit: row.as_ref().map(|r| r.limit.is_none_or(|l| r.used >= l)),
            period: Some(d.period),
            period_start: row.filter(|_| d.period != Period::None).map(|r| r.period),
        });
    }
    if !meters.iter().any(|m| m.standing == Standing::Subject) {
        let tables: Vec<String> = meters
            .iter()
            .filter_map(|m| m.subject_table.clone())
            .collect();
        return Err(match tables.is_empty() {
            true => error::precondition(
                "no meter of quota.toml is installed; run `quota migrate apply`".to_string(),
            ),
            false => error::precondition(format!(
                "no subject with id {subject} in {} (or row-level security hides it from this role); \
                 `quota users --meter NAME` lists some",
                dedup(tables).join(" or ")
            )),
        });
    }
    Ok(SubjectView {
        subject: subject.to_string(),
        meters,
        notes,
    })
}

/// One subject's row of `meter`, on `conn`.
pub async fn row(
    conn: &mut PgConnection,
    meter: &Meter,
    subject: Uuid,
) -> Result<Option<SubjectRow>> {
    let q = ops_queries(meter)?;
    db::query_as(&q.user)
        .bind(subject)
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("reading subject {subject} of meter {}", meter.name()))
}

/// `quota users` on a mapping: one meter's subjects.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectList {
    pub meter: String,
    pub subject_table: String,
    pub subjects: Vec<SubjectLine>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct SubjectLine {
    pub subject: String,
    pub tier: Option<String>,
    pub used: i64,
    pub limit: Option<i64>,
}

/// Up to `limit` subjects of `meter` (those with room only, when `under_limit`).
pub async fn list(
    conn: &mut PgConnection,
    meter: &Meter,
    under_limit: bool,
    limit: i64,
) -> Result<SubjectList> {
    let q = ops_queries(meter)?;
    let subjects = db::query_as(&q.list)
        .bind(under_limit)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("listing the subjects of meter {}", meter.name()))?;
    Ok(SubjectList {
        meter: meter.name().to_string(),
        subject_table: meter.declared.subject.table.to_string(),
        subjects,
    })
}

/// The meters `names` pick that `subject` can be reset on (all installed
/// meters it is a subject of, when `names` is empty); asked before the
/// confirmation, so a refusal changes nothing.
pub async fn reset_plan(
    conn: &mut PgConnection,
    state: &State,
    subject: Uuid,
    names: &[String],
) -> Result<Vec<Meter>> {
    let mut out = Vec::new();
    let mut tables = Vec::new();
    for target in chosen(state, names)? {
        let Some(meter) = target.meter else {
            if names.is_empty() {
                continue;
            }
            return Err(error::precondition(format!(
                "meter {} is not installed; run `quota migrate apply`",
                target.name
            )));
        };
        if row(conn, meter, subject).await?.is_some() {
            out.push(meter.clone());
        } else if !names.is_empty() {
            return Err(error::precondition(format!(
                "no subject with id {subject} in {} (meters.{}); `quota users --meter {}` lists some",
                meter.declared.subject.table,
                target.name,
                target.name
            )));
        } else {
            tables.push(meter.declared.subject.table.to_string());
        }
    }
    if out.is_empty() {
        return Err(error::precondition(match tables.is_empty() {
            true => "no meter of quota.toml is installed; run `quota migrate apply`".to_string(),
            false => format!(
                "no subject with id {subject} in {}; `quota users --meter NAME` lists some",
                dedup(tables).join(" or ")
            ),
        }));
    }
    Ok(out)
}

/// A counter before or after `reset-user`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CounterNow {
    /// As the meter sees it this period.
    pub used: i64,
    /// The stored value where it differs (a counter of an earlier period).
    pub stored: Option<i64>,
    /// The stored period marker (UTC day the counted period began).
    pub period_start: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MeterReset {
    pub meter: String,
    /// Where the counter lives: schema.table.column.
    pub counter: String,
    pub before: CounterNow,
    pub after: CounterNow,
}

/// `quota reset-user --meter` on a mapping.
#[derive(Clone, Debug, Serialize)]
pub struct ResetReport {
    pub subject: String,
    pub to: i64,
    pub meters: Vec<MeterReset>,
    pub changed: bool,
}

/// Sets the counter of every meter of `meters` for `subject` to `to` for
/// this period, in one transaction, each under its row lock.
pub async fn reset(
    db: &mut db::Session,
    meters: &[Meter],
    subject: Uuid,
    to: i64,
) -> Result<ResetReport> {
    let mut out = Vec::new();
    db.write(async |tx| {
        for meter in meters {
            let q = ops_queries(meter)?;
            let rendered = crate::mapping::render::render(meter)?;
            let doing = |what: &str| format!("{what} meter {} of subject {subject}", meter.name());
            db::query(&q.lock)
                .bind(subject)
                .execute(&mut *tx)
                .await
                .with_context(|| doing("locking"))?;
            let before = now(tx, meter, subject).await?;
            if meter.declared.counter.own_table && to > 0 {
                counter_row(tx, &q, subject)
                    .await
                    .with_context(|| doing("making the counter row of"))?;
            }
            db::query(&rendered.queries.set_usage)
                .bind(subject)
                .bind(to)
                .execute(&mut *tx)
                .await
                .with_context(|| doing("setting"))?;
            let after = now(tx, meter, subject).await?;
            let c = &meter.declared.counter;
            out.push(MeterReset {
                meter: meter.name().to_string(),
                counter: format!("{}.{}", c.table, c.column),
                before,
                after,
            });
        }
        Ok(())
    })
    .await?;
    let changed = out.iter().any(|m| m.before != m.after);
    Ok(ResetReport {
        subject: subject.to_string(),
        to,
        meters: out,
        changed,
    })
}

async fn counter_row(conn: &mut PgConnection, q: &OpsQueries, subject: Uuid) -> Result<()> {
    db::query(&q.counter_row)
        .bind(subject)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn now(conn: &mut PgConnection, meter: &Meter, subject: Uuid) -> Result<CounterNow> {
    let r = row(conn, meter, subject).await?.ok_or_else(|| {
        error::precondition(format!(
            "subject {subject} of meter {} is gone",
            meter.name()
        ))
    })?;
    Ok(CounterNow {
        used: r.used,
        stored: r.stored.filter(|s| *s != r.used),
        period_start: r.marker,
    })
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
