//! How `quota migrate` looks: its table and its JSON.

use comfy_table::Cell;
use serde::Serialize;

use super::{or_missing, status_cell, table, Report, Status, Tone};
use crate::migrate::limits::EditedLimit;
use crate::migrate::{Outcome, State, StatusReport};

impl Status for State {
    fn tone(&self) -> Tone {
        match self {
            State::Applied => Tone::Good,
            State::Pending | State::Unknown => Tone::Attention,
            State::Drifted => Tone::Bad,
        }
    }
}

impl Report for StatusReport {
    fn to_table(&self) -> String {
        let mut t = table(&["version", "name", "state", "applied on"]);
        for m in &self.migrations {
            t.add_row(vec![
                Cell::new(format!("V{}", m.version)),
                Cell::new(&m.name),
                status_cell(&m.state),
                Cell::new(or_missing(m.applied_on.as_deref().map(to_seconds))),
            ]);
        }
        let ahead = if self.is_ahead() {
            "; the database is newer than this quota: install a newer quota to apply or roll back"
        } else {
            ""
        };
        format!(
            "{t}\ndatabase at V{}, newest V{}{ahead}",
            self.database_version, self.latest_version
        )
    }
}

/// `2026-11-22T05:49:29.446664741Z` → `2026-11-22 05:49:29Z`: people read
/// seconds; JSON keeps the full timestamp.
fn to_seconds(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(head) if rfc3339.ends_with('Z') => format!("{}Z", head.replace('T', " ")),
        _ => rfc3339.to_string(),
    }
}

/// An apply/rollback/repair outcome with the command it came from.
#[derive(Serialize)]
pub(crate) struct OutcomeView {
    command: &'static str,
    #[serde(flatten)]
    outcome: Outcome,
    /// Rollback only: edited clip limits the reverts drop (would drop, in a
    /// dry run); `[]` when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    discarded_limits: Option<Vec<EditedLimit>>,
}

impl OutcomeView {
    pub(crate) fn new(command: &'static str, outcome: Outcome) -> Self {
        OutcomeView {
            command,
            outcome,
            discarded_limits: None,
        }
    }

    pub(crate) fn discarding(self, limits: Vec<EditedLimit>) -> Self {
        OutcomeView {
            discarded_limits: Some(limits),
            ..self
        }
    }

    /// One line naming the edited limits dropped, or nothing.
    fn limits_line(&self, verb: &str) -> String {
        match self.discarded_limits.as_deref() {
            Some(l) if !l.is_empty() => {
                let list: Vec<String> = l.iter().map(|e| e.to_string()).collect();
                format!(
                    "public.clip_limits {verb} with limits edited since install: {} (kept in \
                     quota.saved_clip_limits; the next `quota migrate apply` restores them)",
                    list.join(", ")
                )
            }
            _ => String::new(),
        }
    }
}

impl Report for OutcomeView {
    fn to_table(&self) -> String {
        let o = &self.outcome;
        if o.dry_run {
            let warning = self.limits_line("would be dropped");
            let sql = dry_run_sql(self.command, o);
            if warning.is_empty() {
                return sql;
            }
            // A SQL comment, so the output stays runnable.
            return format!("-- WARNING: {warning}\n{sql}");
        }
        if o.steps.is_empty() {
            return format!(
                "nothing to {}: database at V{}",
                self.command, o.database_version
            );
        }
        let verb = match self.command {
            "apply" => "applied",
            "repair" => "re-applied",
            _ => "reverted",
        };
        let mut t = table(&["version", "name", "result"]);
        for s in &o.steps {
            t.add_row(vec![
                format!("V{}", s.version),
                s.name.clone(),
                verb.to_string(),
            ]);
        }
        let dropped = self.limits_line("was dropped");
        let dropped = if dropped.is_empty() {
            dropped
        } else {
            format!("\n{dropped}")
        };
        format!("{t}\ndatabase at V{}{dropped}", o.database_version)
    }
}

/// The SQL a dry run would execute, one transaction per version.
fn dry_run_sql(command: &str, o: &Outcome) -> String {
    if o.steps.is_empty() {
        return format!(
            "-- nothing to {command}: database at V{}",
            o.database_version
        );
    }
    let mut out = format!(
        "-- dry run: {command} from V{}; nothing was changed\n",
        o.database_version
    );
    for s in &o.steps {
        let action = match command {
            "apply" | "repair" => "migration",
            _ => "revert",
        };
        out.push_str(&format!(
            "\n-- {action} V{}__{}\nBEGIN;\n{}\nCOMMIT;\n",
            s.version,
            s.name,
            s.sql.as_deref().unwrap_or("").trim_end()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_in_seconds() {
        assert_eq!(
            to_seconds("2026-11-22T05:49:29.446664741Z"),
            "2026-11-22 05:49:29Z"
        );
        assert_eq!(to_seconds("yesterday"), "yesterday");
    }

    #[test]
    fn states_keep_their_words() {
        assert_eq!(State::Drifted.to_string(), "drifted");
        assert_eq!(State::Unknown.to_string(), "newer than this binary");
        assert_eq!(State::Pending.tone(), Tone::Attention);
        assert_eq!(
            serde_json::to_value(State::Unknown).unwrap(),
            serde_json::json!("unknown")
        );
    }
}
