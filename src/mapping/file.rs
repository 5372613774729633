//! `quota.toml`: found, read and checked on its own (keys, names, values),
//! before the catalog is consulted. Every problem is named by its dotted
//! key (`meters.credits.counter`), all at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::{Charge, Counter, Declared, Limit, Members, Name, Per, Period, Subject};

/// The file's name in the working directory.
pub const DEFAULT_FILE: &str = "quota.toml";

/// Which file to read: `--config` (or `QUOTA_CONFIG`, which clap folds into
/// it), else `./quota.toml` when it exists, else none (the default mapping).
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => {
            let here = PathBuf::from(DEFAULT_FILE);
            here.is_file().then_some(here)
        }
    }
}

/// A `quota.toml`, read and checked on its own: the edge's value.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub meters: Vec<Declared>,
}

/// The configuration the command line names: `None` is the default mapping.
pub fn configured(explicit: Option<&Path>) -> Result<Option<Config>> {
    let Some(path) = locate(explicit) else {
        return Ok(None);
    };
    let meters = load(&path)?;
    Ok(Some(Config { path, meters }))
}

/// Reads and checks the file at `path`: a usage error naming every problem.
pub fn load(path: &Path) -> Result<Vec<Declared>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {}", path.display()))
        .map_err(|e| crate::error::usage(format!("{e:#}; give an existing file with --config")))?;
    parse(&text).map_err(|problems| {
        crate::error::usage(format!(
            "{} does not describe a mapping: {}",
            path.display(),
            problems.join("; ")
        ))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    subject: Option<RawSubject>,
    #[serde(default)]
    meters: BTreeMap<String, RawMeter>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubject {
    table: Option<String>,
    key: Option<String>,
    tier: Option<String>,
    members: Option<RawMembers>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembers {
    table: String,
    subject: String,
    user: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeter {
    kind: String,
    function: Option<String>,
    on: Option<String>,
    subject_column: Option<String>,
    amount_column: Option<String>,
    counter: Option<String>,
    counter_key: Option<String>,
    limit: Option<String>,
    limits: Option<BTreeMap<String, i64>>,
    default_tier: Option<String>,
    period: Option<String>,
    per: Option<String>,
    subject: Option<RawSubject>,
}

/// Checks the text of a `quota.toml`; `Err` lists every problem.
pub fn parse(text: &str) -> std::result::Result<Vec<Declared>, Vec<String>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![one_line(&e.to_string())])?;
    let mut problems = Vec::new();
    if raw.meters.is_empty() {
        problems.push("meters: no meter is declared (add a [meters.NAME] table)".to_string());
    }
    let base = raw.subject.clone().unwrap_or_default();
    for (key, value) in [
        ("table", &base.table),
        ("key", &base.key),
        ("tier", &base.tier),
    ] {
        if value.as_deref().is_some_and(|v| v.contains('$')) {
            problems.push(format!("subject.{key}: quota does not accept $ in names (it quotes function bodies with $)"));
        }
    }
    if let Some(m) = &base.members {
        if [&m.table, &m.subject, &m.user]
            .iter()
            .any(|v| v.contains('$'))
        {
            problems.push("subject.members: quota does not accept $ in names (it quotes function bodies with $)".to_string());
        }
    }
    let mut meters = Vec::new();
    for (name, meter) in &raw.meters {
        if let Some(declared) = meter_of(name, meter, &base, &mut problems) {
            meters.push(declared);
        }
    }
    if problems.is_empty() {
        Ok(meters)
    } else {
        Err(problems)
    }
}

/// toml's messages span lines (a caret under the text); keep the first.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("not valid TOML").trim().to_string();
    let last = message.lines().last().unwrap_or("").trim();
    if last.is_empty() || last == first {
        first
    } else {
        format!("{first}: {last}")
    }
}

fn meter_of(
    name: &str,
    raw: &RawMeter,
    base: &RawSubject,
    problems: &mut Vec<String>,
) -> Option<Declared> {
    let at = |key: &str| format!("meters.{name}.{key}");
    let before = problems.len();
    if !valid_meter_name(name) {
        problems.push(format!(
            "meters.{name}: a meter's name is 1-40 lower-case letters, digits or _, starting with a letter"
        ));
    }
    let subject_at = match raw.subject {
        Some(_) => at("subject"),
        None => "subject".to_string(),
    };
    let subject = subject_of(raw.subject.as_ref().unwrap_or(base), &subject_at, problems);
    let charge = match raw.kind.as_str() {
        "rpc" => {
            for (key, set) in [
                ("per", raw.per.is_some()),
                ("on", raw.on.is_some()),
                ("subject_column", raw.subject_column.is_some()),
                ("amount_column", raw.amount_column.is_some()),
            ] {
                if set {
                    problems.push(format!("{}: only trigger meters take it", at(key)));
                }
            }
            let function = required(&raw.function, &at("function"), problems)
                .and_then(|f| qualified(f, &at("function"), problems));
            function.map(|function| Charge::Rpc { function })
        }
        "trigger" => {
            if raw.function.is_some() {
                problems.push(format!("{}: only rpc meters take it", at("function")));
            }
            let on = required(&raw.on, &at("on"), problems)
                .and_then(|t| qualified(t, &at("on"), problems));
            let subject_column = raw
                .subject_column
                .clone()
                .unwrap_or_else(|| "user_id".into());
            let per = match raw.per.as_deref().unwrap_or("statement") {
                "statement" => Per::Statement,
                "row" => Per::Row,
                other => {
                    problems.push(format!(
                        "{}: \"{other}\" is not statement or row",
                        at("per")
                    ));
                    Per::Statement
                }
            };
            on.map(|on| Charge::Trigger {
                on,
                subject_column,
                amount_column: raw.amount_column.clone(),
                per,
            })
        }
        other => {
            problems.push(format!("{}: \"{other}\" is not rpc or trigger", at("kind")));
            None
        }
    };
    let counter = counter_of(name, raw, subject.as_ref(), problems);
    let limit = limit_of(name, raw, problems);
    let period = match raw.period.as_deref().unwrap_or("month") {
        "month" => Some(Period::Month),
        "day" => Some(Period::Day),
        "none" => Some(Period::None),
        other => {
            problems.push(format!(
                "{}: \"{other}\" is not month, day or none",
                at("period")
            ));
            None
        }
    };
    for (key, value) in names_in(raw) {
        if value.contains('$') {
            problems.push(format!(
                "{}: \"{value}\" contains $, which quota does not accept in names (it quotes function bodies with $)",
                at(key)
            ));
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Declared {
        name: name.to_string(),
        charge: charge?,
        subject: subject?,
        counter: counter?,
        limit: limit?,
        period: period?,
        subject_at,
    })
}

/// Every name a meter's keys give, by key.
fn names_in(raw: &RawMeter) -> Vec<(&'static str, &str)> {
    let mut names = vec![
        ("function", raw.function.as_deref()),
        ("on", raw.on.as_deref()),
        ("subject_column", raw.subject_column.as_deref()),
        ("amount_column", raw.amount_column.as_deref()),
        ("counter", raw.counter.as_deref()),
        ("counter_key", raw.counter_key.as_deref()),
        ("limit", raw.limit.as_deref()),
        ("default_tier", raw.default_tier.as_deref()),
    ];
    if let Some(s) = &raw.subject {
        names.push(("subject.table", s.table.as_deref()));
        names.push(("subject.key", s.key.as_deref()));
        names.push(("subject.tier", s.tier.as_deref()));
    }
    names
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect()
}

fn subject_of(raw: &RawSubject, at: &str, problems: &mut Vec<String>) -> Option<Subject> {
    let table = qualified(
        raw.table.as_deref().unwrap_or("public.users"),
        &format!("{at}.table"),
        problems,
    )?;
    let members = match &raw.members {
        None => None,
        Some(m) => Some(Members {
            table: qualified(&m.table, &format!("{at}.members.table"), problems)?,
            subject: m.subject.clone(),
            user: m.user.clone(),
        }),
    };
    Some(Subject {
        table,
        key: raw.key.clone().unwrap_or_else(|| "id".into()),
        tier: raw
            .tier
            .clone()
            .unwrap_or_else(|| "subscription_tier".into()),
        members,
    })
}

fn counter_of(
    name: &str,
    raw: &RawMeter,
    subject: Option<&Subject>,
    problems: &mut Vec<String>,
) -> Option<Counter> {
    let at = format!("meters.{name}.counter");
    let text = required(&raw.counter, &at, problems)?;
    let parts: Vec<&str> = text.split('.').collect();
    match parts.as_slice() {
        [column] => {
            if raw.counter_key.is_some() {
                problems.push(format!(
                    "meters.{name}.counter_key: only a counter in a table of its own (\"schema.table.column\") takes it"
                ));
            }
            let subject = subject?;
            Some(Counter {
                table: subject.table.clone(),
                column: column.to_string(),
                key: subject.key.clone(),
                own_table: false,
            })
        }
        [schema, table, column] if parts.iter().all(|p| !p.is_empty()) => Some(Counter {
            table: Name {
                schema: schema.to_string(),
                name: table.to_string(),
            },
            column: column.to_string(),
            key: raw.counter_key.clone().unwrap_or_else(|| "user_id".into()),
            own_table: true,
        }),
        _ => {
            problems.push(format!(
                "{at}: \"{text}\" is neither a column of the subject table nor \"schema.table.column\""
            ));
            None
        }
    }
}

fn limit_of(name: &str, raw: &RawMeter, problems: &mut Vec<String>) -> Option<Limit> {
    let at = |key: &str| format!("meters.{name}.{key}");
    match (&raw.limit, &raw.limits) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{}: give limit (a column) or limits (per tier), not both",
                at("limits")
            ));
            None
        }
        (None, None) => {
            problems.push(format!(
                "{}: missing (or give limits = {{ free = 50, ... }})",
                at("limit")
            ));
            None
        }
        (Some(column), None) => {
            if raw.default_tier.is_some() {
                problems.push(format!(
                    "{}: only meters with limits per tier take it",
                    at("default_tier")
                ));
            }
            Some(Limit::Column(column.clone()))
        }
        (None, Some(limits)) => {
            let mut ok = true;
            if limits.is_empty() {
                problems.push(format!("{}: no tier is given", at("limits")));
                ok = false;
            }
            for (tier, limit) in limits {
                if *limit < 0 {
                    problems.push(format!("{}.{tier}: {limit} is negative", at("limits")));
                    ok = false;
                }
            }
            let default_tier = raw
                .default_tier
                .clone()
                .or_else(|| limits.contains_key("free").then(|| "free".to_string()));
            match default_tier {
                Some(tier) if limits.contains_key(&tier) => ok.then(|| Limit::Tiers {
                    limits: limits.clone(),
                    default_tier: tier,
                }),
                Some(tier) => {
                    problems.push(format!(
                        "{}: \"{tier}\" is not a tier in limits",
                        at("default_tier")
                    ));
                    None
                }
                None => {
                    problems.push(format!(
                        "{}: missing (the tier an unknown or NULL tier gets; limits has no \"free\")",
                        at("default_tier")
                    ));
                    None
                }
            }
        }
    }
}

fn required<'a>(
    value: &'a Option<String>,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<&'a str> {
    if value.is_none() {
        problems.push(format!("{at}: missing"));
    }
    value.as_deref()
}

/// `schema.name`, split on the first dot; both parts required.
fn qualified(text: &str, at: &str, problems: &mut Vec<String>) -> Option<Name> {
    match text.split_once('.') {
        Some((schema, name)) if !schema.is_empty() && !name.is_empty() => Some(Name {
            schema: schema.to_string(),
            name: name.to_string(),
        }),
        _ => {
            problems.push(format!(
                "{at}: \"{text}\" is not schema-qualified (e.g. public.{text})"
            ));
            None
        }
    }
}

fn valid_meter_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests;
