//! Scratch users, and the shape of the application's tables that making
//! one needs: how `race` and `bench` work on a real database without
//! leaving a trace.
//!
//! A scratch user is an ordinary `public.users` row with a recognisable
//! e-mail (`quota-scratch-<uuid>@example.invalid`) that is deleted with its
//! counter row and clips afterwards. Real schemas are not the demo's: where
//! `users.id` references another table (Supabase's `auth.users`), the
//! referenced row is created first and removed last; required columns
//! without defaults on `users`, `clips` and that table get placeholders by
//! type (see [`placeholder`]).

use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::{self, Session};
use crate::error::{self, sqlstate};

/// Columns of `public.users` the scratch insert always sets.
const USER_COLUMNS: &[&str] = &[
    "id",
    "email",
    "usage_this_month",
    "plan_limits_scrapes",
    "subscription_tier",
];

/// What a scratch user starts with.
#[derive(Clone, Debug)]
pub struct ScratchUser {
    pub usage: i32,
    pub limit: i32,
    pub tier: String,
    /// `Some(n)`: also create the `user_usage` row with `n` clips.
    pub clips: Option<i32>,
}

/// Extra columns an INSERT must name, and their placeholder expressions
/// (which may use `$1`, the scratch user's id).
#[derive(Clone, Debug, Default)]
pub struct Extras {
    columns: Vec<String>,
    values: Vec<String>,
}

impl Extras {
    /// Fills `{extra_columns}` and `{extra_values}` of an INSERT template.
    pub fn fill(&self, template: &str) -> String {
        let lead = |v: &[String]| {
            v.iter()
                .map(|x| format!(", {x}"))
                .collect::<Vec<_>>()
                .concat()
        };
        template
            .replace("{extra_columns}", &lead(&self.columns))
            .replace("{extra_values}", &lead(&self.values))
    }
}

/// The table `users.id` references, with its key column.
#[derive(Clone, Debug)]
struct Parent {
    /// Schema-qualified and quoted as the catalog prints it (`auth.users`).
    table: String,
    column: String,
    extras: Extras,
}

/// What inserting scratch rows into this database needs.
#[derive(Clone, Debug)]
pub struct Shape {
    users: Extras,
    pub clips: Extras,
    parent: Option<Parent>,
    /// The role quota runs as, for grant hints.
    pub role: String,
}

impl Shape {
    /// Reads the shape from the catalog; a column no placeholder fits is a
    /// precondition error ending with `advice`.
    pub async fn discover(conn: &mut PgConnection, advice: &str) -> Result<Shape> {
        let role: String = db::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *conn)
            .await?;
        let users = extras(conn, "public.users", USER_COLUMNS, advice).await?;
        let clips = extras(conn, "public.clips", &["user_id"], advice).await?;
        let parent: Option<(String, String)> = db::query_as(sql::USERS_ID_PARENT)
            .fetch_optional(&mut *conn)
            .await
            .context("reading the foreign key of public.users.id")?;
        let parent = match parent {
            Some((table, column)) => Some(Parent {
                extras: extras(conn, &table, &[column.as_str()], advice).await?,
                table,
                column: quote_ident(&column),
            }),
            None => None,
        };
        Ok(Shape {
            users,
            clips,
            parent,
            role,
        })
    }
}

/// Placeholders for the required columns of `table` other than `given`.
async fn extras(
    conn: &mut PgConnection,
    table: &str,
    given: &[&str],
    advice: &str,
) -> Result<Extras> {
    let rows: Vec<(String, String, String, String, String)> = db::query_as(sql::REQUIRED_COLUMNS)
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .context("reading the required columns from the catalog")?;
    let mut out = Extras::default();
    for (name, ty, category, kind, base) in rows {
        if given.contains(&name.as_str()) {
            continue;
        }
        let value = placeholder(&ty, &category, &kind, &base).ok_or_else(|| {
            error::precondition(format!(
                "cannot create a scratch user: {table}.{name} ({ty}) is required, has no \
                 default, and quota has no placeholder for its type; give it a default, or {advice}"
            ))
        })?;
        out.columns.push(quote_ident(&name));
        out.values.push(value);
    }
    Ok(out)
}

/// A placeholder value for a required column, by type: the scratch id as
/// text for strings (unique, recognisable), zero, false, now, empty JSON or
/// array, the first label of an enum. `ty` is `format_type()` output from
/// the catalog, never user input. `None` when nothing sensible fits.
fn placeholder(ty: &str, category: &str, kind: &str, base: &str) -> Option<String> {
    Some(match (category, kind, base) {
        (_, "e", _) => format!("(pg_catalog.enum_range(NULL::{ty}))[1]"),
        (_, _, "uuid") => "gen_random_uuid()".to_string(),
        (_, _, "json" | "jsonb") => format!("'{{}}'::{ty}"),
        ("S", _, _) => format!("('quota-scratch-' || $1::text)::{ty}"),
        ("N", _, _) => format!("0::{ty}"),
        ("B", _, _) => "false".to_string(),
        ("D", _, _) => format!("now()::{ty}"),
        ("A", _, _) => format!("'{{}}'::{ty}"),
        _ => return None,
    })
}

/// Creates a scratch user (and the row its id references, if any), in one
/// transaction. Anything the database refuses is a precondition error
/// ending with `advice` (what to do instead).
pub async fn create_user(
    db: &mut Session,
    shape: &Shape,
    spec: &ScratchUser,
    advice: &str,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    let mut tx = db.begin().await?;
    if let Some(parent) = &shape.parent {
        let sql = parent.extras.fill(
            &sql::SCRATCH_PARENT_INSERT
                .replace("{parent}", &parent.table)
                .replace("{column}", &parent.column),
        );
        db::query(&sql)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| explain_insert_failure(e, &parent.table, &shape.role, advice))?;
    }
    db::query(&shape.users.fill(sql::SCRATCH_USER_INSERT))
        .bind(id)
        .bind(format!("quota-scratch-{id}@example.invalid"))
        .bind(spec.usage)
        .bind(spec.limit)
        .bind(&spec.tier)
        .execute(&mut *tx)
        .await
        .map_err(|e| explain_insert_failure(e, "public.users", &shape.role, advice))?;
    if let Some(clips) = spec.clips {
        db::query(sql::SCRATCH_USAGE_INSERT)
            .bind(id)
            .bind(clips)
            .execute(&mut *tx)
            .await
            .map_err(|e| explain_insert_failure(e, "public.user_usage", &shape.role, advice))?;
    }
    tx.commit().await?;
    Ok(id)
}

fn explain_insert_failure(e: sqlx::Error, table: &str, role: &str, advice: &str) -> anyhow::Error {
    let detail = e
        .as_database_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    let why = match sqlstate(&e).as_deref() {
        Some(error::sqlstate::FOREIGN_KEY_VIOLATION) => {
            format!("{table} references a row quota could not create")
        }
        Some(error::sqlstate::NOT_NULL_VIOLATION)
        | Some(error::sqlstate::CHECK_VIOLATION)
        | Some(error::sqlstate::UNIQUE_VIOLATION)
        | Some(error::sqlstate::INVALID_TEXT_REPRESENTATION) => {
            format!("{table} requires values quota cannot make up for a scratch user")
        }
        Some(error::sqlstate::INSUFFICIENT_PRIVILEGE) => {
            return missing_privilege_or(e, table, role);
        }
        _ => return anyhow::Error::new(e).context("could not create a scratch user"),
    };
    error::precondition(format!(
        "cannot create a scratch user ({detail}): {why}; {advice}"
    ))
}

/// A "permission denied" as what it is, with the grant for the role quota
/// runs as; other errors pass through.
pub fn missing_privilege_or(e: sqlx::Error, table: &str, role: &str) -> anyhow::Error {
    match e.as_database_error() {
        Some(d) if d.code().as_deref() == Some(error::sqlstate::INSUFFICIENT_PRIVILEGE) => {
            error::precondition(format!(
            "{}: as the table's owner run: GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {}, \
             or run quota as the owner (on Supabase: postgres)",
            d.message(),
            db::quote_ident(role)
        ))
        }
        _ => anyhow::Error::new(e).context(format!("working on {table}")),
    }
}

/// Deletes scratch users with their clips, counter rows and referenced
/// rows, in one transaction (explicitly, since a real schema may not cascade).
pub async fn delete_users(db: &mut Session, shape: &Shape, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for sql in [
        sql::SCRATCH_USER_DELETE_CLIPS,
        sql::SCRATCH_USER_DELETE_USAGE,
        sql::SCRATCH_USER_DELETE,
    ] {
        db::query(sql).bind(ids).execute(&mut *tx).await?;
    }
    if let Some(parent) = &shape.parent {
        let sql = sql::SCRATCH_PARENT_DELETE
            .replace("{parent}", &parent.table)
            .replace("{column}", &parent.column);
        db::query(&sql).bind(ids).execute(&mut *tx).await?;
    }
    tx.commit()
        .await
        .context("could not delete the scratch users")
}

/// A PostgreSQL identifier, always double-quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("usage"), "\"usage\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn placeholders_by_type() {
        assert_eq!(
            placeholder("text", "S", "b", "text").unwrap(),
            "('quota-scratch-' || $1::text)::text"
        );
        assert_eq!(
            placeholder("integer", "N", "b", "int4").unwrap(),
            "0::integer"
        );
        assert_eq!(
            placeholder("uuid", "U", "b", "uuid").unwrap(),
            "gen_random_uuid()"
        );
        assert!(placeholder("point", "G", "b", "point").is_none());
    }

    #[test]
    fn extras_fill_templates() {
        let e = Extras {
            columns: vec!["\"url\"".into()],
            values: vec!["'x'".into()],
        };
        assert_eq!(
            e.fill("INSERT INTO t (a{extra_columns}) VALUES ($1{extra_values})"),
            "INSERT INTO t (a, \"url\") VALUES ($1, 'x')"
        );
        assert_eq!(Extras::default().fill("(a{extra_columns})"), "(a)");
    }
}
