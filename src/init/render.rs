//! A [`Guess`] as the text of a commented `quota.toml`: every guess with a
//! comment saying why, what else was considered, and a `# TODO:` above each
//! key left commented out because it could not be decided. Strings are TOML
//! basic strings with every character TOML requires escaped; names appear
//! exactly as the catalog spells them (no SQL quoting).

use std::fmt::Write;

use super::guess::{Counter, Guess, Kind, Limit, Meter, Subject, Suggestion};

const HEADER: &str = "\
# quota.toml: the tables quota enforces usage limits on, and how.
# Written by `quota init` from the database's catalog. Every value is a
# guess: read the comment above it, fix what is wrong, fill in each TODO
# (a key left commented out), then run `quota check schema` and
# `quota migrate apply --dry-run`.
#
# Names are written exactly as the catalog spells them: case-sensitive and
# never SQL-quoted (a table created as \"Users\" is public.Users). A table is
# schema.table, a counter in a table of its own schema.table.column.
";

/// The file's text.
pub(crate) fn render(guess: &Guess) -> String {
    let mut out = String::from(HEADER);
    for note in &guess.notes {
        comment(&mut out, &format!("Note: {note}."));
    }
    out.push('\n');
    match &guess.subject {
        Some(subject) => render_subject(&mut out, subject, guess),
        None => no_subject(&mut out),
    }
    for meter in &guess.meters {
        out.push('\n');
        render_meter(&mut out, meter, guess.subject.as_ref());
    }
    if guess.subject.is_some() && guess.meters.is_empty() {
        out.push('\n');
        comment(
            &mut out,
            "TODO: no integer column looked like a counter (*_this_month, *_today, *_count, \
             usage*, *_used, credits*) on the subject or in a table keyed by it. Describe each \
             meter, e.g.:",
        );
        example_meter(&mut out);
    }
    for suggestion in &guess.suggestions {
        out.push('\n');
        render_suggestion(&mut out, suggestion);
    }
    out
}

/// How many keys the user must fill in.
pub(crate) fn todos(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("# TODO")).count()
}

fn render_subject(out: &mut String, subject: &Subject, guess: &Guess) {
    out.push_str("[subject]\n");
    comment(
        out,
        &format!("Guessed {}: {}.", subject.rel, subject.reasons.join("; ")),
    );
    if guess.considered.is_empty() {
        comment(out, "No other table looked like a subject.");
    }
    for other in guess.considered.iter().take(5) {
        comment(
            out,
            &format!(
                "Also considered {} (fits less well): {}.",
                other.rel,
                other.reasons.join("; ")
            ),
        );
    }
    key(out, "table", &string(&subject.rel.to_string()));
    key(out, "key", &string(&subject.key));
    let needs_tier = guess
        .meters
        .iter()
        .any(|m| !matches!(m.limit, Limit::Column(_)));
    match &subject.tier {
        Some(tier) => {
            let others = if subject.other_tiers.is_empty() {
                String::new()
            } else {
                format!("; also considered {}", subject.other_tiers.join(", "))
            };
            comment(
                out,
                &format!(
                    "A text column named like a tier (read only by meters with `limits`){others}."
                ),
            );
            key(out, "tier", &string(tier));
        }
        None if needs_tier => {
            comment(
                out,
                "TODO: the text column naming each subject's tier (free, pro, ...): meters with \
                 `limits` read it; no text column is named like tier, plan or subscription_tier.",
            );
            out.push_str("# tier = \"tier\"\n");
        }
        None => comment(
            out,
            "No tier column (tier, plan, subscription_tier): only meters with `limits` need one.",
        ),
    }
    if let Some(m) = &subject.members {
        comment(
            out,
            &format!(
                "Members: rows of {} pair the subject ({}) with a user ({}, referencing {}); a \
                 caller may spend the subject's quota when its JWT sub is a member.",
                m.table, m.subject, m.user, m.user_refers_to
            ),
        );
        key(
            out,
            "members",
            &format!(
                "{{ table = {}, subject = {}, user = {} }}",
                string(&m.table.to_string()),
                string(&m.subject),
                string(&m.user)
            ),
        );
    }
}

fn no_subject(out: &mut String) {
    out.push_str("[subject]\n");
    comment(
        out,
        "TODO: no table looked like the subject (whose usage is limited): a table with a uuid \
         primary key referencing auth.users(id), or one named users, profiles, accounts, teams \
         or organizations. Name it here:",
    );
    out.push_str("# table = \"public.profiles\"\n# key = \"id\"\n# tier = \"tier\"\n\n");
    comment(out, "TODO: then describe each meter, e.g.:");
    example_meter(out);
}

fn example_meter(out: &mut String) {
    out.push_str(
        "# [meters.api_calls]\n\
         # kind = \"rpc\"\n\
         # function = \"public.increment_api_calls_if_allowed\"\n\
         # counter = \"api_calls_this_month\"\n\
         # limit = \"api_calls_limit\"\n\
         # period = \"month\"\n",
    );
}

fn render_meter(out: &mut String, meter: &Meter, subject: Option<&Subject>) {
    let _ = writeln!(out, "[meters.{}]", meter.name);
    comment(out, &format!("Guessed: {}.", meter.reasons.join("; ")));
    match &meter.kind {
        Kind::Rpc { function } => {
            key(out, "kind", &string("rpc"));
            comment(
                out,
                "The function quota installs for this meter (the application calls it).",
            );
            key(out, "function", &string(function));
        }
        Kind::Trigger {
            on,
            subject_column,
            amounts,
        } => {
            key(out, "kind", &string("trigger"));
            key(out, "on", &string(&on.to_string()));
            key(out, "subject_column", &string(subject_column));
            amount_suggestion(out, amounts);
        }
    }
    match &meter.counter {
        Counter::OnSubject(column) => key(out, "counter", &string(column)),
        Counter::Table {
            rel,
            column,
            key: k,
        } => {
            key(out, "counter", &string(&format!("{rel}.{column}")));
            key(out, "counter_key", &string(k));
        }
    }
    match &meter.limit {
        Limit::Column(column) => key(out, "limit", &string(column)),
        Limit::Tiers {
            tiers,
            from,
            default_tier,
        } => {
            comment(out, &format!("Limits per tier, {from}."));
            let shown: Vec<String> = tiers
                .iter()
                .map(|(tier, n)| format!("{} = {n}", bare_or_quoted(tier)))
                .collect();
            key(out, "limits", &format!("{{ {} }}", shown.join(", ")));
            match default_tier {
                Some(t) => {
                    comment(out, "An unknown or NULL tier gets this tier's limit.");
                    key(out, "default_tier", &string(t));
                }
                None => {
                    comment(
                        out,
                        "TODO: the tier whose limit an unknown or NULL tier gets.",
                    );
                    let first = tiers.first().map_or("free", |(t, _)| t.as_str());
                    let _ = writeln!(out, "# default_tier = {}", string(first));
                }
            }
        }
        Limit::Todo => {
            let table =
                subject.map_or_else(|| "the subject table".to_string(), |s| s.rel.to_string());
            comment(
                out,
                &format!(
                    "TODO: this meter's limit: an integer column of {table} (limit = \"COLUMN\"), \
                     or per tier (limits = {{ free = 50, pro = 1000 }} with default_tier = \
                     \"free\"); no column named like *limit* or max_* matched the counter."
                ),
            );
            out.push_str("# limits = { free = 50, pro = 1000 }\n# default_tier = \"free\"\n");
        }
    }
    match &meter.period {
        Some((period, why)) => {
            let reset = match *period {
                "month" => "reset lazily each UTC calendar month",
                "day" => "reset lazily each UTC calendar day",
                _ => "never reset",
            };
            comment(out, &format!("{why}: {reset}."));
            key(out, "period", &string(period));
        }
        None => {
            comment(
                out,
                "TODO: the period: \"month\", \"day\" or \"none\" (lifetime); the names say \
                 nothing of one.",
            );
            out.push_str("# period = \"month\"\n");
        }
    }
}

fn amount_suggestion(out: &mut String, amounts: &[String]) {
    if let Some((first, rest)) = amounts.split_first() {
        let also = if rest.is_empty() {
            String::new()
        } else {
            format!(" (also named like an amount: {})", rest.join(", "))
        };
        comment(
            out,
            &format!(
                "Optional: charge this integer column instead of 1 per row{also}; uncomment to use."
            ),
        );
        let _ = writeln!(out, "# amount_column = {}", string(first));
    }
}

fn render_suggestion(out: &mut String, s: &Suggestion) {
    comment(
        out,
        &format!(
            "Rows of {} also name the subject ({}), but no counter column was found for them. \
             TODO, if inserting them should be limited: a counter column, its limit and period.",
            s.on, s.subject_column
        ),
    );
    let name = super::names::meter_name(&s.on.name);
    let _ = writeln!(out, "# [meters.{name}]");
    out.push_str("# kind = \"trigger\"\n");
    let _ = writeln!(out, "# on = {}", string(&s.on.to_string()));
    let _ = writeln!(out, "# subject_column = {}", string(&s.subject_column));
    if let Some(first) = s.amounts.first() {
        let _ = writeln!(out, "# amount_column = {}", string(first));
    }
    let _ = writeln!(out, "# counter = {}", string(&format!("{name}_this_month")));
    out.push_str(
        "# limits = { free = 50, pro = 1000 }\n# default_tier = \"free\"\n# period = \"month\"\n",
    );
}

fn key(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "{name} = {value}");
}

/// A comment of one or more lines, wrapped near 80 columns; characters a
/// comment cannot hold (line breaks, other controls) shown as U+FFFD.
fn comment(out: &mut String, text: &str) {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    let mut line = String::from("#");
    for word in clean.split(' ').filter(|w| !w.is_empty()) {
        if line.len() > 2 && line.len() + 1 + word.len() > 80 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// A TOML basic string: `"`, `\` and control characters escaped.
pub(crate) fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A key as TOML allows it bare (`A-Za-z0-9_-`), else quoted.
fn bare_or_quoted(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        string(key)
    }
}
