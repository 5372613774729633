//! The meters of a guessed subject: counters on it or in a table keyed by
//! it, their limit columns, periods, and the tables whose inserted rows a
//! trigger meter would charge.

use super::guess::{integer_columns, names_subject};
use super::guess::{Counter, Guess, Kind, Limit, Meter, Subject, Suggestion};
use std::collections::HashSet;

use super::names;
use super::{Catalog, Column, Rel};

/// A counter found on the subject or in a table of its own.
struct Found {
    counter: Counter,
    column: String,
    type_name: String,
}

pub(super) fn meters(catalog: &Catalog, subject: &Subject, guess: &mut Guess) {
    let (s, key) = (&subject.rel, subject.key.as_str());
    let mut found: Vec<Found> = integer_columns(catalog, s, names::is_counter)
        .filter(|c| c.name != key)
        .map(|c| Found {
            counter: Counter::OnSubject(c.name.clone()),
            column: c.name.clone(),
            type_name: c.type_name.clone(),
        })
        .collect();
    // Tables keyed uniquely by a column naming the subject (user_usage).
    let mut counter_tables = Vec::new();
    for rel in catalog.tables() {
        // Another table named like a subject (public.users beside
        // public.profiles) is an alternative subject, not a counter table.
        if &rel == s || names::subject_name_rank(&rel.name).is_some() {
            continue;
        }
        let Some(k) = catalog.columns_of(&rel).find(|c| {
            catalog.is_unique(&rel, &c.name) && names_subject(catalog, &rel, &c.name, s, key)
        }) else {
            continue;
        };
        let before = found.len();
        for c in integer_columns(catalog, &rel, names::is_counter).filter(|c| c.name != k.name) {
            found.push(Found {
                counter: Counter::Table {
                    rel: rel.clone(),
                    column: c.name.clone(),
                    key: k.name.clone(),
                },
                column: c.name.clone(),
                type_name: c.type_name.clone(),
            });
        }
        if found.len() > before {
            counter_tables.push(rel);
        }
    }
    let members = subject.members.as_ref().map(|m| m.table.clone());
    // Tables whose rows name the subject: what a trigger meter charges.
    let events: Vec<(Rel, String)> = catalog
        .tables()
        .into_iter()
        .filter(|rel| rel != s && !counter_tables.contains(rel) && Some(rel) != members.as_ref())
        .filter(|rel| names::subject_name_rank(&rel.name).is_none())
        .filter_map(|rel| {
            let column = catalog
                .columns_of(&rel)
                .find(|c| names_subject(catalog, &rel, &c.name, s, key))?
                .name
                .clone();
            Some((rel, column))
        })
        .collect();
    let limits: Vec<&Column> = integer_columns(catalog, s, names::is_limit).collect();
    let paired = pair_limits(&found, &limits);
    let mut used_events = Vec::new();
    let mut taken_names = HashSet::new();
    let mut taken_functions = HashSet::new();
    for (f, limit) in found.iter().zip(paired) {
        let noun = names::counter_noun(&f.column);
        let limit_noun = limit
            .map(|l| names::limit_noun(&l.name))
            .unwrap_or_default();
        let thing = if names::is_generic(&noun) && !names::is_generic(&limit_noun) {
            limit_noun.clone()
        } else {
            noun.clone()
        };
        let mut reasons = vec![match &f.counter {
            Counter::OnSubject(c) => format!("{} column {s}.{c} is named like a counter", shown_type(&f.type_name)),
            Counter::Table { rel, column, key } => format!(
                "{} column {rel}.{column} is named like a counter, in a table keyed uniquely by {key} (the subject)",
                shown_type(&f.type_name)
            ),
        }];
        let event = events.iter().find(|(rel, _)| {
            names::same_thing(&noun, &rel.name) || names::same_thing(&limit_noun, &rel.name)
        });
        let base = match event {
            Some((rel, _)) => names::meter_name(&rel.name),
            None => names::meter_name(&thing),
        };
        let name = unique(&mut taken_names, &base, "");
        let kind = match event {
            Some((rel, column)) => {
                used_events.push(rel.clone());
                reasons.push(format!(
                    "table {rel} has rows naming the subject ({column}) and is named like what the counter counts: each row inserted is charged"
                ));
                Kind::Trigger {
                    on: rel.clone(),
                    subject_column: column.clone(),
                    amounts: amounts(catalog, rel),
                }
            }
            None => {
                reasons.push(format!(
                    "no table is named like what it counts ({}), so the application calls a function to spend it",
                    if thing.is_empty() { "usage" } else { &thing }
                ));
                Kind::Rpc {
                    function: function_name(&mut taken_functions, &s.schema, &noun, &name),
                }
            }
        };
        let limit = match limit {
            Some(l) => {
                reasons.push(if names::same_thing(&names::limit_noun(&l.name), &noun) {
                    format!("limit column {} is named like its limit", l.name)
                } else {
                    format!(
                        "limit column {} is the one limit column of the subject no other counter is named like",
                        l.name
                    )
                });
                Limit::Column(l.name.clone())
            }
            None => tier_limits(catalog, s, &f.counter, event.map(|(rel, _)| rel)),
        };
        let others: Vec<&str> = limits
            .iter()
            .map(|l| l.name.as_str())
            .filter(|l| limit_name(&limit) != Some(*l))
            .collect();
        if !others.is_empty() {
            reasons.push(format!(
                "other limit columns considered: {}",
                others.join(", ")
            ));
        }
        let period = names::period_of(&f.column)
            .map(|(p, why)| (p, format!("{} is {why}", f.column)))
            .or_else(|| {
                let l = limit_name(&limit)?;
                names::period_of(l).map(|(p, why)| (p, format!("{l} is {why}")))
            });
        guess.meters.push(Meter {
            name,
            kind,
            counter: f.counter.clone(),
            limit,
            period,
            reasons,
        });
    }
    guess.suggestions = events
        .into_iter()
        .filter(|(rel, _)| !used_events.contains(rel))
        .map(|(rel, subject_column)| Suggestion {
            amounts: amounts(catalog, &rel),
            on: rel,
            subject_column,
        })
        .collect();
}

/// The function of an RPC meter: `increment_<what it counts>_if_allowed`
/// (the seed's `increment_usage_if_allowed` for `usage_this_month`), or
/// named after the meter where another meter has that name already.
fn function_name(taken: &mut HashSet<String>, schema: &str, noun: &str, meter: &str) -> String {
    let first = format!("increment_{}_if_allowed", names::meter_name(noun));
    let name = if taken.contains(&first) {
        unique(taken, &format!("increment_{meter}"), "_if_allowed")
    } else {
        taken.insert(first.clone());
        first
    };
    format!("{schema}.{name}")
}

/// `{base}{tail}`, else `{base}_2{tail}`, `{base}_3{tail}`, … whichever is
/// not taken yet; taken from then on.
fn unique(taken: &mut HashSet<String>, base: &str, tail: &str) -> String {
    let mut name = format!("{base}{tail}");
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}{tail}");
        n += 1;
    }
    taken.insert(name.clone());
    name
}

/// A type as SQL spells it.
fn shown_type(type_name: &str) -> &str {
    match type_name {
        "int4" => "integer",
        "int8" => "bigint",
        other => other,
    }
}

fn limit_name(limit: &Limit) -> Option<&str> {
    match limit {
        Limit::Column(c) => Some(c),
        _ => None,
    }
}

fn amounts(catalog: &Catalog, rel: &Rel) -> Vec<String> {
    integer_columns(catalog, rel, names::is_amount)
        .map(|c| c.name.clone())
        .collect()
}

/// Each counter's limit column on the subject: the one named like the same
/// thing (`max_exports` for `exports_this_month`); then a counter or a limit
/// whose name says nothing of what it counts (`usage_this_month`,
/// `monthly_limit`) gets the one left on the other side.
fn pair_limits<'a>(found: &[Found], limits: &[&'a Column]) -> Vec<Option<&'a Column>> {
    let mut used = vec![false; limits.len()];
    let mut paired: Vec<Option<&Column>> = found
        .iter()
        .map(|f| {
            let noun = names::counter_noun(&f.column);
            let i = limits.iter().enumerate().position(|(i, l)| {
                !used[i] && names::same_thing(&names::limit_noun(&l.name), &noun)
            })?;
            used[i] = true;
            Some(limits[i])
        })
        .collect();
    let generic = |i: &usize| names::is_generic(&names::counter_noun(&found[*i].column));
    let open: Vec<usize> = (0..found.len()).filter(|i| paired[*i].is_none()).collect();
    let open_generic: Vec<usize> = open.iter().copied().filter(generic).collect();
    let left: Vec<usize> = (0..limits.len()).filter(|i| !used[*i]).collect();
    if let ([c], [l]) = (open_generic.as_slice(), left.as_slice()) {
        paired[*c] = Some(limits[*l]);
    } else if let ([c], [l]) = (open.as_slice(), left.as_slice()) {
        if names::is_generic(&names::limit_noun(&limits[*l].name)) {
            paired[*c] = Some(limits[*l]);
        }
    }
    paired
}

/// Per-tier limits for a counter without a limit column: quota's own
/// `public.clip_limits` for the clip meter where the default mapping is
/// installed, else the default mapping's own values where the meter is the
/// default mapping's clip meter; otherwise the user decides.
fn tier_limits(catalog: &Catalog, subject: &Rel, counter: &Counter, event: Option<&Rel>) -> Limit {
    let public = |name: &str| Rel {
        schema: "public".into(),
        name: name.into(),
    };
    if event != Some(&public("clips")) {
        return Limit::Todo;
    }
    let default_tier = |tiers: &[(String, i64)]| {
        tiers
            .iter()
            .any(|(t, _)| t == "free")
            .then(|| "free".to_string())
    };
    if let Some(tiers) = catalog.clip_limits.clone().filter(|t| !t.is_empty()) {
        return Limit::Tiers {
            default_tier: default_tier(&tiers),
            from: "read from public.clip_limits, where quota keeps them as data today".into(),
            tiers,
        };
    }
    let seed_counter = Counter::Table {
        rel: public("user_usage"),
        column: "clips_this_month".into(),
        key: "user_id".into(),
    };
    if subject == &public("users") && counter == &seed_counter {
        let tiers = vec![("free".to_string(), 50), ("pro".to_string(), 1000)];
        return Limit::Tiers {
            default_tier: default_tier(&tiers),
            from: "quota's default mapping (V3 seeds them into public.clip_limits)".into(),
            tiers,
        };
    }
    Limit::Todo
}
