//! From latencies to the report: operations per second, percentiles, and
//! each scenario's ratio to its floor.

use super::{
    BenchOptions, BenchReport, Goals, Ratios, Scenario, ScenarioResult, Skipped,
    GOAL_FUNCTION_VS_UPDATE, GOAL_TRIGGER_VS_INSERT,
};

/// One scenario's latencies (microseconds) over `seconds` of measuring.
pub(super) fn summarise(
    scenario: Scenario,
    mut latencies: Vec<u32>,
    seconds: f64,
) -> ScenarioResult {
    latencies.sort_unstable();
    let ops = latencies.len() as u64;
    ScenarioResult {
        name: scenario.name(),
        what: scenario.describe(),
        ops,
        ops_per_sec: round(ops as f64 / seconds, 1),
        p50_ms: round(percentile(&latencies, 0.50) as f64 / 1000.0, 3),
        p99_ms: round(percentile(&latencies, 0.99) as f64 / 1000.0, 3),
        floor: scenario.floor().map(Scenario::name),
        ratio_to_floor: None,
    }
}

/// Nearest-rank percentile of sorted values; 0 when empty.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Each result with its ratio to its floor (when the floor ran).
pub(crate) fn with_ratios(mut scenarios: Vec<ScenarioResult>) -> Vec<ScenarioResult> {
    let rates: Vec<(&str, f64)> = scenarios.iter().map(|r| (r.name, r.ops_per_sec)).collect();
    for r in &mut scenarios {
        let floor = r
            .floor
            .and_then(|f| rates.iter().find(|(n, _)| *n == f).map(|(_, v)| *v));
        r.ratio_to_floor = match floor {
            Some(y) if y > 0.0 => Some(round(r.ops_per_sec / y, 3)),
            _ => None,
        };
    }
    scenarios
}

pub(super) fn report(
    opts: &BenchOptions,
    scenarios: Vec<ScenarioResult>,
    skipped: Vec<Skipped>,
) -> BenchReport {
    let scenarios = with_ratios(scenarios);
    let rate = |s: Scenario| {
        scenarios
            .iter()
            .find(|r| r.name == s.name())
            .map(|r| r.ops_per_sec)
    };
    let ratio = |a: Scenario, b: Scenario| match (rate(a), rate(b)) {
        (Some(x), Some(y)) if y > 0.0 => Some(round(x / y, 3)),
        _ => None,
    };
    BenchReport {
        clients: opts.clients,
        seconds: opts.seconds,
        warmup: opts.warmup,
        rounds: opts.rounds,
        ratios: Ratios {
            function_vs_update: ratio(Scenario::Function, Scenario::UpdateFloor),
            trigger_vs_insert: ratio(Scenario::Trigger, Scenario::InsertFloor),
            naive_vs_function: ratio(Scenario::Naive, Scenario::Function),
            naive_clip_vs_trigger: ratio(Scenario::NaiveClip, Scenario::Trigger),
            rpc_service_role_vs_floor: ratio(Scenario::RpcServiceRole, Scenario::RpcFloor),
            rpc_authenticated_vs_floor: ratio(Scenario::RpcAuthenticated, Scenario::RpcFloor),
        },
        goals: Goals {
            function_vs_update: GOAL_FUNCTION_VS_UPDATE,
            trigger_vs_insert: GOAL_TRIGGER_VS_INSERT,
        },
        scenarios,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
