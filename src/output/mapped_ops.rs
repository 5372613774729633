//! How `user`, `users`, `reset-user`, `report` and `limits` look on a
//! mapping (`metrics` renders as on the default mapping).

use super::limits::show_tier;
use super::{or_missing, table, Report, MISSING};
use crate::mapped::monitor::{LimitList, SubjectsReport, Summary};
use crate::mapped::subjects::{CounterNow, ResetReport, Standing, SubjectList, SubjectView};
use crate::mapping::Period;

fn tier(t: Option<&str>) -> String {
    t.map_or_else(|| MISSING.to_string(), |t| show_tier(Some(t)))
}

fn limit(l: Option<i64>) -> String {
    l.map_or_else(|| "none (admits nothing)".to_string(), |l| l.to_string())
}

fn notes(out: &mut String, notes: &[String]) {
    for n in notes {
        out.push_str(&format!("\nnote: {n}"));
    }
}

impl Report for SubjectView {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "meter",
            "subject table",
            "tier",
            "used / limit",
            "at limit",
            "period",
        ]);
        for m in &self.meters {
            let (usage, at) = match m.standing {
                Standing::Subject => (
                    format!("{} / {}", or_missing(m.used), limit(m.limit)),
                    or_missing(m.at_limit),
                ),
                Standing::NotASubject => (
                    "not a subject of this meter".to_string(),
                    MISSING.to_string(),
                ),
                Standing::NotInstalled => ("not installed".to_string(), MISSING.to_string()),
            };
            let period = match (m.period, &m.period_start) {
                (Some(Period::None), _) => "none (lifetime)".to_string(),
                (Some(p), Some(start)) => format!("{} from {start} (UTC)", p.word()),
                (Some(p), None) => p.word().to_string(),
                (None, _) => MISSING.to_string(),
            };
            t.add_row(vec![
                m.meter.clone(),
                or_missing(m.subject_table.as_ref()),
                tier(m.tier.as_deref()),
                usage,
                at,
                period,
            ]);
        }
        let mut out = format!("subject {}\n{t}", self.subject);
        notes(&mut out, &self.notes);
        out
    }
}

impl Report for SubjectList {
    fn to_table(&self) -> String {
        if self.subjects.is_empty() {
            return format!(
                "meter {}: no subject of {} to list",
                self.meter, self.subject_table
            );
        }
        let mut t = table(&["subject", "tier", "used", "limit"]);
        for s in &self.subjects {
            t.add_row(vec![
                s.subject.clone(),
                tier(s.tier.as_deref()),
                s.used.to_string(),
                limit(s.limit),
            ]);
        }
        format!("meter {} ({}):\n{t}", self.meter, self.subject_table)
    }
}

fn counter(c: &CounterNow) -> String {
    match (&c.stored, &c.period_start) {
        (Some(s), Some(p)) => format!("{} ({s} stored for period {p})", c.used),
        (None, Some(p)) => format!("{} (period {p})", c.used),
        _ => c.used.to_string(),
    }
}

impl Report for ResetReport {
    fn to_table(&self) -> String {
        let mut t = table(&["meter", "counter", "before", "after"]);
        for m in &self.meters {
            t.add_row(vec![
                m.meter.clone(),
                m.counter.clone(),
                counter(&m.before),
                counter(&m.after),
            ]);
        }
        let note = match (self.changed, self.to) {
            (false, _) => "nothing to change".to_string(),
            (true, 0) => "reset".to_string(),
            (true, n) => format!("set to {n}"),
        };
        format!("{t}\n{note}: subject {}", self.subject)
    }
}

impl Report for SubjectsReport {
    fn to_table(&self) -> String {
        let near = self.threshold.map(|t| format!("{:.0}%", t * 100.0));
        let mut parts = Vec::new();
        for m in &self.meters {
            let what = match &near {
                None => "at the limit this period".to_string(),
                Some(n) => format!("at {n} or more of the limit, not at it"),
            };
            if m.subjects.is_empty() {
                parts.push(format!("{}: no subject is {what}", m.meter));
                continue;
            }
            let mut t = table(&["subject", "tier", "used", "limit"]);
            for s in &m.subjects {
                t.add_row(vec![
                    s.subject.clone(),
                    tier(s.tier.as_deref()),
                    s.used.to_string(),
                    limit(s.limit),
                ]);
            }
            parts.push(format!(
                "{}: {} subject(s) of {} {what}\n{t}",
                m.meter,
                m.subjects.len(),
                m.subject_table
            ));
        }
        if self.meters.is_empty() {
            parts.push("no meter of quota.toml is installed".to_string());
        }
        let mut out = parts.join("\n");
        notes(&mut out, &self.notes);
        out
    }
}

impl Report for Summary {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "meter",
            "tier",
            "limit",
            "subjects",
            "at limit",
            "near limit",
            "usage",
        ]);
        for m in &self.meters {
            for r in &m.tiers {
                t.add_row(vec![
                    m.meter.clone(),
                    show_tier(r.tier.as_deref()),
                    match (r.limit, r.own_limit) {
                        (None, _) => "none".to_string(),
                        (Some(l), true) => l.to_string(),
                        (Some(l), false) => format!("{l} (default tier's)"),
                    },
                    r.subjects.to_string(),
                    r.at_limit.to_string(),
                    r.near_limit.to_string(),
                    r.usage.to_string(),
                ]);
            }
            let all = if m.tiers.is_empty() {
                m.limit_source.clone()
            } else {
                String::new()
            };
            t.add_row(vec![
                m.meter.clone(),
                "all".to_string(),
                all,
                m.subjects.to_string(),
                m.at_limit.to_string(),
                m.near_limit.to_string(),
                m.usage.to_string(),
            ]);
        }
        let mut out = format!(
            "{t}\nnear = at {:.0}% or more of the limit, not at it; a missing limit admits nothing \
             and counts as at it",
            self.threshold * 100.0
        );
        notes(&mut out, &self.notes);
        out
    }
}

impl Report for LimitList {
    fn to_table(&self) -> String {
        let mut t = table(&["meter", "tier", "limit", "subjects", "note"]);
        for r in &self.rows {
            let shown = match (&r.tier, r.limit) {
                (None, None) if r.own_limit => r.source.clone(),
                _ => limit(r.limit),
            };
            t.add_row(vec![
                r.meter.clone(),
                show_tier(r.tier.as_deref()),
                shown,
                r.subjects.to_string(),
                r.note.clone().unwrap_or_default(),
            ]);
        }
        let mut out = if self.rows.is_empty() {
            "no meter of quota.toml is installed".to_string()
        } else {
            t.to_string()
        };
        notes(&mut out, &self.notes);
        out
    }
}
