//! How `quota init` reports the file it wrote.

use super::{or_missing, table, Report};
use crate::init::InitReport;

impl Report for InitReport {
    fn to_table(&self) -> String {
        let subject = self.subject.as_deref().unwrap_or("none found (TODO)");
        let mut text = format!("wrote {}: subject {subject}", self.path);
        if !self.meters.is_empty() {
            let mut t = table(&["meter", "kind", "counter", "limit", "period"]);
            for m in &self.meters {
                t.add_row(vec![
                    m.name.clone(),
                    m.kind.to_string(),
                    m.counter.clone(),
                    or_missing(m.limit.as_deref()),
                    or_missing(m.period),
                ]);
            }
            text.push('\n');
            text.push_str(&t.to_string());
        }
        text.push('\n');
        text.push_str(&match self.todos {
            0 => {
                "every key is a guess: read the comments, then run `quota check schema`".to_string()
            }
            n => format!(
                "{n} TODO(s) to fill in (lines starting `# TODO`), then run `quota check schema`"
            ),
        });
        text
    }
}
