//! `quota check schema`: the schema contract (see `contract`).

use anyhow::Result;
use sqlx::PgConnection;

use super::Findings;
use crate::contract;

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let problems = contract::inspect(conn).await?;
    let mut f = Findings::default();
    if problems.iter().all(contract::Problem::is_warning) {
        f.note(format!(
            "{} columns in {} tables as the contract expects",
            contract::CONTRACT.len(),
            contract::tables().len()
        ));
    }
    for p in problems {
        let hint = match p {
            contract::Problem::NoPrivilege { .. } => {
                "grant the privilege named in the detail to the role quota runs as"
            }
            contract::Problem::RequiredColumn { .. } => {
                "give the column a default or make it nullable (the detail has the SQL); quota \
                 never alters the application's tables"
            }
            _ => "fix the application's table to match the contract (README \"Schema contract\"); quota never alters them",
        };
        if p.is_warning() {
            f.warn(p.to_string(), hint);
        } else {
            f.fail(p.to_string(), hint);
        }
    }
    Ok(f)
}
