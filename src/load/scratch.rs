//! Scratch users, and the shape of the application's tables that making
//! one needs: how `race` and `bench` work on a real database without
//! leaving a trace.
//!
//! A scratch user is an ordinary `public.users` row with a recognisable
//! e-mail (`quota-scratch-<uuid>@quota.invalid`, a reserved domain) that is
//! deleted with its counter row and clips afterwards. Real schemas are not
//! the demo's: where `users.id` references another table (Supabase's
//! `auth.users`), the referenced row is created first and removed last;
//! required columns without defaults on `users`, `clips` and that table get
//! placeholders by type (see [`placeholder`]).
//!
//! That referenced row is made as a signup makes it, because applications
//! create the profile from it (Supabase's documented `handle_new_user`
//! trigger): it gets the same e-mail, empty metadata and the `authenticated`
//! audience and role ([`SIGNUP_COLUMNS`]). A profile or counter row such a
//! trigger made is adopted (updated to what the run needs, a missing e-mail
//! filled) instead of inserted again.

use anyhow::{Context, Result};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::{self, Session};
use crate::error;
use crate::sql;

/// Columns of `public.users` the scratch insert always sets.
const USER_COLUMNS: &[&str] = &[
    "id",
    "email",
    "usage_this_month",
    "plan_limits_scrapes",
    "subscription_tier",
];

/// Columns of the referenced table (`auth.users`) a signup trigger reads,
/// which a scratch row gets when they exist: the scratch e-mail, empty
/// metadata, and the audience and role of a signed-up user (all but the
/// e-mail only on a table shaped like Supabase Auth's).
const SIGNUP_COLUMNS: &[&str] = &[
    "email",
    "raw_user_meta_data",
    "raw_app_meta_data",
    "aud",
    "role",
];

/// The reserved domain (RFC 2606) of scratch users' e-mails.
const SCRATCH_DOMAIN: &str = "quota.invalid";

/// The e-mail of scratch user `id`, in `public.users` and `auth.users`.
fn scratch_email(id: Uuid) -> String {
    format!("quota-scratch-{id}@{SCRATCH_DOMAIN}")
}

/// What a scratch user starts with.
#[derive(Clone, Debug)]
pub(crate) struct ScratchUser {
    pub(crate) usage: i32,
    pub(crate) limit: i32,
    pub(crate) tier: String,
    /// `Some(n)`: also create the `user_usage` row with `n` clips.
    pub(crate) clips: Option<i32>,
}

/// Extra columns an INSERT must name, and their placeholder expressions
/// (which may use `$1`, the scratch user's id).
#[derive(Clone, Debug, Default)]
pub(crate) struct Extras {
    columns: Vec<String>,
    values: Vec<String>,
}

impl Extras {
    /// Fills `{extra_columns}` and `{extra_values}` of an INSERT template.
    pub(crate) fn fill(&self, template: &str) -> String {
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
pub(crate) struct Shape {
    users: Extras,
    pub(crate) clips: Extras,
    parent: Option<Parent>,
    /// The role quota runs as, for grant hints.
    pub(crate) role: String,
}

impl Shape {
    /// Reads the shape from the catalog; a column no placeholder fits is a
    /// precondition error ending with `advice`.
    pub(crate) async fn discover(conn: &mut PgConnection, advice: &str) -> Result<Shape> {
        let role: String = db::query_scalar(sql::CURRENT_ROLE)
            .fetch_one(&mut *conn)
            .await?;
        let users = extras(conn, "public.users", USER_COLUMNS, advice).await?;
        let clips = extras(conn, "public.clips", &["user_id"], advice).await?;
        let parent: Option<(String, String)> = db::query_as(sql::KEY_PARENT)
            .bind("public.users")
            .bind("id")
            .fetch_optional(&mut *conn)
            .await
            .context("reading the foreign key of public.users.id")?;
        let parent = match parent {
            Some((table, column)) => {
                let mut given = signup(conn, &table).await?;
                let mut names: Vec<&str> = given.names.iter().map(String::as_str).collect();
                names.push(column.as_str());
                let required = extras(conn, &table, &names, advice).await?;
                given.extras.columns.extend(required.columns);
                given.extras.values.extend(required.values);
                Some(Parent {
                    extras: given.extras,
                    table,
                    column: quoted_column(&column),
                })
            }
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

/// The row a scratch subject's key must reference first, as statements:
/// both take `$1`, the scratch id (the delete: an array of ids).
pub(crate) struct ParentRow {
    pub(crate) table: String,
    pub(crate) insert: String,
    pub(crate) delete: String,
}

/// The parent row `table.column` (a key) references, if any, with the
/// signup columns and placeholders its insert needs (`table` as regclass
/// text, `column` as the catalog spells it).
pub(crate) async fn parent_row(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
    advice: &str,
) -> Result<Option<ParentRow>> {
    let parent: Option<(String, String)> = db::query_as(sql::KEY_PARENT)
        .bind(table)
        .bind(column)
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("reading the foreign key of {table}.{column}"))?;
    let Some((parent, parent_column)) = parent else {
        return Ok(None);
    };
    let mut given = signup(conn, &parent).await?;
    let mut names: Vec<&str> = given.names.iter().map(String::as_str).collect();
    names.push(parent_column.as_str());
    let required = extras(conn, &parent, &names, advice).await?;
    given.extras.columns.extend(required.columns);
    given.extras.values.extend(required.values);
    let column = quoted_column(&parent_column);
    let fill = |template: &str| {
        template
            .replace("{parent}", &parent)
            .replace("{column}", &column)
    };
    Ok(Some(ParentRow {
        insert: given.extras.fill(&fill(sql::SCRATCH_PARENT_INSERT)),
        delete: fill(sql::SCRATCH_PARENT_DELETE),
        table: parent,
    }))
}

/// The [`SIGNUP_COLUMNS`] `table` has, with their values (and names, so
/// the required-column placeholders skip them).
struct Signup {
    names: Vec<String>,
    extras: Extras,
}

async fn signup(conn: &mut PgConnection, table: &str) -> Result<Signup> {
    let rows: Vec<(String, String, String, String)> =
        db::query_as(sql::SCRATCH_PARENT_SIGNUP_COLUMNS)
            .bind(table)
            .bind(SIGNUP_COLUMNS)
            .fetch_all(&mut *conn)
            .await
            .with_context(|| format!("reading the columns of {table}"))?;
    let mut out = Signup {
        names: Vec::new(),
        extras: Extras::default(),
    };
    // Audience, role and metadata only where the table is shaped like
    // Supabase Auth's (it has `raw_user_meta_data`): elsewhere a `role`
    // column may mean something else, and keeps its default.
    let gotrue = rows.iter().any(|(name, ..)| name == "raw_user_meta_data");
    for (name, ty, category, base) in rows {
        if !gotrue && name != "email" {
            continue;
        }
        if let Some(value) = signup_value(&name, &ty, &category, &base) {
            out.names.push(name.clone());
            out.extras.columns.push(quoted_column(&name));
            out.extras.values.push(value);
        }
    }
    Ok(out)
}

/// What a signup gives column `name` of type `ty` (`format_type()` output
/// from the catalog, never user input): `None` when the type is not the
/// expected one, and the column is left to its default.
fn signup_value(name: &str, ty: &str, category: &str, base: &str) -> Option<String> {
    Some(match (name, category, base) {
        ("email", "S", _) => format!("('quota-scratch-' || $1::text || '@{SCRATCH_DOMAIN}')::{ty}"),
        ("raw_user_meta_data" | "raw_app_meta_data", _, "json" | "jsonb") => {
            format!("'{{}}'::{ty}")
        }
        ("aud" | "role", "S", _) => format!("'authenticated'::{ty}"),
        _ => return None,
    })
}

/// A scratch row `table` refused, worded by `error::load` with the
/// application's table or column the server's message names (the
/// contract's to say).
fn insert_failure(e: sqlx::Error, table: &str, role: &str, advice: &str) -> anyhow::Error {
    let application = crate::contract::object_named_by(&e);
    error::load::scratch_insert_failure(e, application, table, role, advice)
}

impl Shape {
    /// The table `users.id` references and its key column, quoted.
    pub(crate) fn parent(&self) -> Option<(&str, &str)> {
        self.parent
            .as_ref()
            .map(|p| (p.table.as_str(), p.column.as_str()))
    }
}

/// Placeholders for the required columns of `table` other than `given`.
pub(crate) async fn extras(
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
        out.columns.push(quoted_column(&name));
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
pub(crate) async fn create_user(
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
            .map_err(|e| insert_failure(e, &parent.table, &shape.role, advice))?;
    }
    // A signup trigger on the referenced table may have made the profile
    // (and the counter row): adopt them rather than insert a duplicate.
    let adopted = shape.parent.is_some()
        && db::query(sql::SCRATCH_USER_ADOPT)
            .bind(id)
            .bind(scratch_email(id))
            .bind(spec.usage)
            .bind(spec.limit)
            .bind(&spec.tier)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_failure(e, "public.users", &shape.role, advice))?
            .rows_affected()
            > 0;
    if !adopted {
        db::query(&shape.users.fill(sql::SCRATCH_USER_INSERT))
            .bind(id)
            .bind(scratch_email(id))
            .bind(spec.usage)
            .bind(spec.limit)
            .bind(&spec.tier)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_failure(e, "public.users", &shape.role, advice))?;
    }
    if let Some(clips) = spec.clips {
        let usage_failure = |e| insert_failure(e, "public.user_usage", &shape.role, advice);
        let adopted = shape.parent.is_some()
            && db::query(sql::SCRATCH_USAGE_ADOPT)
                .bind(id)
                .bind(clips)
                .execute(&mut *tx)
                .await
                .map_err(usage_failure)?
                .rows_affected()
                > 0;
        if !adopted {
            db::query(sql::SCRATCH_USAGE_INSERT)
                .bind(id)
                .bind(clips)
                .execute(&mut *tx)
                .await
                .map_err(usage_failure)?;
        }
    }
    tx.commit().await?;
    Ok(id)
}

/// Deletes scratch users with their clips, counter rows and referenced
/// rows, in one transaction (explicitly, since a real schema may not cascade).
pub(crate) async fn delete_users(db: &mut Session, shape: &Shape, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    super::cleanup_timeouts(&mut tx).await?;
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

/// A column name from the catalog, always double-quoted: unlike a role
/// name in a hint ([`db::quote_ident`]), it goes into an INSERT, where a
/// lower-case keyword (`user`, `order`) must be quoted too.
fn quoted_column(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests;
