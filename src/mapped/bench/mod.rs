//! `quota bench --meter NAME --user UUID…`: what a mapped meter costs,
//! as a ratio against the floor of the same shape, measured in the same
//! run on the same database with the default bench's generator (rounds,
//! warm-up, interleaving, summary):
//!
//! | meter   | floor                                          | metered                                   |
//! |---------|------------------------------------------------|-------------------------------------------|
//! | rpc     | a bare single-statement UPDATE of the counter row | `SELECT allowed FROM fn($1, 1)`        |
//! | trigger | an INSERT into a twin of the table, no trigger | the same INSERT into a twin with the meter's installed trigger |
//!
//! Scratch subjects on an arbitrary schema are out of reach, so the bench
//! runs on subjects given with `--user` (one client each): their counters,
//! period markers and limits (or tiers) are saved, given headroom (counter
//! at zero, an unreachable limit: every operation is an admission, as in
//! the default bench), and written back exactly in one transaction at the
//! end, also on error and Ctrl-C ([`subjects`]).

mod subjects;

use std::sync::Arc;

use anyhow::Result;
use serde::Serialize;
use uuid::Uuid;

use crate::db::literal::{placeholders, render_exact, Lit};
use crate::db::{Database, Session};
use crate::interrupt::Interrupt;
use crate::load::bench::{
    measure_all, require_allowed, with_ratios, BenchOptions, Scenario, ScenarioResult, Workload,
    GOAL_FUNCTION_VS_UPDATE, GOAL_TRIGGER_VS_INSERT,
};
use crate::load::{run_then_clean_up, Loaded};
use crate::mapping::{render, Kind, Meter};
use crate::ui::Ui;
use subjects::Subjects;

/// The outcome; its JSON is part of the documented output.
#[derive(Clone, Debug, Serialize)]
pub struct MeterBenchReport {
    pub meter: String,
    pub kind: Kind,
    /// The subjects the clients ran on (one client each), restored since.
    pub subjects: Vec<String>,
    pub clients: usize,
    pub seconds: f64,
    pub warmup: f64,
    pub rounds: u32,
    /// The floor first, then the meter, as the default bench reports them.
    pub scenarios: Vec<ScenarioResult>,
    /// The meter's ops/s ÷ its floor's (null when a side measured nothing).
    pub ratio_to_floor: Option<f64>,
    /// The default bench's goal for this shape (function ÷ update floor,
    /// trigger ÷ insert floor).
    pub goal: f64,
}

/// Runs the meter and its floor on `subjects`, then restores them.
pub async fn bench(
    database: &Database,
    meter: &Meter,
    subjects: &[Uuid],
    opts: &BenchOptions,
    ui: &Ui,
    interrupt: &Interrupt,
) -> Result<MeterBenchReport> {
    let rendered = render::render(meter)?;
    let kind = meter.declared.kind();
    let scenarios = match kind {
        Kind::Rpc => vec![Scenario::MeterUpdateFloor, Scenario::MeterFunction],
        Kind::Trigger => vec![Scenario::MeterInsertFloor, Scenario::MeterTrigger],
    };
    let mut control = database.connect().await?;
    let mut left = Subjects::new(meter, &rendered);
    let opts = &BenchOptions {
        clients: subjects.len(),
        only: scenarios.clone(),
        ..opts.clone()
    };
    let (results, ()) = run_then_clean_up(
        database,
        &mut control,
        interrupt,
        &mut left,
        async |control, left: &mut Subjects| {
            let (floor, metered) = left.set_up(control, subjects).await?;
            let work = Arc::new(MeterWork { floor, metered });
            let results =
                measure_all(database, opts, &scenarios, subjects, work, ui, interrupt).await?;
            Ok(Loaded::complete(results))
        },
    )
    .await?;
    let scenarios = with_ratios(results);
    let ratio_to_floor = scenarios.iter().find_map(|s| s.ratio_to_floor);
    Ok(MeterBenchReport {
        meter: meter.name().to_string(),
        kind,
        subjects: subjects.iter().map(Uuid::to_string).collect(),
        clients: opts.clients,
        seconds: opts.seconds,
        warmup: opts.warmup,
        rounds: opts.rounds,
        scenarios,
        ratio_to_floor,
        goal: match kind {
            Kind::Rpc => GOAL_FUNCTION_VS_UPDATE,
            Kind::Trigger => GOAL_TRIGGER_VS_INSERT,
        },
    })
}

/// The two statements of a meter's bench, `$1` the subject and `$2` (where
/// taken) the amount, 1.
struct MeterWork {
    floor: String,
    metered: String,
}

/// One client's statements, its subject rendered in as a typed literal:
/// one simple-protocol message per operation, like the default bench.
struct MeterClient {
    floor: String,
    metered: String,
}

impl Workload for MeterWork {
    type Client = MeterClient;

    fn client(&self, subject: Uuid) -> Result<MeterClient> {
        let with = |sql: &str| {
            let values = [Lit::Uuid(subject), Lit::Int(1)];
            let taken = placeholders(sql).into_iter().max().unwrap_or(0).min(2);
            render_exact(sql, &values[..taken])
        };
        Ok(MeterClient {
            floor: with(&self.floor)?,
            metered: with(&self.metered)?,
        })
    }

    async fn operation(conn: &mut Session, scenario: Scenario, client: &MeterClient) -> Result<()> {
        match scenario {
            Scenario::MeterUpdateFloor => {
                if conn.simple(&client.floor).await?.is_empty() {
                    anyhow::bail!("the floor's UPDATE found no counter row for the subject");
                }
            }
            Scenario::MeterFunction => {
                let rows = conn.simple(&client.metered).await?;
                require_allowed(rows.first())?;
            }
            Scenario::MeterInsertFloor => {
                conn.simple(&client.floor).await?;
            }
            Scenario::MeterTrigger => {
                conn.simple(&client.metered).await?;
            }
            other => anyhow::bail!("internal error: {} in a meter's bench", other.name()),
        }
        Ok(())
    }
}
