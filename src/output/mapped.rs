//! How `migrate apply | status | rollback`, `call` look on a mapping.

use super::{or_missing, table, Report};
use crate::mapped::call::CallReport;
use crate::mapped::install::Report as InstallReport;
use crate::mapped::{MeterState, StatusReport};

impl Report for InstallReport {
    fn to_table(&self) -> String {
        if self.dry_run {
            let mut out = String::new();
            for m in self.meters.iter().filter(|m| !m.sql.is_empty()) {
                out.push_str(&format!("-- meter {}: {}\n{}\n", m.meter, m.action, m.sql));
            }
            if out.is_empty() {
                out.push_str("-- nothing to do: every meter is installed as the file maps it\n");
            }
            return out.trim_end().to_string();
        }
        let mut t = table(&["meter", "action", "detail"]);
        for m in &self.meters {
            t.add_row(vec![
                m.meter.clone(),
                m.action.to_string(),
                m.detail.clone(),
            ]);
        }
        t.to_string()
    }
}

impl Report for StatusReport {
    fn to_table(&self) -> String {
        let mut t = table(&["meter", "kind", "state", "installed on", "detail"]);
        for m in &self.meters {
            let (state, detail) = match &m.state {
                MeterState::Pending => ("pending", "`quota migrate apply` installs it".to_string()),
                MeterState::Installed => ("installed", String::new()),
                MeterState::Drifted(changes) => ("drifted", changes.join("; ")),
                MeterState::NotInFile => (
                    "not in file",
                    "`quota migrate rollback --meter` removes it".into(),
                ),
            };
            t.add_row(vec![
                m.meter.clone(),
                or_missing(m.kind.map(|k| format!("{k:?}").to_lowercase())),
                state.to_string(),
                or_missing(m.installed_on.as_ref()),
                detail,
            ]);
        }
        format!("{}\n{t}", self.config)
    }
}

impl Report for CallReport {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "meter",
            "subject",
            "amount",
            "allowed",
            "new_usage",
            "effective_limit",
            "committed",
        ]);
        t.add_row(vec![
            self.meter.clone(),
            self.subject.to_string(),
            self.amount.to_string(),
            self.allowed.to_string(),
            self.new_usage.to_string(),
            or_missing(self.effective_limit),
            self.committed.to_string(),
        ]);
        let note = match (self.committed, self.allowed) {
            (true, true) => "committed: the call counted",
            (true, false) => "committed, but not allowed: nothing counted",
            _ => "rolled back: nothing changed (use --commit to keep it)",
        };
        format!("{t}\n{note}")
    }
}

impl Report for crate::mapped::race::RaceReport {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "meter",
            "attempts",
            "amount",
            "admitted",
            "expected",
            "over-admitted",
            "errors",
        ]);
        t.add_row(vec![
            self.meter.clone(),
            self.attempts.to_string(),
            self.amount.to_string(),
            self.admitted.to_string(),
            self.expected.to_string(),
            self.over_admitted.to_string(),
            self.errors.to_string(),
        ]);
        format!(
            "{t}\nsubject {}: usage {} of {} before; {} units and {} rows taken back afterwards ({:.2}s)",
            self.subject,
            self.usage_before,
            or_missing(self.limit),
            self.taken_back_units,
            self.rows_deleted,
            self.seconds
        )
    }
}
