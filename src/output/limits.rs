//! How `quota limits` and `quota limits set` look.

use super::{or_missing, table, Report};
use crate::meters::limits::{LimitList, SetReport};

/// A tier as a table shows it: as is, or quoted (`'PRO '`) when blanks
/// around it, quotes or other odd characters would otherwise be invisible
/// or misleading; `(none)` for no tier.
pub(super) fn show_tier(tier: Option<&str>) -> String {
    let Some(t) = tier else {
        return "(none)".to_string();
    };
    let odd = |c: char| c.is_control() || c == '\'' || (c.is_whitespace() && c != ' ');
    if !t.is_empty() && t == t.trim() && !t.chars().any(odd) {
        return t.to_string();
    }
    let mut shown = String::from("'");
    for c in t.chars() {
        match c {
            '\'' => shown.push_str("''"),
            c if c.is_control() || (c.is_whitespace() && c != ' ') => {
                shown.extend(c.escape_default());
            }
            c => shown.push(c),
        }
    }
    shown.push('\'');
    shown
}

impl Report for LimitList {
    fn to_table(&self) -> String {
        if self.rows.is_empty() {
            return "no limits and no users".to_string();
        }
        let mut t = table(&["meter", "tier", "limit", "subjects", "note"]);
        for r in &self.rows {
            t.add_row(vec![
                r.meter.to_string(),
                show_tier(r.tier.as_deref()),
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
            show_tier(Some(&self.tier)),
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

#[cfg(test)]
mod tests {
    use super::show_tier;

    #[test]
    fn odd_tiers_are_quoted() {
        assert_eq!(show_tier(Some("pro")), "pro");
        assert_eq!(show_tier(Some("pro plus")), "pro plus");
        assert_eq!(show_tier(Some("PRO ")), "'PRO '");
        assert_eq!(show_tier(Some(" pro")), "' pro'");
        assert_eq!(show_tier(Some("")), "''");
        assert_eq!(show_tier(Some("a'b")), "'a''b'");
        assert_eq!(show_tier(Some("a\tb")), "'a\\tb'");
        assert_eq!(show_tier(None), "(none)");
    }
}
