//! The subjects `bench --meter` runs on, and what it creates: each
//! subject's counter, period marker and limit (or tier) saved before
//! anything changes, headroom given (counter at zero, an unreachable
//! limit), and everything written back in one transaction at the end —
//! with the twin tables of a trigger meter dropped and the scratch tier
//! deleted — also on error and Ctrl-C ([`Cleanup`]).

use anyhow::{Context, Result};
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::db::{self, Session};
use crate::error;
use crate::load::{cleanup_timeouts, scratch, Cleanup};
use crate::mapping::bench::BenchQueries;
use crate::mapping::render::{fill, trigger_function, Rendered};
use crate::mapping::{ident, text_literal, Charge, IntType, Limit, Meter};
use crate::sql;

/// A subject's state before the bench, written back after it.
#[derive(Clone, Debug)]
struct Saved {
    subject: Uuid,
    /// The counter row's counter and marker; `None`: no row (the bench
    /// created it at zero and deletes it again).
    counter: Option<(Option<i64>, Option<String>)>,
    headroom: Headroom,
}

/// The subject's limit column, or its tier, as it was.
#[derive(Clone, Debug)]
enum Headroom {
    Limit(Option<i64>),
    Tier(Option<String>),
}

pub(super) struct Subjects {
    meter: Meter,
    queries: BenchQueries,
    set_usage: String,
    /// The rpc meter's floor and call, rendered from the mapping.
    rpc: (String, String),
    /// Generated, never user input: safe in DDL.
    schema: String,
    tier: String,
    saved: Vec<Saved>,
    /// The set-up transaction committed: the subjects need restoring.
    changed: bool,
    /// The twin tables may exist (dropped with IF EXISTS).
    twins: bool,
}

impl Subjects {
    pub(super) fn new(meter: &Meter, rendered: &Rendered) -> Self {
        let suffix = &Uuid::new_v4().simple().to_string()[..12];
        Subjects {
            meter: meter.clone(),
            queries: rendered.queries.bench.clone(),
            set_usage: rendered.queries.set_usage.clone(),
            rpc: (
                rendered.queries.floor.clone(),
                rendered.queries.bench.call.clone(),
            ),
            schema: format!("quota_bench_{suffix}"),
            tier: format!("quota_bench_{suffix}"),
            saved: Vec::new(),
            changed: false,
            twins: false,
        }
    }

    /// The limit the bench gives its subjects: never reached in a bench.
    fn unreachable(&self) -> i64 {
        let types = [self.meter.limit_type, self.meter.counter_type];
        match types.contains(&IntType::Smallint) {
            true => i64::from(i16::MAX),
            false => i64::from(i32::MAX),
        }
    }

    /// Creates the twins (trigger meters), saves the subjects and gives
    /// them headroom (one transaction); the floor's and the meter's
    /// statement, `$1` the subject.
    pub(super) async fn set_up(
        &mut self,
        db: &mut Session,
        subjects: &[Uuid],
    ) -> Result<(String, String)> {
        let statements = match self.meter.declared.charge.clone() {
            Charge::Rpc { .. } => self.rpc.clone(),
            Charge::Trigger {
                on,
                subject_column,
                amount_column,
                ..
            } => {
                let twins = fill(
                    sql::bench_meter::TWINS,
                    &[
                        ("schema", self.schema.clone()),
                        ("on", on.sql()),
                        ("on_literal", text_literal(&on.sql())),
                        (
                            "trigger_function_literal",
                            text_literal(&format!(
                                "{}()",
                                trigger_function(self.meter.name()).sql()
                            )),
                        ),
                    ],
                )?;
                self.twins = true;
                db.write(async |tx| {
                    cleanup_timeouts(&mut *tx).await?;
                    tx.execute(sqlx::raw_sql(&twins)).await?;
                    Ok(())
                })
                .await
                .context(
                    "could not create the bench's twin tables (needs CREATE on the database, \
                     and the metered table's trigger as installed)",
                )?;
                let mut given = vec![subject_column.as_str()];
                given.extend(amount_column.as_deref());
                let advice = format!("bench a rpc meter instead of meters.{}", self.meter.name());
                let extras = db
                    .read(async |tx| scratch::extras(tx, &on.sql(), &given, &advice).await)
                    .await?;
                let (column, value) = match &amount_column {
                    Some(c) => (format!(", {}", ident(c)), ", $2".to_string()),
                    None => (String::new(), String::new()),
                };
                let insert = |table: &str| -> Result<String> {
                    let values = [
                        ("table", format!("{}.{table}", self.schema)),
                        ("subject_column", ident(&subject_column)),
                        ("amount_column", column.clone()),
                        ("amount_value", value.clone()),
                        ("extra_columns", "{extra_columns}".to_string()),
                        ("extra_values", "{extra_values}".to_string()),
                    ];
                    Ok(extras.fill(&fill(sql::bench_meter::INSERT, &values)?))
                };
                (insert("insert_floor")?, insert("insert_metered")?)
            }
        };
        let saved = db
            .write(async |tx| self.give_headroom(tx, subjects).await)
            .await?;
        self.saved = saved;
        self.changed = true;
        Ok(statements)
    }

    /// Saves every subject, then gives each headroom; in the caller's
    /// transaction, so a failure changes nothing.
    async fn give_headroom(&self, tx: &mut PgConnection, subjects: &[Uuid]) -> Result<Vec<Saved>> {
        cleanup_timeouts(&mut *tx).await?;
        let d = &self.meter.declared;
        let mut saved = Vec::with_capacity(subjects.len());
        for &subject in subjects {
            let headroom = match d.limit {
                Limit::Column(_) => db::query_scalar(&self.queries.headroom_read)
                    .bind(subject)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(Headroom::Limit),
                Limit::Tiers { .. } => db::query_scalar(&self.queries.headroom_read)
                    .bind(subject)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(Headroom::Tier),
            };
            let Some(headroom) = headroom else {
                return Err(error::precondition(format!(
                    "no subject with id {subject} in {} (meters.{}); give --user ids of existing subjects",
                    d.subject.table,
                    self.meter.name()
                )));
            };
            let counter: Option<(Option<i64>, Option<String>)> = db::query_as(&self.queries.save)
                .bind(subject)
                .fetch_optional(&mut *tx)
                .await
                .context("saving the subject's counter")?;
            saved.push(Saved {
                subject,
                counter,
                headroom,
            });
        }
        if let Limit::Tiers { .. } = d.limit {
            db::query(sql::BENCH_METER_TIER_INSERT)
                .bind(self.meter.name())
                .bind(&self.tier)
                .bind(self.unreachable())
                .execute(&mut *tx)
                .await
                .context("adding the bench's scratch tier to quota.meter_limits")?;
        }
        for s in &saved {
            match s.counter {
                None if d.counter.own_table => db::query(&self.queries.counter_insert)
                    .bind(s.subject)
                    .execute(&mut *tx)
                    .await
                    .context("creating the subject's counter row")?,
                _ => db::query(&self.set_usage)
                    .bind(s.subject)
                    .bind(0i64)
                    .execute(&mut *tx)
                    .await
                    .context("setting the subject's counter to zero for the bench")?,
            };
            let set = db::query(&self.queries.headroom_set).bind(s.subject);
            let set = match s.headroom {
                Headroom::Limit(_) => set.bind(self.unreachable()),
                Headroom::Tier(_) => set.bind(&self.tier),
            };
            set.execute(&mut *tx).await.context(
                "giving the subject an unreachable limit for the bench (its limit column or tier)",
            )?;
        }
        Ok(saved)
    }

    /// Writes every subject back as saved, drops the twins and the scratch
    /// tier: one transaction bounded by the clean-up timeouts.
    async fn restore(&self, tx: &mut PgConnection) -> Result<()> {
        cleanup_timeouts(&mut *tx).await?;
        if self.twins {
            let teardown = sql::BENCH_TEARDOWN.replace("{schema}", &self.schema);
            tx.execute(sqlx::raw_sql(&teardown)).await?;
        }
        if !self.changed {
            return Ok(());
        }
        let has_marker = self.meter.marker().is_some();
        for s in &self.saved {
            match &s.counter {
                None => {
                    db::query(&self.queries.counter_delete)
                        .bind(s.subject)
                        .execute(&mut *tx)
                        .await?;
                }
                Some((counter, marker)) => {
                    let q = db::query(&self.queries.restore)
                        .bind(s.subject)
                        .bind(*counter);
                    let q = if has_marker {
                        q.bind(marker.clone())
                    } else {
                        q
                    };
                    q.execute(&mut *tx).await?;
                }
            }
            let set = db::query(&self.queries.headroom_set).bind(s.subject);
            let set = match &s.headroom {
                Headroom::Limit(limit) => set.bind(*limit),
                Headroom::Tier(tier) => set.bind(tier.clone()),
            };
            set.execute(&mut *tx).await?;
        }
        if let Limit::Tiers { .. } = self.meter.declared.limit {
            db::query(sql::BENCH_METER_TIER_DELETE)
                .bind(self.meter.name())
                .bind(&self.tier)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }
}

impl Cleanup for Subjects {
    type Done = ();

    async fn clean_up(&mut self, db: &mut Session) -> Result<()> {
        if !self.changed && !self.twins {
            return Ok(());
        }
        db.write(async |tx| self.restore(tx).await)
            .await
            .context("could not restore the bench's subjects")?;
        self.changed = false;
        self.twins = false;
        Ok(())
    }

    fn cleaned(&self) -> &'static str {
        "the subjects' counters and limits were written back and the twin tables removed"
    }

    fn explain_failure(&self, e: anyhow::Error) -> anyhow::Error {
        e.context(format!(
            "the bench's subjects are not restored; their saved values: {}",
            self.by_hand().replace('\n', " ")
        ))
    }

    fn by_hand(&self) -> String {
        let mut out = Vec::new();
        if self.twins {
            out.push(format!("DROP SCHEMA IF EXISTS {} CASCADE;", self.schema));
        }
        if self.changed {
            let d = &self.meter.declared;
            for s in &self.saved {
                let counter = match &s.counter {
                    None => format!("no row in {} (delete it)", d.counter.table),
                    Some((c, m)) => format!(
                        "{}={} marker={}",
                        d.counter.column,
                        c.map_or("NULL".into(), |c| c.to_string()),
                        m.as_deref().unwrap_or("NULL")
                    ),
                };
                let headroom = match &s.headroom {
                    Headroom::Limit(l) => {
                        format!("limit={}", l.map_or("NULL".into(), |l| l.to_string()))
                    }
                    Headroom::Tier(t) => format!("tier={}", t.as_deref().unwrap_or("NULL")),
                };
                out.push(format!("-- subject {}: {counter}, {headroom}", s.subject));
            }
            if let Limit::Tiers { .. } = d.limit {
                out.push(format!(
                    "DELETE FROM quota.meter_limits WHERE meter = {} AND tier = {};",
                    text_literal(self.meter.name()),
                    text_literal(&self.tier)
                ));
            }
        }
        out.join("\n")
    }
}
