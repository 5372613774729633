//! A declared mapping checked against the catalog, once: every table,
//! column, type, key, uniqueness and member table, and the columns the
//! counter's first-use insert cannot fill. Every problem is named at once,
//! with the config key that names it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::{Charge, Declared, IntType, Limit, Meter, Name};
use crate::db;
use crate::sql;

/// What the catalog says about one column.
#[derive(Clone, Debug)]
pub struct ColumnFacts {
    pub data_type: String,
    pub required: bool,
    pub unique_alone: bool,
}

/// The catalog facts a mapping is checked against.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Tables (and views: `relkind`) with their columns in order.
    pub tables: BTreeMap<Name, (String, Vec<(String, ColumnFacts)>)>,
    pub functions: BTreeSet<Name>,
}

impl Catalog {
    /// Reads the facts about every table and function `meters` name.
    pub async fn read(conn: &mut PgConnection, meters: &[Declared]) -> Result<Catalog> {
        let mut tables = BTreeSet::new();
        let mut functions = BTreeSet::new();
        for m in meters {
            tables.insert(m.subject.table.clone());
            tables.insert(m.counter.table.clone());
            if let Some(members) = &m.subject.members {
                tables.insert(members.table.clone());
            }
            match &m.charge {
                Charge::Rpc { function } => {
                    functions.insert(function.clone());
                }
                Charge::Trigger { on, .. } => {
                    tables.insert(on.clone());
                }
            }
        }
        let (schemas, names) = split(&tables);
        let rows: Vec<(String, String, String, String, String, bool, bool)> =
            db::query_as(sql::MAPPING_COLUMNS)
                .bind(&schemas)
                .bind(&names)
                .fetch_all(&mut *conn)
                .await
                .context("reading the columns of the tables quota.toml names")?;
        let mut catalog = Catalog::default();
        for (schema, name, relkind, column, data_type, required, unique_alone) in rows {
            let entry = catalog
                .tables
                .entry(Name { schema, name })
                .or_insert_with(|| (relkind, Vec::new()));
            entry.1.push((
                column,
                ColumnFacts {
                    data_type,
                    required,
                    unique_alone,
                },
            ));
        }
        let (schemas, names) = split(&functions);
        let found: Vec<(String, String)> = db::query_as(sql::MAPPING_FUNCTIONS)
            .bind(&schemas)
            .bind(&names)
            .fetch_all(&mut *conn)
            .await
            .context("reading the functions quota.toml names")?;
        catalog.functions = found
            .into_iter()
            .map(|(schema, name)| Name { schema, name })
            .collect();
        Ok(catalog)
    }

    fn column(&self, table: &Name, column: &str) -> Option<&ColumnFacts> {
        let (_, columns) = self.tables.get(table)?;
        columns.iter().find(|(c, _)| c == column).map(|(_, f)| f)
    }
}

fn split(names: &BTreeSet<Name>) -> (Vec<String>, Vec<String>) {
    names
        .iter()
        .map(|n| (n.schema.clone(), n.name.clone()))
        .unzip()
}

/// What is already installed: the meters quota recorded, by name, so that
/// their own function and marker column are not taken for the
/// application's.
pub type Installed = BTreeMap<String, Meter>;

/// Resolves `declared` against `catalog`; `Err` lists every problem.
pub fn resolve(
    declared: &[Declared],
    catalog: &Catalog,
    installed: &Installed,
) -> std::result::Result<Vec<Meter>, Vec<String>> {
    let mut problems = Vec::new();
    let mut meters = Vec::new();
    for d in declared {
        let before = problems.len();
        let meter = resolve_one(d, catalog, installed.get(&d.name), &mut problems);
        if problems.len() == before {
            meters.extend(meter);
        }
    }
    shared_objects(declared, &mut problems);
    if problems.is_empty() {
        Ok(meters)
    } else {
        Err(problems)
    }
}

/// Two meters may not write the same counter or install the same function.
fn shared_objects(declared: &[Declared], problems: &mut Vec<String>) {
    let mut counters: BTreeMap<(Name, String), &str> = BTreeMap::new();
    let mut functions: BTreeMap<Name, &str> = BTreeMap::new();
    for d in declared {
        let key = (d.counter.table.clone(), d.counter.column.clone());
        if let Some(other) = counters.insert(key, &d.name) {
            problems.push(format!(
                "meters.{}.counter: {}.{} is also meters.{other}'s counter; give each meter its own",
                d.name, d.counter.table, d.counter.column
            ));
        }
        if let Charge::Rpc { function } = &d.charge {
            if let Some(other) = functions.insert(function.clone(), &d.name) {
                problems.push(format!(
                    "meters.{}.function: {function} is also meters.{other}'s function",
                    d.name
                ));
            }
        }
    }
}

fn resolve_one(
    d: &Declared,
    catalog: &Catalog,
    installed: Option<&Meter>,
    problems: &mut Vec<String>,
) -> Option<Meter> {
    let at = |key: &str| format!("meters.{}.{key}", d.name);
    let sub = |key: &str| format!("{}.{key}", d.subject_at);
    let s = &d.subject;
    if table(catalog, &s.table, &sub("table"), problems) {
        uuid_key(catalog, &s.table, &s.key, true, &sub("key"), problems);
    }
    if let Some(m) = &s.members {
        if table(catalog, &m.table, &sub("members.table"), problems) {
            uuid_key(
                catalog,
                &m.table,
                &m.subject,
                false,
                &sub("members.subject"),
                problems,
            );
            uuid_key(
                catalog,
                &m.table,
                &m.user,
                false,
                &sub("members.user"),
                problems,
            );
        }
    }
    let counter_type = counter(d, catalog, installed, problems);
    let limit_type = match &d.limit {
        Limit::Column(column) => int_column(catalog, &s.table, column, &at("limit"), problems),
        Limit::Tiers { .. } => {
            if catalog.tables.contains_key(&s.table) {
                text_column(catalog, &s.table, &s.tier, &sub("tier"), problems);
            }
            Some(IntType::Bigint)
        }
    };
    match &d.charge {
        Charge::Rpc { function } => {
            let ours = installed.is_some_and(|m| m.declared.charge == d.charge);
            if catalog.functions.contains(function) && !ours {
                problems.push(format!(
                    "{}: {function} already exists and quota did not install it for this meter; \
                     name another function (quota never replaces the application's)",
                    at("function")
                ));
            }
        }
        Charge::Trigger {
            on,
            subject_column,
            amount_column,
            ..
        } => {
            if table(catalog, on, &at("on"), problems) {
                uuid_key(
                    catalog,
                    on,
                    subject_column,
                    false,
                    &at("subject_column"),
                    problems,
                );
                if let Some(amount) = amount_column {
                    int_column(catalog, on, amount, &at("amount_column"), problems);
                }
            }
        }
    }
    Some(Meter {
        declared: d.clone(),
        counter_type: counter_type?,
        limit_type: limit_type?,
    })
}

/// The counter: an integer or bigint column; in a table of its own, a
/// unique uuid key and no other column its first-use insert cannot fill.
fn counter(
    d: &Declared,
    catalog: &Catalog,
    installed: Option<&Meter>,
    problems: &mut Vec<String>,
) -> Option<IntType> {
    let at = |key: &str| format!("meters.{}.{key}", d.name);
    let c = &d.counter;
    if !table(catalog, &c.table, &at("counter"), problems) {
        return None;
    }
    let int = int_column(catalog, &c.table, &c.column, &at("counter"), problems);
    if int == Some(IntType::Smallint) {
        problems.push(format!(
            "{}: {}.{} is smallint; a counter is integer or bigint",
            at("counter"),
            c.table,
            c.column
        ));
    }
    let marker = super::marker_column(&d.name);
    let marker_ours = installed.is_some_and(|m| m.declared.counter.table == c.table);
    if catalog.column(&c.table, &marker).is_some() && !marker_ours {
        problems.push(format!(
            "{}: {}.{marker} exists and quota did not add it; quota adds this period marker itself \
             (rename the column or the meter)",
            at("counter"),
            c.table
        ));
    }
    if c.own_table {
        uuid_key(
            catalog,
            &c.table,
            &c.key,
            true,
            &at("counter_key"),
            problems,
        );
        let (_, columns) = &catalog.tables[&c.table];
        for (column, facts) in columns {
            if facts.required && column != &c.key && column != &c.column && column != &marker {
                problems.push(format!(
                    "{}: {}.{column} is NOT NULL without a default, and the counter's first-use row \
                     cannot fill it (give it a default)",
                    at("counter"),
                    c.table
                ));
            }
        }
    }
    if int == Some(IntType::Smallint) {
        None
    } else {
        int
    }
}

/// The table exists (a table, not a view); else a problem at `at`.
fn table(catalog: &Catalog, name: &Name, at: &str, problems: &mut Vec<String>) -> bool {
    match catalog.tables.get(name) {
        None => {
            problems.push(format!(
                "{at}: table {name} does not exist (or quota's role cannot see it)"
            ));
            false
        }
        Some((kind, _)) if kind != "r" && kind != "p" => {
            problems.push(format!("{at}: {name} is not a table"));
            false
        }
        Some(_) => true,
    }
}

fn column<'a>(
    catalog: &'a Catalog,
    table: &Name,
    name: &str,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<&'a ColumnFacts> {
    let facts = catalog.column(table, name);
    if facts.is_none() {
        problems.push(format!("{at}: column {table}.{name} does not exist"));
    }
    facts
}

fn uuid_key(
    catalog: &Catalog,
    table: &Name,
    name: &str,
    unique: bool,
    at: &str,
    problems: &mut Vec<String>,
) {
    let Some(facts) = column(catalog, table, name, at, problems) else {
        return;
    };
    if facts.data_type != "uuid" {
        problems.push(format!(
            "{at}: {table}.{name} is {}, expected uuid",
            facts.data_type
        ));
    } else if unique && !facts.unique_alone {
        problems.push(format!(
            "{at}: {table}.{name} is not unique on its own (add a primary key or unique constraint on it)"
        ));
    }
}

fn int_column(
    catalog: &Catalog,
    table: &Name,
    name: &str,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<IntType> {
    let facts = column(catalog, table, name, at, problems)?;
    match facts.data_type.as_str() {
        "smallint" => Some(IntType::Smallint),
        "integer" => Some(IntType::Integer),
        "bigint" => Some(IntType::Bigint),
        other => {
            problems.push(format!(
                "{at}: {table}.{name} is {other}, expected integer or bigint"
            ));
            None
        }
    }
}

fn text_column(catalog: &Catalog, table: &Name, name: &str, at: &str, problems: &mut Vec<String>) {
    if let Some(facts) = column(catalog, table, name, at, problems) {
        if facts.data_type != "text" && !facts.data_type.starts_with("character varying") {
            problems.push(format!(
                "{at}: {table}.{name} is {}, expected text",
                facts.data_type
            ));
        }
    }
}
