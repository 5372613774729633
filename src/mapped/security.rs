//! `check security` on a mapping: each meter's function (SECURITY DEFINER,
//! pinned search_path, the guard probed live), and what the application
//! lets the API do around it (its triggers inside the meters' writes, write
//! paths to counters, limits and tiers, table privileges RLS ignores).

use anyhow::{Context, Result};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::checks::HINT_REPAIR;
use super::history;
use crate::checks::security::writes::WritePath;
use crate::checks::Findings;
use crate::db;
use crate::error::{cause, sqlstate};
use crate::mapping::render;
use crate::mapping::{Charge, Limit, Meter};
use crate::sql;

/// The search_path every meter function pins.
const PINNED: &str = "search_path=pg_catalog, pg_temp";

/// The application's triggers on the tables the meters write (they run as
/// quota's owner) and SECURITY DEFINER ones on the tables they charge.
pub(super) async fn application_triggers(
    conn: &mut PgConnection,
    meters: &[Meter],
    f: &mut Findings,
) -> Result<()> {
    let roles: Vec<String> = db::query_scalar(sql::API_ROLES)
        .fetch_all(&mut *conn)
        .await
        .context("listing the API roles and the roles inheriting them")?;
    let mut written = Vec::new();
    let mut charged = Vec::new();
    for meter in meters {
        written.push(meter.declared.counter.table.sql());
        if let Charge::Trigger { on, .. } = &meter.declared.charge {
            charged.push(on.sql());
        }
    }
    crate::checks::security::triggers::trigger_functions(conn, &roles, &written, &charged, f)
        .await?;
    let paths: Vec<WritePath> = meters.iter().flat_map(write_paths).collect();
    crate::checks::security::writes::counter_writes(conn, &roles, &paths, f).await?;
    crate::checks::security::writes::table_privileges(conn, &roles, &guarded_tables(meters), f)
        .await
}

/// The tables whose rows hold a meter's counter, limit or tier.
pub fn guarded_tables(meters: &[Meter]) -> Vec<String> {
    let mut tables = Vec::new();
    for meter in meters {
        for name in [&meter.declared.counter.table, &meter.declared.subject.table] {
            let rel = name.regclass_text();
            if !tables.contains(&rel) {
                tables.push(rel);
            }
        }
    }
    tables
}

/// Every way an API role could change a meter's counter, period marker,
/// limit or tier: UPDATE of the column, INSERT of a row carrying it, DELETE
/// of the row (re-inserted, it starts again at 0).
fn write_paths(meter: &Meter) -> Vec<WritePath> {
    let d = &meter.declared;
    let counter_rel = d.counter.table.regclass_text();
    let subject_rel = d.subject.table.regclass_text();
    let mut paths = Vec::new();
    let mut columns = vec![d.counter.column.clone()];
    columns.extend(meter.marker());
    for column in &columns {
        paths.push((counter_rel.clone(), Some(column.clone()), "UPDATE"));
        if !d.counter.own_table {
            paths.push((counter_rel.clone(), Some(column.clone()), "INSERT"));
        }
    }
    if d.counter.own_table {
        paths.push((counter_rel.clone(), None, "INSERT"));
    }
    paths.push((counter_rel, None, "DELETE"));
    let limit_columns = match &d.limit {
        Limit::Column(column) => vec![column.clone()],
        Limit::Tiers { .. } => vec![d.subject.tier.clone()],
    };
    for column in limit_columns {
        for cmd in ["UPDATE", "INSERT"] {
            paths.push((subject_rel.clone(), Some(column.clone()), cmd));
        }
    }
    paths
}

pub(super) async fn security(
    conn: &mut PgConnection,
    meter: &Meter,
    f: &mut Findings,
) -> Result<()> {
    let signature = history::signature(meter);
    let at = format!("meters.{}", meter.name());
    let (_, definer, config) = history::body(conn, &signature).await?;
    if definer != Some(true) {
        f.fail(
            format!("{at}: {signature} is not SECURITY DEFINER"),
            HINT_REPAIR,
        );
    }
    if config.as_deref() != Some(PINNED) {
        f.fail(
            format!(
                "{at}: {signature} has {} (expected {PINNED})",
                config.unwrap_or_default()
            ),
            HINT_REPAIR,
        );
    }
    if let Charge::Rpc { function } = &meter.declared.charge {
        probe_guard(conn, meter, function, f).await?;
    }
    if !f.has_failures() {
        f.note(format!(
            "{at}: SECURITY DEFINER, {PINNED}; the guard refuses other subjects"
        ));
    }
    Ok(())
}

/// Calls the function as PostgREST would for a subject the JWT does not
/// name (a member of nothing), on each JWT path; each must be refused.
async fn probe_guard(
    conn: &mut PgConnection,
    meter: &Meter,
    function: &crate::mapping::Name,
    f: &mut Findings,
) -> Result<()> {
    let call = render::fill(sql::meters::PROBE_CALL, &[("function", function.sql())])?;
    let sub = Uuid::new_v4().to_string();
    let claims = serde_json::json!({"role": "authenticated", "sub": sub}).to_string();
    let paths: [(&str, &[(&str, &str)]); 3] = [
        (
            "as authenticated with request.jwt.claims",
            &[("role", "authenticated"), ("request.jwt.claims", &claims)],
        ),
        (
            "as authenticated with request.jwt.claim.sub",
            &[("role", "authenticated"), ("request.jwt.claim.sub", &sub)],
        ),
        (
            "with claims and no role switched",
            &[("request.jwt.claims", &claims)],
        ),
    ];
    for (label, settings) in paths {
        let mut sp = conn
            .begin()
            .await
            .context("starting a savepoint for the guard probe")?;
        let mut skipped = false;
        for (name, value) in settings {
            let set = db::query(sql::SET_LOCAL_SETTING)
                .bind(*name)
                .bind(*value)
                .execute(&mut *sp)
                .await;
            if set.is_err() {
                skipped = true; // this session may not become the role
                break;
            }
        }
        let outcome = if skipped {
            None
        } else {
            Some(
                db::query(&call)
                    .bind(Uuid::new_v4())
                    .fetch_all(&mut *sp)
                    .await,
            )
        };
        sp.rollback()
            .await
            .context("ending the guard probe's savepoint")?;
        match outcome {
            None => f.note(format!(
                "meters.{}: guard not probed {label} (cannot become the role)",
                meter.name()
            )),
            Some(Err(e)) if cause::has_sqlstate(&e, sqlstate::INSUFFICIENT_PRIVILEGE) => {}
            Some(other) => f.fail(
                format!(
                    "meters.{}: the guard let a caller {label} spend another subject's quota ({})",
                    meter.name(),
                    match other {
                        Ok(_) => "the call returned".to_string(),
                        Err(e) => cause::sqlstate(&e).unwrap_or_else(|| "an error".into()),
                    }
                ),
                HINT_REPAIR,
            ),
        }
    }
    Ok(())
}
