//! The schema contract: the application's tables and columns that the
//! migrations rely on. `quota` never creates them in a real database; it
//! inspects them and refuses to install when they do not fit.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::PgConnection;

/// One expected column: `public.<table>.<column>` of information_schema type `data_type`.
#[derive(Clone, Copy, Debug)]
pub struct ExpectedColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub data_type: &'static str,
}

const fn col(table: &'static str, column: &'static str, data_type: &'static str) -> ExpectedColumn {
    ExpectedColumn {
        table,
        column,
        data_type,
    }
}

/// The schema contract (README, "Schema contract"), in order.
pub const CONTRACT: &[ExpectedColumn] = &[
    col("users", "id", "uuid"),
    col("users", "email", "text"),
    col("users", "plan", "text"),
    col("users", "subscription_status", "text"),
    col("users", "usage_this_month", "integer"),
    col("users", "plan_limits_scrapes", "integer"),
    col("users", "subscription_tier", "text"),
    col("user_usage", "user_id", "uuid"),
    col("user_usage", "clips_this_month", "integer"),
    col("clips", "user_id", "uuid"),
];

/// The columns the clip trigger (V3, V4) names when it creates a user's
/// counter row: `INSERT INTO public.user_usage (user_id, clips_this_month,
/// clips_period_start) ... ON CONFLICT (user_id) DO UPDATE`. Every other
/// column of `user_usage` gets its default, so a required one without a
/// default fails every user's first clip. (`users` is only updated, and
/// `clip_limits` is quota's own table.)
pub const USAGE_INSERT_COLUMNS: &[&str] = &["user_id", "clips_this_month", "clips_period_start"];

/// The contract's tables, in order of first mention.
pub fn tables() -> Vec<&'static str> {
    let mut tables: Vec<&'static str> = Vec::new();
    for c in CONTRACT {
        if !tables.contains(&c.table) {
            tables.push(c.table);
        }
    }
    tables
}

/// One way the database departs from the contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    MissingTable {
        table: String,
    },
    MissingColumn {
        table: String,
        column: String,
        expected: String,
    },
    WrongType {
        table: String,
        column: String,
        expected: String,
        found: String,
    },
    NotUnique {
        table: String,
        column: String,
    },
    /// A column the clip trigger's insert leaves out (see
    /// [`USAGE_INSERT_COLUMNS`]) that is NOT NULL without a default.
    /// With BEFORE INSERT triggers on the table, which may fill it, only a
    /// warning ([`Problem::is_warning`]).
    RequiredColumn {
        table: String,
        column: String,
        #[serde(rename = "type")]
        column_type: String,
        before_insert_triggers: Vec<String>,
    },
    /// The table exists, but the role quota runs as may not read it.
    NoPrivilege {
        table: String,
        role: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MissingTable { table } => write!(f, "table public.{table} is missing"),
            Problem::MissingColumn { table, column, expected } => {
                write!(f, "column public.{table}.{column} ({expected}) is missing")
            }
            Problem::WrongType { table, column, expected, found } => {
                write!(f, "column public.{table}.{column} is {found}, expected {expected}")
            }
            Problem::NotUnique { table, column } => write!(
                f,
                "public.{table}.{column} has no unique index (needed to keep one counter row per user)"
            ),
            Problem::RequiredColumn {
                table,
                column,
                column_type,
                before_insert_triggers,
            } => {
                let quoted = db::quote_ident(column);
                let unless = if before_insert_triggers.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (unless the BEFORE INSERT trigger {} on public.{table} fills it)",
                        before_insert_triggers.join(", ")
                    )
                };
                write!(
                    f,
                    "column public.{table}.{column} ({column_type}) is NOT NULL without a \
                     default: the clip trigger creates a user's {table} row with only {}, so \
                     every user without one would be refused their first clip{unless}; give it \
                     a default (ALTER TABLE public.{table} ALTER COLUMN {quoted} SET DEFAULT \
                     ...) or make it nullable (ALTER TABLE public.{table} ALTER COLUMN {quoted} \
                     DROP NOT NULL)",
                    USAGE_INSERT_COLUMNS.join(", ")
                )
            }
            Problem::NoPrivilege { table, role } => {
                write!(f, "{}", crate::error::hint::contract_table_denied(table, role))
            }
        }
    }
}

impl Problem {
    /// A problem that may not be one (a trigger may fill the column):
    /// `check schema` and `verify` warn, `migrate apply` goes ahead.
    pub fn is_warning(&self) -> bool {
        matches!(self, Problem::RequiredColumn { before_insert_triggers, .. }
            if !before_insert_triggers.is_empty())
    }
}

/// Every departure from the contract, empty when the schema fits.
pub async fn inspect(conn: &mut PgConnection) -> Result<Vec<Problem>> {
    let tables = tables();
    let found: Vec<(String, String, String, bool)> = db::query_as(sql::CONTRACT_COLUMNS)
        .bind(&tables)
        .fetch_all(&mut *conn)
        .await
        .context("reading the application's columns from the catalog")?;
    let rows: Vec<(String, String, String)> = found
        .iter()
        .map(|(t, c, ty, _)| (t.clone(), c.clone(), ty.clone()))
        .collect();
    let mut problems = compare(&rows);
    let mut unreadable: Vec<&str> = found
        .iter()
        .filter(|r| !r.3)
        .map(|r| r.0.as_str())
        .collect();
    unreadable.dedup();
    if !unreadable.is_empty() {
        let role: String = db::query_scalar(sql::CURRENT_ROLE)
            .fetch_one(&mut *conn)
            .await?;
        for table in unreadable {
            problems.push(Problem::NoPrivilege {
                table: table.to_string(),
                role: role.clone(),
            });
        }
    }
    let present = |t: &str| rows.iter().any(|(table, _, _)| table == t);
    if present("user_usage") && rows_has(&rows, "user_usage", "user_id").is_some() {
        let unique: bool = db::query_scalar(sql::UNIQUE_USER_USAGE)
            .fetch_one(&mut *conn)
            .await
            .context("reading the indexes of public.user_usage")?;
        if !unique {
            problems.push(Problem::NotUnique {
                table: "user_usage".into(),
                column: "user_id".into(),
            });
        }
    }
    if present("user_usage") {
        problems.extend(required_by_insert(conn, "user_usage", USAGE_INSERT_COLUMNS).await?);
    }
    Ok(problems)
}

/// The columns of `public.<table>` an insert naming only `given` cannot
/// fill: NOT NULL, no default, not generated or identity.
async fn required_by_insert(
    conn: &mut PgConnection,
    table: &str,
    given: &[&str],
) -> Result<Vec<Problem>> {
    let rows: Vec<(String, String, String, String, String)> = db::query_as(sql::REQUIRED_COLUMNS)
        .bind(format!("public.{table}"))
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading the required columns of public.{table}"))?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|(name, ..)| !given.contains(&name.as_str()))
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let triggers: Vec<String> = db::query_scalar(sql::BEFORE_INSERT_TRIGGERS)
        .bind(format!("public.{table}"))
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading the triggers of public.{table}"))?;
    Ok(rows
        .into_iter()
        .map(|(name, ty, ..)| Problem::RequiredColumn {
            table: table.into(),
            column: name,
            column_type: ty,
            before_insert_triggers: triggers.clone(),
        })
        .collect())
}

fn rows_has<'a>(
    rows: &'a [(String, String, String)],
    table: &str,
    column: &str,
) -> Option<&'a str> {
    rows.iter()
        .find(|(t, c, _)| t == table && c == column)
        .map(|(_, _, ty)| ty.as_str())
}

/// Compares found `(table, column, type)` rows with the contract.
pub fn compare(rows: &[(String, String, String)]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for table in tables() {
        if !rows.iter().any(|(t, _, _)| t == table) {
            problems.push(Problem::MissingTable {
                table: table.into(),
            });
            continue;
        }
        for expected in CONTRACT.iter().filter(|c| c.table == table) {
            match rows_has(rows, table, expected.column) {
                None => problems.push(Problem::MissingColumn {
                    table: table.into(),
                    column: expected.column.into(),
                    expected: expected.data_type.into(),
                }),
                Some(found) if found != expected.data_type => problems.push(Problem::WrongType {
                    table: table.into(),
                    column: expected.column.into(),
                    expected: expected.data_type.into(),
                    found: found.into(),
                }),
                Some(_) => {}
            }
        }
    }
    problems
}

/// The application's table or column a server's "does not exist" error
/// names ([`application_object`] of its message): the fact `error::users`
/// and `error::load` word a "restore it" hint with.
pub(crate) fn object_named_by(e: &sqlx::Error) -> Option<String> {
    application_object(e.as_database_error()?.message())
}

/// The application's table or column (of the schema contract) a server's
/// "relation … does not exist" or "column … does not exist" names:
/// `public.user_usage`, `public.users.usage_this_month` (`users` when the
/// server does not say the table); none for quota's own objects.
pub(crate) fn application_object(message: &str) -> Option<String> {
    let named = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        let name = rest.strip_suffix(" does not exist")?;
        Some(name.trim_matches('"').to_string())
    };
    if let Some(relation) = named("relation ") {
        let table = relation.strip_prefix("public.").unwrap_or(&relation);
        return tables().contains(&table).then(|| format!("public.{table}"));
    }
    let column = named("column ")?;
    let (table, column) = match column.rsplit_once('.') {
        Some((qualifier, column)) => (Some(qualifier.trim_matches('"').to_string()), column),
        None => (None, column.as_str()),
    };
    let expected = CONTRACT.iter().find(|c| {
        c.column == column.trim_matches('"')
            && table
                .as_deref()
                .is_none_or(|t| t == c.table || t == format!("public.{}", c.table) || t.len() <= 2)
    })?;
    Some(format!("public.{}.{}", expected.table, expected.column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: &str, c: &str, ty: &str) -> (String, String, String) {
        (t.into(), c.into(), ty.into())
    }

    #[test]
    fn complete_schema_has_no_problems() {
        let rows: Vec<_> = CONTRACT
            .iter()
            .map(|c| row(c.table, c.column, c.data_type))
            .collect();
        assert!(compare(&rows).is_empty());
    }

    #[test]
    fn names_every_missing_and_mistyped_column() {
        let rows = vec![
            row("users", "id", "uuid"),
            row("users", "usage_this_month", "bigint"),
            row("user_usage", "user_id", "uuid"),
            row("user_usage", "clips_this_month", "integer"),
        ];
        let problems = compare(&rows);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(text.contains(&"table public.clips is missing".to_string()));
        assert!(text.contains(
            &"column public.users.usage_this_month is bigint, expected integer".to_string()
        ));
        assert!(text.contains(&"column public.users.email (text) is missing".to_string()));
        assert_eq!(problems.len(), 1 + 1 + 5);
    }

    #[test]
    fn only_the_applications_tables_and_columns_are_named() {
        let object = |m: &str| application_object(m);
        assert_eq!(
            object("relation \"public.user_usage\" does not exist").as_deref(),
            Some("public.user_usage")
        );
        assert_eq!(
            object("relation \"clips\" does not exist").as_deref(),
            Some("public.clips")
        );
        assert_eq!(
            object("relation \"public.clip_limits\" does not exist"),
            None
        );
        assert_eq!(
            object("column u.usage_this_month does not exist").as_deref(),
            Some("public.users.usage_this_month")
        );
        assert_eq!(object("column \"clips_period_start\" does not exist"), None);
    }
}
