//! Catalog facts → a guessed mapping. Every guess carries the reasons it
//! was made; what cannot be decided is left for the user (a TODO).

use super::names;
use super::{auth_users, Catalog, Column, Rel};

/// A table that could be the subject, with how well it fits and why.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    pub rel: Rel,
    pub key: String,
    pub score: i32,
    pub reasons: Vec<String>,
}

/// Members of an account subject: who may spend its quota.
#[derive(Clone, Debug)]
pub(crate) struct Members {
    pub table: Rel,
    pub subject: String,
    pub user: String,
    /// What the user column references, e.g. `auth.users.id`.
    pub user_refers_to: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Subject {
    pub rel: Rel,
    pub key: String,
    pub reasons: Vec<String>,
    pub tier: Option<String>,
    /// Other text columns named like a tier.
    pub other_tiers: Vec<String>,
    pub members: Option<Members>,
}

/// Where a meter's counter lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// A column of the subject table.
    OnSubject(String),
    /// A column of a table keyed uniquely by a column naming the subject.
    Table {
        rel: Rel,
        column: String,
        key: String,
    },
}

#[derive(Clone, Debug)]
pub(crate) enum Limit {
    /// A column of the subject table.
    Column(String),
    /// Per tier, and where the values came from.
    Tiers {
        tiers: Vec<(String, i64)>,
        from: String,
        default_tier: Option<String>,
    },
    /// Not decided: the user fills it in.
    Todo,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Rpc {
        function: String,
    },
    Trigger {
        on: Rel,
        subject_column: String,
        /// Integer columns that look like an amount to charge instead of 1.
        amounts: Vec<String>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Meter {
    pub name: String,
    pub kind: Kind,
    pub counter: Counter,
    pub limit: Limit,
    /// The period and why; `None` when the names say nothing.
    pub period: Option<(&'static str, String)>,
    pub reasons: Vec<String>,
}

/// A table whose rows could be charged, for which no counter was found.
#[derive(Clone, Debug)]
pub(crate) struct Suggestion {
    pub on: Rel,
    pub subject_column: String,
    pub amounts: Vec<String>,
}

/// The whole guess.
#[derive(Clone, Debug, Default)]
pub(crate) struct Guess {
    pub subject: Option<Subject>,
    /// The other candidates, best first.
    pub considered: Vec<Candidate>,
    pub meters: Vec<Meter>,
    pub suggestions: Vec<Suggestion>,
    /// Things the file cannot express, for the header.
    pub notes: Vec<String>,
}

/// Guesses the mapping from the catalog.
pub(crate) fn guess(catalog: &Catalog) -> Guess {
    let (catalog, notes) = expressible(catalog);
    let mut candidates: Vec<Candidate> = catalog
        .tables()
        .into_iter()
        .filter_map(|rel| candidate(&catalog, rel))
        .collect();
    candidates.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.rel.cmp(&b.rel)));
    let mut guess = Guess {
        notes,
        ..Guess::default()
    };
    if candidates.is_empty() {
        return guess;
    }
    let best = candidates.remove(0);
    guess.considered = candidates;
    let subject = subject(&catalog, best);
    super::meters::meters(&catalog, &subject, &mut guess);
    guess.subject = Some(subject);
    guess
}

/// The catalog without tables and columns whose names contain a dot:
/// `quota.toml` names tables `schema.table` and counters
/// `schema.table.column`, split at dots, so such a name cannot be written.
fn expressible(catalog: &Catalog) -> (Catalog, Vec<String>) {
    let dotted = |s: &str| s.contains('.');
    let mut notes = Vec::new();
    let mut out = catalog.clone();
    out.columns.retain(|c| {
        let ok = !dotted(&c.rel.schema) && !dotted(&c.rel.name) && !dotted(&c.name);
        if !ok {
            let note = format!(
                "left out {}.{}: a name with a dot cannot be written in quota.toml (rename it)",
                c.rel, c.name
            );
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        ok
    });
    out.keys
        .retain(|k| !dotted(&k.rel.schema) && !dotted(&k.rel.name) && !dotted(&k.column));
    (out.sorted(), notes)
}

pub(super) fn integer_columns<'a>(
    catalog: &'a Catalog,
    rel: &'a Rel,
    pick: fn(&str) -> bool,
) -> impl Iterator<Item = &'a Column> + 'a {
    catalog
        .columns_of(rel)
        .filter(move |c| names::is_integer(&c.type_name) && pick(&c.name))
}

fn tier_columns(catalog: &Catalog, rel: &Rel) -> Vec<String> {
    let mut tiers: Vec<(u8, &str)> = catalog
        .columns_of(rel)
        .filter(|c| names::is_text(&c.type_name))
        .filter_map(|c| names::tier_rank(&c.name).map(|r| (r, c.name.as_str())))
        .collect();
    tiers.sort_by_key(|t| std::cmp::Reverse(t.0));
    tiers.into_iter().map(|(_, c)| c.to_string()).collect()
}

/// Whether `rel.column` names a row of the subject: it references the
/// subject's key, or `auth.users.id` where the subject's key does too.
pub(super) fn names_subject(
    catalog: &Catalog,
    rel: &Rel,
    column: &str,
    subject: &Rel,
    key: &str,
) -> bool {
    catalog.type_of(rel, column) == Some("uuid")
        && (catalog.refers_to(rel, column, subject, key)
            || (catalog.refers_to(subject, key, &auth_users(), "id")
                && catalog.refers_to(rel, column, &auth_users(), "id")))
}

/// A member table of `subject`: a uuid column referencing the subject and
/// another referencing a user table (`auth.users`, `users`, `profiles`).
fn member_table(catalog: &Catalog, subject: &Rel, key: &str) -> Option<Members> {
    if names::is_user_table(&subject.name) || catalog.refers_to(subject, key, &auth_users(), "id") {
        return None;
    }
    catalog.tables().into_iter().find_map(|rel| {
        if &rel == subject {
            return None;
        }
        let uuids: Vec<&Column> = catalog
            .columns_of(&rel)
            .filter(|c| c.type_name == "uuid")
            .collect();
        let account = uuids
            .iter()
            .find(|c| catalog.refers_to(&rel, &c.name, subject, key))?;
        uuids.iter().find_map(|c| {
            if c.name == account.name {
                return None;
            }
            let (to, to_column) = catalog
                .references(&rel, &c.name)
                .find(|(to, _)| *to != subject && names::is_user_table(&to.name))?;
            Some(Members {
                table: rel.clone(),
                subject: account.name.clone(),
                user: c.name.clone(),
                user_refers_to: format!("{to}.{to_column}"),
            })
        })
    })
}

fn candidate(catalog: &Catalog, rel: Rel) -> Option<Candidate> {
    let key = catalog.primary_key(&rel)?.to_string();
    if catalog.type_of(&rel, &key) != Some("uuid") {
        return None;
    }
    let mut score = 0;
    let mut reasons = vec![format!("uuid primary key {key}")];
    let auth = catalog.refers_to(&rel, &key, &auth_users(), "id");
    if auth {
        score += 40;
        reasons.push("its key references auth.users(id), Supabase's profile pattern".into());
    }
    let named = names::subject_name_rank(&rel.name);
    if let Some(rank) = named {
        score += rank;
        reasons.push(format!("named like a subject table ({})", rel.name));
    }
    let extends = catalog
        .references(&rel, &key)
        .any(|(to, _)| *to != auth_users() && *to != rel);
    if extends && !auth {
        score -= 20;
        reasons.push("its key references another table (a table of that table's rows)".into());
    }
    let counters = integer_columns(catalog, &rel, names::is_counter).count() as i32;
    let limits = integer_columns(catalog, &rel, names::is_limit).count() as i32;
    score += 8 * counters.min(3) + 4 * limits.min(2);
    if counters + limits > 0 {
        reasons.push(format!("{counters} counter and {limits} limit column(s)"));
    }
    let tier = tier_columns(catalog, &rel).into_iter().next();
    if let Some(tier) = &tier {
        score += 6;
        reasons.push(format!("a tier column ({tier})"));
    }
    let members = member_table(catalog, &rel, &key);
    if let Some(m) = &members {
        score += 10;
        reasons.push(format!("a member table ({})", m.table));
    }
    let eligible = auth
        || named.is_some()
        || members.is_some()
        || (counters > 0 && (limits > 0 || tier.is_some()));
    eligible.then_some(Candidate {
        rel,
        key,
        score,
        reasons,
    })
}

fn subject(catalog: &Catalog, best: Candidate) -> Subject {
    let mut tiers = tier_columns(catalog, &best.rel);
    let tier = (!tiers.is_empty()).then(|| tiers.remove(0));
    Subject {
        members: member_table(catalog, &best.rel, &best.key),
        rel: best.rel,
        key: best.key,
        reasons: best.reasons,
        tier,
        other_tiers: tiers,
    }
}
