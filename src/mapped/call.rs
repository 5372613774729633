//! `quota call --meter NAME <uuid> [--amount N]`: one call of a rpc meter,
//! rolled back unless `--commit`.

use anyhow::{Context, Result};
use serde::Serialize;
use uuid::Uuid;

use crate::db::Session;
use crate::error::{self, cause, sqlstate};
use crate::mapping::{render, Charge, Meter};
use crate::sql;

/// What one call answered.
#[derive(Clone, Debug, Serialize)]
pub struct CallReport {
    pub meter: String,
    #[serde(serialize_with = "crate::mapped::call::as_text")]
    pub subject: Uuid,
    pub amount: i32,
    pub allowed: bool,
    pub new_usage: i64,
    pub effective_limit: Option<i64>,
    pub committed: bool,
}

pub async fn call(
    db: &mut Session,
    meter: &Meter,
    subject: Uuid,
    amount: i32,
    commit: bool,
) -> Result<CallReport> {
    let Charge::Rpc { function } = &meter.declared.charge else {
        return Err(error::usage(format!(
            "meter {} is a trigger meter: it charges rows inserted into its table, not calls; \
             give a rpc meter to --meter",
            meter.name()
        )));
    };
    let text = render::fill(sql::meters::CALL, &[("function", function.sql())])?;
    let mut tx = db.begin().await?;
    let row: Result<(bool, i64, Option<i64>), sqlx::Error> = crate::db::query_as(&text)
        .bind(subject)
        .bind(amount)
        .fetch_one(&mut *tx)
        .await;
    let (allowed, new_usage, effective_limit) = match row {
        Ok(row) => row,
        Err(e) if cause::has_sqlstate(&e, sqlstate::NO_DATA_FOUND) => {
            return Err(error::precondition(format!(
                "no subject with id {subject} in {} (meters.{}); `quota users` lists some",
                meter.declared.subject.table,
                meter.name()
            )))
        }
        Err(e) if cause::has_sqlstate(&e, sqlstate::UNDEFINED_FUNCTION) => {
            return Err(error::precondition(format!(
                "meter {} is not installed ({function} is missing); run `quota migrate apply`",
                meter.name()
            )))
        }
        Err(e) => return Err(e).with_context(|| format!("calling {function}")),
    };
    if commit {
        tx.commit().await.context("committing the call")?;
    } else {
        tx.rollback().await.context("rolling the call back")?;
    }
    Ok(CallReport {
        meter: meter.name().to_string(),
        subject,
        amount,
        allowed,
        new_usage,
        effective_limit,
        committed: commit,
    })
}

/// A uuid in JSON as its text (the uuid crate's serde feature is not on).
pub fn as_text<S: serde::Serializer>(id: &Uuid, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}
