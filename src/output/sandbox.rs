//! How `quota sandbox` looks: its table and its JSON.

use comfy_table::{Cell, Table};

use super::{status_cell, Report};
use crate::load::race::RaceReport;
use crate::sandbox::{SandboxReport, StepStatus};

impl Report for SandboxReport {
    fn to_table(&self) -> String {
        let mut t = super::table(&["step", "status", "detail"]);
        self.setup_rows(&mut t);
        for c in &self.verify.checks {
            t.add_row(vec![
                Cell::new(format!("verify {}", c.name)),
                status_cell(&StepStatus::of_check(c)),
                Cell::new(&c.detail),
            ]);
        }
        for r in &self.races {
            t.add_row(race_row(r));
        }
        for r in &self.naive_races {
            t.add_row(naive_race_row(r));
        }
        let tail = match &self.kept {
            Some(k) => format!(
                "sandbox kept running:\n  DATABASE_URL={}\n  stop it with: {}",
                k.url, k.stop
            ),
            None => "sandbox torn down".to_string(),
        };
        format!("{t}\n{tail}")
    }
}

impl SandboxReport {
    /// The server and the migrations: the steps before verify.
    fn setup_rows(&self, t: &mut Table) {
        let server = self.postgres.split(" on ").next().unwrap_or(&self.postgres);
        t.add_row(vec![
            Cell::new("postgres"),
            status_cell(&StepStatus::Ok),
            Cell::new(format!("{server}, throwaway")),
        ]);
        let applied = if self.migrations_applied.is_empty() {
            "nothing to apply".to_string()
        } else {
            self.migrations_applied.join(", ")
        };
        t.add_row(vec![
            Cell::new("migrate apply"),
            status_cell(&StepStatus::Ok),
            Cell::new(format!(
                "{applied} -> database at V{}",
                self.database_version
            )),
        ]);
    }
}

fn race_row(r: &RaceReport) -> Vec<Cell> {
    vec![
        Cell::new(format!("race {}", r.target.as_str())),
        status_cell(&StepStatus::of_race(r)),
        Cell::new(format!(
            "{} of {} admitted ({} expected), {} over-admitted; {} connections",
            r.admitted, r.attempts, r.expected, r.over_admitted, r.concurrency
        )),
    ]
}

fn naive_race_row(r: &RaceReport) -> Vec<Cell> {
    vec![
        Cell::new(format!("race {} --naive", r.target.as_str())),
        status_cell(&StepStatus::of_naive_race(r)),
        Cell::new(format!(
            "{} of {} admitted ({} expected), {} over-admitted: what the migrations prevent",
            r.admitted, r.attempts, r.expected, r.over_admitted
        )),
    ]
}
