//! How `quota report` looks: one table per meter.

use super::{table, Report};
use crate::monitor::{Summary, UsersReport};

impl Report for UsersReport {
    fn to_table(&self) -> String {
        let near = self.threshold.map(|t| format!("{:.0}%", t * 100.0));
        let mut parts = Vec::new();
        for m in &self.meters {
            if m.users.is_empty() {
                parts.push(match &near {
                    None => format!("{}: no user is at the limit this month", m.meter),
                    Some(n) => format!("{}: no user is at {n} or more of the limit", m.meter),
                });
                continue;
            }
            let mut t = table(&["user", "tier", "used", "limit"]);
            for u in &m.users {
                t.add_row(vec![
                    u.user_id.clone(),
                    u.tier.as_deref().map_or_else(
                        || super::MISSING.to_string(),
                        |t| super::limits::show_tier(Some(t)),
                    ),
                    u.used.to_string(),
                    u.limit
                        .map_or_else(|| "none (admits nothing)".to_string(), |l| l.to_string()),
                ]);
            }
            let what = match &near {
                None => "at the limit this month".to_string(),
                Some(n) => format!("at {n} or more of the limit, not at it"),
            };
            parts.push(format!("{}: {} {what}\n{t}", m.meter, users(m.users.len())));
        }
        if self.distinct_users() > 0 && near.is_none() {
            parts.push(format!(
                "{} at a limit this month",
                users(self.distinct_users())
            ));
        }
        parts.extend(self.notes.iter().map(|n| format!("note: {n}")));
        parts.join("\n")
    }
}

impl Report for Summary {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "meter",
            "tier",
            "limit",
            "users",
            "at limit",
            "near limit",
            "usage",
        ]);
        for m in &self.meters {
            for r in &m.tiers {
                t.add_row(vec![
                    m.meter.to_string(),
                    super::limits::show_tier(r.tier.as_deref()),
                    r.limit.map_or_else(
                        || "none".to_string(),
                        |l| {
                            if r.own_limit {
                                l.to_string()
                            } else {
                                format!("{l} (free's)")
                            }
                        },
                    ),
                    r.subjects.to_string(),
                    r.at_limit.to_string(),
                    r.near_limit.to_string(),
                    r.usage.to_string(),
                ]);
            }
            t.add_row(vec![
                m.meter.to_string(),
                "all".to_string(),
                String::new(),
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
        for n in &self.notes {
            out.push_str(&format!("\nnote: {n}"));
        }
        out
    }
}

/// "1 user", "2 users".
fn users(n: usize) -> String {
    if n == 1 {
        "1 user".to_string()
    } else {
        format!("{n} users")
    }
}
