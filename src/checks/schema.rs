//! `quota check schema`: the schema contract (see `contract`).

use anyhow::Result;
use sqlx::PgConnection;

use super::Findings;
use crate::contract;

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let problems = contract::inspect(conn).await?;
    let mut f = Findings::default();
    if problems.is_empty() {
        f.note(format!(
            "{} columns in {} tables as the contract expects",
            contract::CONTRACT.len(),
            contract::tables().len()
        ));
    }
    for p in problems {
        f.fail(
            p.to_string(),
            "fix the application's table to match the contract (README \"Schema contract\"); quota never alters them",
        );
    }
    Ok(f)
}
