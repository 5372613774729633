//! `quota race --meter NAME --user UUID [--amount N]`: concurrent charges
//! of a mapped meter over real connections at one subject; counts what got
//! through against the headroom, then takes back exactly the race's own
//! units (and deletes the rows it inserted), so the subject keeps every
//! admission the application made meanwhile.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::db::{self, Database, Session};
use crate::error::{self, cause, sqlstate};
use crate::interrupt::Interrupt;
use crate::load::{connect_all, scratch as load_scratch, spawn_each};
use crate::mapping::render::{self, fill, Rendered};
use crate::mapping::{ident, Charge, Meter};
use crate::sql;
use crate::ui::Ui;

use super::scratch;

/// What one race of a mapped meter did.
#[derive(Clone, Debug, Serialize)]
pub struct RaceReport {
    pub meter: String,
    #[serde(serialize_with = "super::call::as_text")]
    pub subject: Uuid,
    pub attempts: u32,
    pub concurrency: u32,
    pub amount: i32,
    pub usage_before: i64,
    pub limit: Option<i64>,
    pub admitted: u64,
    /// Attempts the headroom allows: min(attempts, (limit - usage) / amount).
    pub expected: u64,
    pub over_admitted: u64,
    pub errors: u64,
    /// Units and rows taken back afterwards.
    pub taken_back_units: i64,
    pub rows_deleted: u64,
    pub seconds: f64,
}

/// How to race.
#[derive(Clone, Copy, Debug)]
pub struct RacePlan {
    /// A real subject (`--user`), or `None`: a scratch subject with
    /// `headroom` attempts' worth of units left.
    pub subject: Option<Uuid>,
    pub headroom: u32,
    pub attempts: u32,
    pub concurrency: u32,
    pub amount: i32,
}

/// How each attempt charges the meter.
enum Charging {
    Call(String),
    Insert {
        insert: String,
        delete: String,
        /// The insert takes the amount as $2 (an amount column).
        binds_amount: bool,
    },
}

/// Races `meter` at the plan's subject, or at a scratch subject made for
/// the race and removed afterwards (also on error and Ctrl-C).
pub async fn race(
    database: &Database,
    meter: &Meter,
    plan: RacePlan,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<RaceReport> {
    let mut control = database.connect().await?;
    let Some(subject) = plan.subject else {
        let units = i64::from(plan.headroom) * i64::from(plan.amount);
        let made = scratch::create(&mut control, meter, units).await?;
        let raced = race_at(&mut control, database, meter, made.id, plan, ui, interrupt).await;
        let removed = scratch::remove(&mut control, &made).await;
        let report = raced?;
        removed?;
        interrupt.check("the race's rows and its scratch subject were removed")?;
        return Ok(report);
    };
    let report = race_at(&mut control, database, meter, subject, plan, ui, interrupt).await?;
    interrupt.check(&format!(
        "the race's own {} units and {} rows were taken back",
        report.taken_back_units, report.rows_deleted
    ))?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn race_at(
    control: &mut Session,
    database: &Database,
    meter: &Meter,
    subject: Uuid,
    plan: RacePlan,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<RaceReport> {
    let rendered = render::render(meter)?;
    let charging = control.read(async |tx| charging(tx, meter).await).await?;
    let (before, limit) = control
        .read(async |tx| usage_and_limit(tx, &rendered, subject).await)
        .await
        .map_err(|e| e.context(format!("reading meter {}", meter.name())))?;
    let limit = match limit {
        Some(limit) => limit,
        None => {
            return Err(error::precondition(format!(
                "no subject with id {} in {} (meters.{})",
                subject,
                meter.declared.subject.table,
                meter.name()
            )))
        }
    };
    let headroom = limit.map_or(0, |l| (l - before).max(0) / i64::from(plan.amount));
    let expected = (headroom.max(0) as u64).min(u64::from(plan.attempts));
    let concurrency = plan.concurrency.clamp(1, plan.attempts.max(1));
    let conns = connect_all(database, concurrency as usize).await?;
    let bar = ui.bar(
        u64::from(plan.attempts),
        &format!("racing meter {}", meter.name()),
    );
    let barrier = Arc::new(Barrier::new(conns.len()));
    let charging = Arc::new(charging);
    let started = Instant::now();
    let answers = spawn_each(conns, |i, mut session: Session| {
        let share =
            plan.attempts / concurrency + u32::from((i as u32) < plan.attempts % concurrency);
        let (barrier, charging, bar) = (barrier.clone(), charging.clone(), bar.clone());
        let interrupt = interrupt.clone();
        async move {
            let mut tally = Tally::default();
            barrier.wait().await;
            for _ in 0..share {
                if interrupt.is_set() {
                    break;
                }
                tally.add(attempt(&mut session, &charging, subject, plan.amount).await);
                bar.inc(1);
            }
            tally
        }
    })
    .await;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let mut total = Tally::default();
    for answer in answers {
        total.merge(answer.context("a race task failed")?);
    }
    let units = total.admitted as i64 * i64::from(plan.amount);
    let rows = total.rows.len() as u64;
    take_back(control, &rendered, &charging, subject, units, &total.rows)
        .await
        .map_err(|e| {
            error::new(
                error::ExitKind::Restore,
                format!(
                    "{e:#}; the race admitted {units} units for subject {subject} and inserted \
                     {rows} rows: take them back by hand (subtract {units} from {}.{} for this \
                     subject, delete the rows it inserted)",
                    meter.declared.counter.table, meter.declared.counter.column
                ),
            )
        })?;
    if let Some(e) = total.first_error {
        ui.warn(&format!("{} attempts failed; the first: {e}", total.errors));
    }
    Ok(RaceReport {
        meter: meter.name().to_string(),
        subject,
        attempts: plan.attempts,
        concurrency,
        amount: plan.amount,
        usage_before: before,
        limit,
        admitted: total.admitted,
        expected,
        over_admitted: total.admitted.saturating_sub(expected),
        errors: total.errors,
        taken_back_units: units,
        rows_deleted: rows,
        seconds,
    })
}

#[derive(Default)]
struct Tally {
    admitted: u64,
    errors: u64,
    rows: Vec<String>,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, outcome: Result<Option<Option<String>>>) {
        match outcome {
            Ok(Some(row)) => {
                self.admitted += 1;
                self.rows.extend(row);
            }
            Ok(None) => {}
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(format!("{e:#}"));
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.admitted += other.admitted;
        self.errors += other.errors;
        self.rows.extend(other.rows);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// One attempt in its own transaction: `Some` when admitted (with the
/// inserted row's key for a trigger meter), `None` when refused.
async fn attempt(
    session: &mut Session,
    charging: &Charging,
    subject: Uuid,
    amount: i32,
) -> Result<Option<Option<String>>> {
    match charging {
        Charging::Call(call) => {
            let allowed = session
                .write(async |tx| {
                    let row: (bool, i64, Option<i64>) = db::query_as(call)
                        .bind(subject)
                        .bind(amount)
                        .fetch_one(&mut *tx)
                        .await?;
                    Ok(row.0)
                })
                .await?;
            Ok(allowed.then_some(None))
        }
        Charging::Insert {
            insert,
            binds_amount,
            ..
        } => {
            let mut tx = session.begin().await?;
            let mut query = db::query_scalar(insert).bind(subject);
            if *binds_amount {
                query = query.bind(amount);
            }
            let key: Result<String, sqlx::Error> = query.fetch_one(&mut *tx).await;
            match key {
                Ok(key) => {
                    tx.commit().await.context("committing a race insert")?;
                    Ok(Some(Some(key)))
                }
                Err(e) if cause::has_sqlstate(&e, sqlstate::CHECK_VIOLATION) => {
                    let _ = tx.rollback().await;
                    Ok(None)
                }
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e.into())
                }
            }
        }
    }
}

/// The statements an attempt sends, rendered once for the race.
async fn charging(conn: &mut sqlx::PgConnection, meter: &Meter) -> Result<Charging> {
    match &meter.declared.charge {
        Charge::Rpc { function } => Ok(Charging::Call(fill(
            sql::meters::CALL,
            &[("function", function.sql())],
        )?)),
        Charge::Trigger {
            on,
            subject_column,
            amount_column,
            ..
        } => {
            let mut given = vec![subject_column.as_str()];
            given.extend(amount_column.as_deref());
            let extras = load_scratch::extras(
                conn,
                &on.sql(),
                &given,
                &format!("race a rpc meter instead of meters.{}", meter.name()),
            )
            .await?;
            let key: Option<String> = db::query_scalar(sql::PRIMARY_KEY_COLUMN)
                .bind(on.sql())
                .fetch_optional(&mut *conn)
                .await
                .context("reading the primary key of the metered table")?;
            let row_key = ident(key.as_deref().unwrap_or("ctid"));
            // Without an amount column each row is one unit (the command
            // refuses --amount above 1 for such a meter).
            let (column, value) = match amount_column {
                Some(c) => (format!(", {}", ident(c)), ", $2".to_string()),
                None => (String::new(), String::new()),
            };
            let values = vec![
                ("on", on.sql()),
                ("subject_column", ident(subject_column)),
                ("amount_column", column),
                ("amount_value", value),
                ("row_key", row_key),
            ];
            let insert = extras.fill(&fill(sql::meters::RACE_INSERT, &with_extras(&values))?);
            let delete = fill(sql::meters::RACE_DELETE, &values)?;
            Ok(Charging::Insert {
                insert,
                delete,
                binds_amount: amount_column.is_some(),
            })
        }
    }
}

/// Leaves `{extra_columns}`/`{extra_values}` for `Extras::fill`.
fn with_extras<'a>(values: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
    let mut all = values.to_vec();
    all.push(("extra_columns", "{extra_columns}".into()));
    all.push(("extra_values", "{extra_values}".into()));
    all
}

/// The subject's usage this period and its limit (`None`: no such subject;
/// `Some(None)`: a NULL limit, which admits nothing).
pub async fn usage_and_limit(
    conn: &mut sqlx::PgConnection,
    rendered: &Rendered,
    subject: Uuid,
) -> Result<(i64, Option<Option<i64>>)> {
    let usage: Option<i64> = db::query_scalar(&rendered.queries.usage)
        .bind(subject)
        .fetch_optional(&mut *conn)
        .await
        .context("reading the subject's usage")?;
    let limit: Option<Option<i64>> = db::query_scalar(&rendered.queries.limit)
        .bind(subject)
        .fetch_optional(&mut *conn)
        .await
        .context("reading the subject's limit")?;
    Ok((usage.unwrap_or(0), limit))
}

/// Subtracts the race's own units and deletes its rows, in one transaction.
async fn take_back(
    control: &mut Session,
    rendered: &Rendered,
    charging: &Charging,
    subject: Uuid,
    units: i64,
    rows: &[String],
) -> Result<()> {
    control
        .write(async |tx| {
            if let Charging::Insert { delete, .. } = charging {
                if !rows.is_empty() {
                    db::query(delete).bind(rows).execute(&mut *tx).await?;
                }
            }
            if units > 0 {
                db::query(&rendered.queries.take_back)
                    .bind(subject)
                    .bind(units)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(())
        })
        .await
        .context("taking back what the race admitted")
}
