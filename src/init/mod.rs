//! `quota init`: reads the database's catalog (in one read-only
//! transaction, nothing else) and guesses the mapping a `quota.toml` would
//! describe: which table is the subject, which integer columns are counters
//! and limits, which tables a trigger meter would charge. `guess` turns the
//! catalog facts into a [`Guess`]; `render` writes it as commented TOML for
//! the user to confirm.

mod guess;
mod meters;
mod names;
pub(crate) mod render;

use std::collections::BTreeSet;
use std::fmt;

use anyhow::{Context as _, Result};

use crate::db::{self, Database};
use crate::sql;

pub(crate) use guess::{guess, Counter, Guess, Kind, Limit};

/// Schemas that are not the application's: PostgreSQL's, Supabase's own
/// services', and quota's. Tables there are never guessed as a subject or a
/// counter; a foreign key may still point into them (`auth.users`).
const NOT_APPLICATION: &[&str] = &[
    "information_schema",
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "supabase_functions",
    "supabase_migrations",
    "extensions",
    "graphql",
    "graphql_public",
    "pgsodium",
    "pgsodium_masks",
    "vault",
    "net",
    "cron",
    "pgbouncer",
    "_analytics",
    "quota",
];

/// A table, by schema and name as the catalog spells them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Rel {
    pub schema: String,
    pub name: String,
}

impl fmt::Display for Rel {
    /// `schema.table`, unquoted: how `quota.toml` names a table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// One column of an application table.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub rel: Rel,
    pub name: String,
    /// `pg_type.typname` (a domain's base type): `int4`, `int8`, `uuid`, `text`, …
    pub type_name: String,
}

/// A single-column key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Primary,
    Unique,
    /// References this table and column.
    Foreign(Rel, String),
}

#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub rel: Rel,
    pub column: String,
    pub kind: KeyKind,
}

/// What `init` knows about the database: catalog facts, and the rows of
/// quota's own `public.clip_limits` where the default mapping is installed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Catalog {
    pub columns: Vec<Column>,
    pub keys: Vec<Key>,
    pub clip_limits: Option<Vec<(String, i64)>>,
}

impl Catalog {
    /// Every application table, in name order.
    pub fn tables(&self) -> BTreeSet<Rel> {
        self.columns.iter().map(|c| c.rel.clone()).collect()
    }

    /// Columns and keys sorted by table (columns keeping their order within
    /// one), so that a table's are found by binary search: a guess looks
    /// at every table from every candidate, and real schemas have thousands.
    pub fn sorted(mut self) -> Self {
        self.columns.sort_by(|a, b| a.rel.cmp(&b.rel));
        self.keys.sort_by(|a, b| a.rel.cmp(&b.rel));
        self
    }

    /// The columns of `rel`, in table order ([`Catalog::sorted`] first).
    pub fn columns_of(&self, rel: &Rel) -> std::slice::Iter<'_, Column> {
        let start = self.columns.partition_point(|c| &c.rel < rel);
        let end = self.columns.partition_point(|c| &c.rel <= rel);
        self.columns[start..end].iter()
    }

    /// The single-column keys of `rel` ([`Catalog::sorted`] first).
    fn keys_of(&self, rel: &Rel) -> std::slice::Iter<'_, Key> {
        let start = self.keys.partition_point(|k| &k.rel < rel);
        let end = self.keys.partition_point(|k| &k.rel <= rel);
        self.keys[start..end].iter()
    }

    pub fn type_of(&self, rel: &Rel, column: &str) -> Option<&str> {
        self.columns_of(rel)
            .find(|c| c.name == column)
            .map(|c| c.type_name.as_str())
    }

    /// The column of a single-column primary key.
    pub fn primary_key(&self, rel: &Rel) -> Option<&str> {
        self.keys_of(rel)
            .find(|k| k.kind == KeyKind::Primary)
            .map(|k| k.column.as_str())
    }

    /// A primary key or a unique index on exactly this column.
    pub fn is_unique(&self, rel: &Rel, column: &str) -> bool {
        self.keys_of(rel)
            .any(|k| k.column == column && matches!(k.kind, KeyKind::Primary | KeyKind::Unique))
    }

    /// The tables and columns `column` references by a foreign key.
    pub fn references<'a>(
        &'a self,
        rel: &'a Rel,
        column: &'a str,
    ) -> impl Iterator<Item = (&'a Rel, &'a str)> + 'a {
        self.keys_of(rel).filter_map(move |k| match &k.kind {
            KeyKind::Foreign(to, to_column) if k.column == column => Some((to, to_column.as_str())),
            _ => None,
        })
    }

    /// Whether `rel.column` references `to.to_column`.
    pub fn refers_to(&self, rel: &Rel, column: &str, to: &Rel, to_column: &str) -> bool {
        self.references(rel, column)
            .any(|(r, c)| r == to && c == to_column)
    }
}

/// `auth.users`, the table Supabase's sign-ups live in.
pub(crate) fn auth_users() -> Rel {
    Rel {
        schema: "auth".to_string(),
        name: "users".to_string(),
    }
}

/// Reads the catalog facts in one read-only transaction (catalog queries,
/// and quota's own `public.clip_limits` when it is there and readable).
pub(crate) async fn read(database: &Database) -> Result<Catalog> {
    let mut session = database.connect().await?;
    let skip: Vec<String> = NOT_APPLICATION.iter().map(|s| s.to_string()).collect();
    session
        .read(async |conn| {
            let columns: Vec<(String, String, String, String)> = db::query_as(sql::INIT_COLUMNS)
                .bind(&skip)
                .fetch_all(&mut *conn)
                .await
                .context("reading the columns of the application's tables")?;
            type KeyRow = (
                String,
                String,
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let keys: Vec<KeyRow> = db::query_as(sql::INIT_KEYS)
                .bind(&skip)
                .fetch_all(&mut *conn)
                .await
                .context("reading the keys of the application's tables")?;
            let readable: bool = db::query_scalar(sql::INIT_CLIP_LIMITS_READABLE)
                .fetch_one(&mut *conn)
                .await
                .context("looking for public.clip_limits")?;
            let clip_limits = if readable {
                let rows: Vec<(String, i64)> = db::query_as(sql::INIT_CLIP_LIMITS)
                    .fetch_all(&mut *conn)
                    .await
                    .context("reading the tiers of public.clip_limits")?;
                Some(rows)
            } else {
                None
            };
            Ok(Catalog {
                columns: columns
                    .into_iter()
                    .map(|(schema, name, column, type_name)| Column {
                        rel: Rel { schema, name },
                        name: column,
                        type_name,
                    })
                    .collect(),
                keys: keys
                    .into_iter()
                    .filter_map(|(schema, name, column, kind, rs, rt, rc)| {
                        let kind = match (kind.as_str(), rs, rt, rc) {
                            ("primary", ..) => KeyKind::Primary,
                            ("unique", ..) => KeyKind::Unique,
                            ("foreign", Some(schema), Some(name), Some(column)) => {
                                KeyKind::Foreign(Rel { schema, name }, column)
                            }
                            _ => return None,
                        };
                        Some(Key {
                            rel: Rel { schema, name },
                            column,
                            kind,
                        })
                    })
                    .collect(),
                clip_limits,
            })
        })
        .await
}

/// Where the file goes: a path, or stdout (`--output -`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    File(std::path::PathBuf),
    Stdout,
}

impl Destination {
    pub fn parse(output: &std::path::Path) -> Self {
        if output.as_os_str() == "-" {
            Destination::Stdout
        } else {
            Destination::File(output.to_path_buf())
        }
    }

    /// Refuses, before anything is read, to overwrite a file without `--force`.
    pub fn check(&self, force: bool) -> Result<()> {
        match self {
            Destination::File(path) if !force && path.symlink_metadata().is_ok() => {
                Err(already_there(path))
            }
            _ => Ok(()),
        }
    }

    /// Writes the file: created new unless `force` (so a file that appeared
    /// since [`Destination::check`] is not overwritten either).
    pub fn write_file(path: &std::path::Path, text: &str, force: bool) -> Result<()> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if force {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let result = options
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.flush()));
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(already_there(path)),
            Err(e) => Err(crate::error::usage(format!(
                "cannot write {}: {e}; choose another --output (or `-` for stdout)",
                path.display()
            ))),
            Ok(()) => Ok(()),
        }
    }
}

fn already_there(path: &std::path::Path) -> anyhow::Error {
    crate::error::usage(format!(
        "{} already exists; pass --force to overwrite it, or --output PATH to write elsewhere",
        path.display()
    ))
}

/// What `quota init` wrote, for the table on stdout (or JSON).
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct InitReport {
    /// The file written.
    pub path: String,
    /// The guessed subject table, `null` when none was found.
    pub subject: Option<String>,
    pub meters: Vec<MeterSummary>,
    /// Keys left commented out with a `# TODO:` for the user to fill in.
    pub todos: usize,
}

#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct MeterSummary {
    pub name: String,
    /// `rpc` or `trigger`.
    pub kind: &'static str,
    pub counter: String,
    /// The limit column, `tiers` for per-tier limits, `null` when left to fill in.
    pub limit: Option<String>,
    /// `month`, `day`, `none`; `null` when left to fill in.
    pub period: Option<&'static str>,
}

impl InitReport {
    pub fn new(path: String, guess: &Guess, text: &str) -> Self {
        InitReport {
            path,
            subject: guess.subject.as_ref().map(|s| s.rel.to_string()),
            meters: guess
                .meters
                .iter()
                .map(|m| MeterSummary {
                    name: m.name.clone(),
                    kind: match m.kind {
                        Kind::Rpc { .. } => "rpc",
                        Kind::Trigger { .. } => "trigger",
                    },
                    counter: match &m.counter {
                        Counter::OnSubject(c) => c.clone(),
                        Counter::Table { rel, column, .. } => format!("{rel}.{column}"),
                    },
                    limit: match &m.limit {
                        Limit::Column(c) => Some(c.clone()),
                        Limit::Tiers { .. } => Some("tiers".to_string()),
                        Limit::Todo => None,
                    },
                    period: m.period.as_ref().map(|(p, _)| *p),
                })
                .collect(),
            todos: render::todos(text),
        }
    }
}

#[cfg(test)]
mod tests;
