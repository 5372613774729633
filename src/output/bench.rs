//! How `quota bench` looks: its table and its JSON.

use comfy_table::{Cell, CellAlignment};

use super::{table, Report, MISSING};
use crate::load::bench::{BenchReport, ScenarioResult};

impl Report for BenchReport {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "scenario", "measures", "ops", "ops/s", "p50 ms", "p99 ms", "vs floor",
        ]);
        for s in &self.scenarios {
            t.add_row(scenario_row(s));
        }
        let r = &self.ratios;
        let g = &self.goals;
        let show = |v: Option<f64>| v.map_or(MISSING.to_string(), |v| format!("{v:.3}x"));
        let versus = |v: Option<f64>, goal: f64| match v {
            Some(v) if v >= goal => format!(" (goal >= {goal}x: meets)"),
            Some(_) => format!(" (goal >= {goal}x: below)"),
            None => String::new(),
        };
        let mut text = format!(
            "{t}\n{} clients, {}s per scenario in {} rounds, after {}s warm-up\n\
             function / update floor : {}{}\n\
             trigger  / insert floor : {}{}\n\
             naive    / function     : {}\n\
             naive_clip / trigger    : {}\n\
             rpc_service_role  / rpc_floor : {}{}\n\
             rpc_authenticated / rpc_floor : {}{}",
            self.clients,
            self.seconds,
            self.rounds,
            self.warmup,
            show(r.function_vs_update),
            versus(r.function_vs_update, g.function_vs_update),
            show(r.trigger_vs_insert),
            versus(r.trigger_vs_insert, g.trigger_vs_insert),
            show(r.naive_vs_function),
            show(r.naive_clip_vs_trigger),
            show(r.rpc_service_role_vs_floor),
            versus(r.rpc_service_role_vs_floor, g.function_vs_update),
            show(r.rpc_authenticated_vs_floor),
            versus(r.rpc_authenticated_vs_floor, g.function_vs_update),
        );
        for k in &self.skipped {
            text.push_str(&format!("\nskipped {}: {}", k.name, k.reason));
        }
        text
    }
}

fn scenario_row(s: &ScenarioResult) -> Vec<Cell> {
    let versus = match (s.ratio_to_floor, s.floor) {
        (Some(r), Some(f)) => format!("{r:.3}x {f}"),
        _ => MISSING.to_string(),
    };
    let right = |text: String| Cell::new(text).set_alignment(CellAlignment::Right);
    vec![
        Cell::new(s.name),
        Cell::new(s.what),
        right(s.ops.to_string()),
        right(format!("{:.0}", s.ops_per_sec)),
        right(format!("{:.3}", s.p50_ms)),
        right(format!("{:.3}", s.p99_ms)),
        right(versus),
    ]
}

impl Report for crate::mapped::bench::MeterBenchReport {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "scenario", "measures", "ops", "ops/s", "p50 ms", "p99 ms", "vs floor",
        ]);
        for s in &self.scenarios {
            t.add_row(scenario_row(s));
        }
        let shape = match self.kind {
            crate::mapping::Kind::Rpc => "function / update floor",
            crate::mapping::Kind::Trigger => "trigger  / insert floor",
        };
        let ratio = match self.ratio_to_floor {
            Some(v) if v >= self.goal => format!("{v:.3}x (goal >= {}x: meets)", self.goal),
            Some(v) => format!("{v:.3}x (goal >= {}x: below)", self.goal),
            None => MISSING.to_string(),
        };
        format!(
            "{t}\nmeter {} ({}), {} clients on {} subjects (restored), {}s per scenario in {} \
             rounds, after {}s warm-up\n{shape} : {ratio}",
            self.meter,
            match self.kind {
                crate::mapping::Kind::Rpc => "rpc",
                crate::mapping::Kind::Trigger => "trigger",
            },
            self.clients,
            self.subjects.len(),
            self.seconds,
            self.rounds,
            self.warmup,
        )
    }
}
