//! Scratch subjects for `quota race --meter` without `--user`: a row in the
//! meter's subject table (and first the row its key references, e.g.
//! `auth.users` beside `public.profiles`, whose signup trigger may make the
//! subject row itself: it is adopted), with `headroom` units left, removed
//! afterwards in one transaction.

use anyhow::{Context, Result};
use uuid::Uuid;

use crate::db::{self, Session};
use crate::error;
use crate::load::scratch::{self, ParentRow};
use crate::mapping::render::{fill, period_start};
use crate::mapping::{ident, Limit, Meter};
use crate::sql::meters as t;

/// A scratch subject, and how to remove it.
pub struct Scratch {
    pub id: Uuid,
    parent: Option<ParentRow>,
    /// The counter row's delete (a table of its own), then the subject's.
    delete: Vec<String>,
}

const ADVICE: &str =
    "race a real subject with --user UUID instead (the race takes back exactly its own units)";

/// Creates a subject of `meter` with `headroom` units left this period.
pub async fn create(db: &mut Session, meter: &Meter, headroom: i64) -> Result<Scratch> {
    let d = &meter.declared;
    let table = d.subject.table.sql();
    let id = Uuid::new_v4();
    let (parent, insert, statements) = db
        .read(async |tx| {
            let parent = scratch::parent_row(tx, &table, &d.subject.key, ADVICE).await?;
            let mut given = vec![d.subject.key.as_str()];
            if let Limit::Column(column) = &d.limit {
                given.push(column.as_str());
            }
            let extras = scratch::extras(tx, &table, &given, ADVICE).await?;
            let statements = statements(meter)?;
            let insert = extras.fill(&statements.insert);
            Ok((parent, insert, statements))
        })
        .await?;
    // A fresh period's limit: the column's value, or the default tier's.
    let limit_value = match &d.limit {
        Limit::Column(_) => Some(headroom),
        Limit::Tiers { .. } => None,
    };
    db.write(async |tx| {
        if let Some(parent) = &parent {
            db::query(&parent.insert)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| failed(e, &parent.table))?;
        }
        let mut q = db::query(&insert).bind(id);
        if let Some(limit) = limit_value {
            q = q.bind(limit);
        }
        q.execute(&mut *tx)
            .await
            .map_err(|e| failed(e, &d.subject.table.to_string()))?;
        if let Some(limit) = limit_value {
            db::query(&statements.limit)
                .bind(id)
                .bind(limit)
                .execute(&mut *tx)
                .await?;
        }
        // Usage so that `headroom` units are left under the subject's limit.
        let rendered = crate::mapping::render::render(meter)?;
        let limit: Option<i64> = db::query_scalar(&rendered.queries.limit)
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .context("reading the scratch subject's limit")?;
        let usage = (limit.unwrap_or(0) - headroom).max(0);
        // In a table of its own the counter row is made; on the subject's
        // row it is set (an upsert there would have to fill every column).
        let set = if d.counter.own_table {
            &statements.counter
        } else {
            &rendered.queries.set_usage
        };
        db::query(set)
            .bind(id)
            .bind(usage)
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
    .await?;
    Ok(Scratch {
        id,
        parent,
        delete: statements.delete,
    })
}

/// Removes the scratch subject, its counter row and the row its key references.
pub async fn remove(db: &mut Session, scratch: &Scratch) -> Result<()> {
    db.write(async |tx| {
        crate::load::cleanup_timeouts(&mut *tx).await?;
        for delete in &scratch.delete {
            db::query(delete).bind(scratch.id).execute(&mut *tx).await?;
        }
        if let Some(parent) = &scratch.parent {
            db::query(&parent.delete)
                .bind(vec![scratch.id])
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    })
    .await
    .with_context(|| format!("removing the scratch subject {}", scratch.id))
}

struct Statements {
    insert: String,
    limit: String,
    counter: String,
    delete: Vec<String>,
}

fn statements(meter: &Meter) -> Result<Statements> {
    let d = &meter.declared;
    let marker = meter.marker().map(|m| ident(&m));
    let (limit_column, limit_value, limit) = match &d.limit {
        Limit::Column(c) => (format!(", {}", ident(c)), ", $2".to_string(), ident(c)),
        Limit::Tiers { .. } => (String::new(), String::new(), String::new()),
    };
    let period = period_start(d.period).to_string();
    let values = vec![
        ("subject_table", d.subject.table.sql()),
        ("subject_key", ident(&d.subject.key)),
        ("limit_column", limit_column),
        ("limit_value", limit_value),
        ("limit", limit),
        ("extra_columns", "{extra_columns}".to_string()),
        ("extra_values", "{extra_values}".to_string()),
        ("counter_table", d.counter.table.sql()),
        ("counter_key", ident(&d.counter.key)),
        ("counter", ident(&d.counter.column)),
        (
            "marker_insert_column",
            marker
                .as_ref()
                .map(|m| format!(", {m}"))
                .unwrap_or_default(),
        ),
        (
            "marker_insert_now",
            marker
                .as_ref()
                .map(|_| format!(", {period}"))
                .unwrap_or_default(),
        ),
        (
            "set_marker",
            marker
                .as_ref()
                .map(|m| format!(", {m} = {period}"))
                .unwrap_or_default(),
        ),
    ];
    let mut delete = Vec::new();
    if d.counter.own_table {
        delete.push(fill(t::SCRATCH_COUNTER_DELETE, &values)?);
    }
    delete.push(fill(t::SCRATCH_SUBJECT_DELETE, &values)?);
    Ok(Statements {
        insert: fill(t::SCRATCH_SUBJECT_INSERT, &values)?,
        limit: fill(t::SCRATCH_SUBJECT_LIMIT, &values)?,
        counter: fill(t::SCRATCH_COUNTER, &values)?,
        delete,
    })
}

fn failed(e: sqlx::Error, table: &str) -> anyhow::Error {
    error::precondition(format!(
        "cannot create a scratch subject in {table}: {e}; {ADVICE}"
    ))
}
