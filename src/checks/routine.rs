//! `quota check routine`: the information_schema.routines verification query.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::{Findings, HINT_APPLY, HINT_REPAIR};

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let rows: Vec<(String, Option<String>, Option<String>)> = db::query_as(sql::CHECK_ROUTINE)
        .fetch_all(&mut *conn)
        .await
        .context("querying information_schema.routines")?;
    let mut f = Findings::default();
    match rows.as_slice() {
        [] => f.fail(
            "public.increment_usage_if_allowed is not installed (or not visible to this role)",
            HINT_APPLY,
        ),
        [(name, Some(kind), Some(ty))] if kind == "FUNCTION" && ty == "record" => {
            f.note(format!("{name}: {kind} returning {ty}"))
        }
        [(name, kind, ty)] => f.fail(
            format!(
                "{name} is a {} returning {}, expected FUNCTION returning record",
                kind.as_deref().unwrap_or("?"),
                ty.as_deref().unwrap_or("nothing")
            ),
            HINT_REPAIR,
        ),
        many => f.fail(
            format!(
                "{} routines named increment_usage_if_allowed in schema public (overloads make the RPC ambiguous for PostgREST)",
                many.len()
            ),
            "drop the extra overloads, keeping public.increment_usage_if_allowed(uuid)",
        ),
    }
    Ok(f)
}
