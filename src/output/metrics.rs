//! How `quota metrics` looks: OpenMetrics text (the table format), one
//! family per gauge, labelled by meter and tier, ending in `# EOF`.

use std::fmt::Write as _;

use super::Report;
use crate::metrics::{Metrics, TierSeries};

/// The gauges per meter and tier: name, help, value.
type Family = (&'static str, &'static str, fn(&TierSeries) -> Option<i64>);

const FAMILIES: [Family; 6] = [
    (
        "quota_subjects",
        "Subjects (users) on the tier this period, per meter.",
        |t| Some(t.subjects),
    ),
    (
        "quota_at_limit",
        "Subjects at their limit this period (a missing limit admits nothing and counts here).",
        |t| Some(t.at_limit),
    ),
    (
        "quota_near_limit",
        "Subjects at or above quota_near_limit_threshold of their limit, but not at it.",
        |t| Some(t.near_limit),
    ),
    (
        "quota_usage",
        "Usage this period summed over the tier's subjects.",
        |t| Some(t.usage),
    ),
    (
        "quota_limit",
        "The tier's limit per subject (scrapes: the highest of its users' plan_limits_scrapes).",
        |t| t.limit,
    ),
    (
        "quota_subjects_without_limit",
        "Subjects whose tier has no limit of its own (clips: the free limit applies; scrapes: NULL, admits nothing).",
        |t| Some(t.without_limit),
    ),
];

/// The OpenMetrics text of one scrape.
pub fn render(m: &Metrics) -> String {
    let mut out = String::new();
    for (name, help, value) in FAMILIES {
        family(&mut out, name, help);
        for t in &m.tiers {
            if let Some(v) = value(t) {
                let _ = writeln!(
                    out,
                    "{name}{{meter=\"{}\",tier=\"{}\"}} {v}",
                    escape(&t.meter),
                    escape(&t.tier)
                );
            }
        }
    }
    family(
        &mut out,
        "quota_near_limit_threshold",
        "Share of a limit that counts as near it.",
    );
    let _ = writeln!(out, "quota_near_limit_threshold {}", m.threshold);
    if let Some(checks) = &m.verify {
        family(
            &mut out,
            "quota_verify_ok",
            "1 when no check of quota verify fails, else 0.",
        );
        let ok = checks.iter().all(|c| c.ok);
        let _ = writeln!(out, "quota_verify_ok {}", u8::from(ok));
        family(
            &mut out,
            "quota_verify_check_ok",
            "1 when the check of quota verify passes or warns, 0 when it fails.",
        );
        for c in checks {
            let _ = writeln!(
                out,
                "quota_verify_check_ok{{check=\"{}\"}} {}",
                c.check,
                u8::from(c.ok)
            );
        }
    }
    family(
        &mut out,
        "quota_scrape_duration_seconds",
        "How long this scrape's queries took.",
    );
    let _ = writeln!(
        out,
        "quota_scrape_duration_seconds {:.6}",
        m.duration_seconds
    );
    out.push_str("# EOF");
    out
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# TYPE {name} gauge\n# HELP {name} {help}");
}

/// A label value as OpenMetrics writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Report for Metrics {
    fn to_table(&self) -> String {
        render(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_openmetrics() {
        let m = Metrics {
            threshold: 0.9,
            tiers: vec![TierSeries {
                meter: "clips".into(),
                tier: "a\"b\\c\nd".into(),
                subjects: 2,
                limit: None,
                ..TierSeries::default()
            }],
            verify: None,
            duration_seconds: 0.5,
        };
        let text = render(&m);
        assert!(text.ends_with("# EOF"));
        assert!(text.contains("quota_subjects{meter=\"clips\",tier=\"a\\\"b\\\\c\\nd\"} 2\n"));
        assert!(!text.contains("quota_limit{"), "no limit, no series");
        assert!(!text.contains("quota_verify_ok"));
    }
}
