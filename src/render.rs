//! Rendering of command results: a table for people, JSON for CI. Commands
//! compute a report value; only this module decides how it looks.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use serde::Serialize;

use crate::ui::colour_enabled;

/// `--format`: how results are printed on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// A result that can be shown as a table (and, via serde, as JSON).
pub trait Report: Serialize {
    /// The human view: usually one table, sometimes with a line of summary.
    fn to_table(&self) -> String;
}

/// Prints a report in the chosen format.
pub fn print<R: Report>(report: &R, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Table => println!("{}", report.to_table()),
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
    }
    Ok(())
}

/// A table with the project's look.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(|h| Cell::new(*h)));
    if !colour_enabled() {
        t.force_no_tty();
    }
    if t.width().is_none() {
        // No terminal to measure (a pipe, CI logs): wrap long details anyway.
        t.set_width(120);
    }
    t
}

/// A status word, green/yellow/red on a colour terminal.
pub fn status_cell(status: &str) -> Cell {
    let cell = Cell::new(status);
    if !colour_enabled() {
        return cell;
    }
    match status {
        "pass" | "applied" | "ok" | "admitted" => cell.fg(Color::Green),
        "warn" | "pending" | "skipped" => cell.fg(Color::Yellow),
        "fail" | "drifted" | "unknown" | "over-admitted" => cell.fg(Color::Red),
        _ => cell,
    }
}
