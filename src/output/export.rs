//! How `quota migrate export` looks: one row per version's file.

use comfy_table::Cell;

use super::{status_cell, table, Report, Status, Tone};
use crate::migrate::export::{ExportReport, FileState};

impl Status for FileState {
    fn tone(&self) -> Tone {
        match self {
            FileState::Written => Tone::Attention,
            FileState::Unchanged => Tone::Good,
        }
    }
}

impl Report for ExportReport {
    fn to_table(&self) -> String {
        let mut t = table(&["version", "file", "state"]);
        for f in &self.files {
            t.add_row(vec![
                Cell::new(format!("V{}", f.version)),
                Cell::new(&f.file),
                status_cell(&f.state),
            ]);
        }
        let written = self
            .files
            .iter()
            .filter(|f| f.state == FileState::Written)
            .count();
        let summary = match written {
            0 => format!("{}: unchanged, every version is there", self.directory),
            n => format!(
                "{}: {n} file(s) written, {} unchanged",
                self.directory,
                self.files.len() - n
            ),
        };
        format!("{t}\n{summary}")
    }
}
