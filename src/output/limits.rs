//! How `quota limits` and `quota limits set` look.

use super::{or_missing, table, Report};
use crate::meters::limits::{LimitList, SetReport};

impl Report for LimitList {
    fn to_table(&self) -> String {
        if self.rows.is_empty() {
            return "no limits and no users".to_string();
        }
        let mut t = table(&["meter", "tier", "limit", "subjects", "note"]);
        for r in &self.rows {
            t.add_row(vec![
                r.meter.to_string(),
                r.tier.clone().unwrap_or_else(|| "(none)".to_string()),
                r.limit
                    .map_or_else(|| "none (admits nothing)".to_string(), |l| l.to_string()),
                r.subjects.to_string(),
                r.note.clone().unwrap_or_default(),
            ]);
        }
        let flagged = self.flagged();
        if flagged == 0 {
            t.to_string()
        } else {
            format!(
                "{t}\n{flagged} tier(s) in use without a limit of their own: see the notes \
                 (`quota check tiers`)"
            )
        }
    }
}

impl Report for SetReport {
    fn to_table(&self) -> String {
        let mut t = table(&["meter", "tier", "before", "after", "subjects"]);
        let before = if self.before.is_empty() {
            "none (new tier)".to_string()
        } else {
            let shown: Vec<String> = self.before.iter().map(|b| or_missing(*b)).collect();
            shown.join(", ")
        };
        t.add_row(vec![
            self.meter.to_string(),
            self.tier.clone(),
            before,
            self.after.to_string(),
            self.subjects.to_string(),
        ]);
        let note = match (self.created, self.changed) {
            (true, _) => format!("created the limit of tier '{}'", self.tier),
            (false, 0) => "nothing to change".to_string(),
            (false, n) if self.meter == crate::meters::Meter::Scrapes => {
                format!("set on {n} user row(s)")
            }
            _ => "changed".to_string(),
        };
        format!("{t}\n{note}")
    }
}
