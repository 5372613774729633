//! Rendering of command results: a table for people, JSON for CI, JUnit XML
//! for CI test reporters (`verify` and `check` only). Commands compute a
//! report value; only this module decides how it looks.

pub mod bench;
pub mod error;
pub mod export;
pub mod fleet;
pub mod init;
pub mod limits;
pub mod mapped;
pub mod mapped_ops;
pub mod metrics;
pub mod migrate;
pub mod race;
pub mod report;
pub mod sandbox;
pub mod users;
pub mod verify;

use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};
use serde::Serialize;

use crate::ui::colour_enabled;

/// Width used when there is no terminal to measure (a pipe, CI logs), or the
/// terminal reports 0 columns (`script`, some CI runners' pseudo-terminals).
pub const FALLBACK_WIDTH: u16 = 120;

/// `--format`: how results are printed on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
    /// JUnit XML, for CI test reporters; `verify` and `check` only.
    Junit,
}

/// A result that can be shown as a table (and, via serde, as JSON).
pub trait Report: Serialize {
    /// The human view: usually one table, sometimes with a line of summary.
    fn to_table(&self) -> String;

    /// The JUnit XML view, for reports that are test results.
    fn to_junit(&self) -> Option<String> {
        None
    }
}

/// Set once a report has been written to stdout, so a failing command does
/// not add a second document (`--format json` promises exactly one).
static REPORT_PRINTED: AtomicBool = AtomicBool::new(false);

/// True once [`print`] wrote a report.
pub fn report_printed() -> bool {
    REPORT_PRINTED.load(Ordering::SeqCst)
}

/// Prints a report in the chosen format.
pub fn print<R: Report>(report: &R, format: Format) -> anyhow::Result<()> {
    let text = match format {
        Format::Table => report.to_table(),
        Format::Json => serde_json::to_string_pretty(report)?,
        Format::Junit => report.to_junit().ok_or_else(|| {
            crate::error::usage("--format junit is only for `quota verify` and `quota check`")
        })?,
    };
    emit(&text)?;
    REPORT_PRINTED.store(true, Ordering::SeqCst);
    Ok(())
}

/// Writes one document and a newline to stdout. A reader that went away
/// (`quota ... | head`) is not an error: there is nobody left to tell.
pub fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes bytes as they are (the completion script clap generates) to
/// stdout; a reader that went away is not an error, as in [`emit`].
pub fn emit_raw(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
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
    if usable_width(t.width()).is_none() {
        // Wrap long details anyway; a width of 0 would make every column one
        // character wide.
        t.set_width(FALLBACK_WIDTH);
    }
    t
}

/// The measured terminal width, `None` when unknown or reported as 0.
pub fn usable_width(measured: Option<u16>) -> Option<u16> {
    measured.filter(|w| *w > 0)
}

/// How a status reads at a glance; a table colours it, JSON and JUnit
/// never see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Nothing to do (`pass`, `applied`, `admitted`).
    Good,
    /// Worth a look (`warn`, `pending`, `skipped`).
    Attention,
    /// Something is wrong (`fail`, `drifted`, `over-admitted`).
    Bad,
}

/// A status shown in a table: its word, and how it reads.
pub trait Status: std::fmt::Display {
    fn tone(&self) -> Tone;
}

/// A table cell for a status, coloured by its tone on a colour terminal.
pub fn status_cell(status: &impl Status) -> Cell {
    tone_cell(&status.to_string(), status.tone())
}

fn tone_cell(text: &str, tone: Tone) -> Cell {
    let cell = Cell::new(text);
    if !colour_enabled() {
        return cell;
    }
    match tone {
        Tone::Good => cell.fg(Color::Green),
        Tone::Attention => cell.fg(Color::Yellow),
        Tone::Bad => cell.fg(Color::Red),
    }
}

/// How every table shows a value that is not there (SQL NULL, no limit,
/// not applied yet). JSON shows `null`.
pub const MISSING: &str = "-";

/// `value` as a table shows it, or [`MISSING`].
pub fn or_missing<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| MISSING.to_string(), |v| v.to_string())
}

/// Text made safe for XML 1.0 content and attribute values: the five
/// special characters escaped, line breaks and tabs kept as character
/// references (attributes would otherwise normalise them to spaces), and
/// characters XML cannot carry at all (other C0 controls, U+FFFE/U+FFFF)
/// replaced by U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A GitHub Actions workflow command on stderr, e.g. `::error title=…::…`,
/// escaped as GitHub's toolkit escapes them: `%`, CR and LF in the message;
/// also `:` and `,` in property values such as the title.
pub fn github_annotation(level: &str, title: &str, message: &str) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    format!("::{level} title={}::{}", property(title), data(message))
}

/// True when running as a GitHub Actions step (the runner sets this).
pub fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_columns_is_an_unknown_width() {
        assert_eq!(usable_width(Some(0)), None);
        assert_eq!(usable_width(None), None);
        assert_eq!(usable_width(Some(80)), Some(80));
    }

    #[test]
    fn xml_escape_covers_markup_quotes_and_controls() {
        assert_eq!(
            xml_escape("a<b>&\"c\" 'd'\n\u{1b}[31m\u{0}"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;&#10;\u{FFFD}[31m\u{FFFD}"
        );
        assert_eq!(xml_escape("ü🦀"), "ü🦀");
    }

    #[test]
    fn github_annotations_escape_data_and_properties() {
        assert_eq!(
            github_annotation(
                "error",
                "quota verify: trigger",
                "50% done\r\nnext, then: x"
            ),
            "::error title=quota verify%3A trigger::50%25 done%0D%0Anext, then: x"
        );
    }
}
