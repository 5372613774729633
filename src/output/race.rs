//! How `quota race` looks: its table and its JSON.

use comfy_table::Cell;

use super::{or_missing, status_cell, table, Report, Status, Tone};
use crate::load::race::{RacePath, RaceReport, RaceVerdict};

impl Status for RaceVerdict {
    fn tone(&self) -> Tone {
        match self {
            RaceVerdict::Ok => Tone::Good,
            RaceVerdict::OverAdmitted | RaceVerdict::TakeBackMismatch => Tone::Bad,
        }
    }
}

impl Report for RaceReport {
    fn to_table(&self) -> String {
        let mut t = table(&["race", "value"]);
        let through = match (self.naive, self.target) {
            (false, RacePath::Rpc) => "rpc: public.increment_usage_if_allowed",
            (false, RacePath::Trigger) => "trigger: INSERT INTO public.clips",
            (true, RacePath::Rpc) => "rpc, naive: SELECT, check, UPDATE usage = read + 1",
            (true, RacePath::Trigger) => {
                "trigger, naive: SELECT clips, check, UPDATE clips = read + 1"
            }
        };
        let rows = [
            ("through", through.to_string()),
            ("user", self.user.clone()),
            ("concurrency", self.concurrency.to_string()),
            ("attempts", self.attempts.to_string()),
            ("admitted", self.admitted.to_string()),
            ("refused", self.refused.to_string()),
            ("expected", self.expected.to_string()),
            (
                "counter",
                format!(
                    "{} -> {} (limit {})",
                    self.counter_before,
                    self.counter_after,
                    or_missing(self.limit)
                ),
            ),
            ("elapsed", format!("{} ms", self.elapsed_ms)),
            ("over-admitted", self.over_admitted.to_string()),
        ];
        for (k, v) in rows {
            t.add_row(vec![Cell::new(k), Cell::new(v)]);
        }
        t.add_row(vec![Cell::new("verdict"), status_cell(&self.verdict())]);
        t.to_string()
    }
}
