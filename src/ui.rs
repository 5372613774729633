//! How the CLI talks to a person: messages on stderr, progress bars only on
//! a terminal, colour only where wanted, confirmation prompts.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error;

/// Output settings shared by every command.
#[derive(Clone, Debug, Default)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: u8,
}

impl Ui {
    /// A progress message on stderr, unless `-q`.
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A detail shown only with `-v`.
    pub fn debug(&self, msg: &str) {
        if self.verbose > 0 && !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// A warning on stderr; shown even with `-q`, since it is part of the
    /// result (e.g. the naive race's over-admission).
    pub fn warn(&self, msg: &str) {
        eprintln!("warning: {msg}");
    }

    /// A spinner for long work; hidden on a pipe or with `-q`.
    pub fn spinner(&self, msg: &str) -> ProgressBar {
        let pb = ProgressBar::with_draw_target(None, self.draw_target());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
        );
        pb.set_message(msg.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        pb
    }

    /// A bar counting to `len`; hidden on a pipe or with `-q`.
    pub fn bar(&self, len: u64, msg: &str) -> ProgressBar {
        let pb = ProgressBar::with_draw_target(Some(len), self.draw_target());
        pb.set_style(
            ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]")
                .expect("valid template"),
        );
        pb.set_message(msg.to_string());
        pb
    }

    fn draw_target(&self) -> ProgressDrawTarget {
        if self.quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        }
    }

    /// Asks before a destructive step. `action` says what it does, as a
    /// clause in lower case without a question mark ("set … to 0 on host").
    /// With `--yes` it proceeds; on a terminal it asks "Action?"; otherwise it
    /// refuses with a statement, so a script never changes a database by
    /// accident.
    pub fn confirm(&self, action: &str, yes: bool) -> Result<bool> {
        if yes {
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(error::usage(refusal(action)));
        }
        let question = question(action);
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
    }
}

/// The terminal's question for `action`: capitalised, with a question mark.
fn question(action: &str) -> String {
    let mut chars = action.chars();
    match chars.next() {
        Some(first) => format!("{}{}?", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// The refusal without a terminal and without `--yes`: a statement.
fn refusal(action: &str) -> String {
    format!("refusing to {action} without --yes (stdin is not a terminal); rerun with --yes")
}

/// Colour is used only on a terminal and never when NO_COLOR is set.
pub fn colour_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}
