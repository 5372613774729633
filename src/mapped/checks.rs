//! `verify` and `check` on a mapping: the same checks as the default
//! mapping's, each over every meter of the file (details name the meter).

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::history::{self, Installed};
use super::{MeterState, State};
use crate::checks::{Check, CheckResult, Findings};
use crate::db;
use crate::mapping::render::trigger_name;
use crate::mapping::{Charge, Limit, Meter};
use crate::sql;

const HINT_APPLY: &str = "run `quota migrate apply`";
pub(super) const HINT_REPAIR: &str =
    "run `quota migrate apply --repair` (it reinstalls the file's mapping; counters are kept)";
const HINT_FILE: &str =
    "fix the key in quota.toml or the table it names (`quota init` writes a guess)";

/// One check over every meter.
pub async fn run(conn: &mut PgConnection, state: &State, check: Check) -> Result<CheckResult> {
    let mut f = Findings::default();
    match check {
        Check::Schema => schema(state, &mut f),
        Check::Drift => drift(conn, state, &mut f).await?,
        Check::Tiers => f.note("limits per tier are declared in quota.toml (drift compares them)"),
        _ => {
            let Ok(meters) = state.meters() else {
                f.fail(
                    "the mapping does not fit this database",
                    "run `quota check schema`",
                );
                return Ok(f.into_result(check.name()));
            };
            for meter in meters {
                let installed = state.installed(meter.name());
                if installed.is_none() {
                    f.fail(
                        format!("meters.{}: not installed", meter.name()),
                        HINT_APPLY,
                    );
                    continue;
                }
                match check {
                    Check::Routine => routine(conn, meter, &mut f).await?,
                    Check::Trigger => trigger(conn, meter, &mut f).await?,
                    Check::Grants => grants(conn, meter, &mut f).await?,
                    Check::Security => super::security::security(conn, meter, &mut f).await?,
                    _ => {}
                }
            }
            if check == Check::Security {
                super::security::application_triggers(conn, meters, &mut f).await?;
            }
        }
    }
    Ok(f.into_result(check.name()))
}

/// Every check, in `verify`'s order.
pub async fn run_all(conn: &mut PgConnection, state: &State) -> Result<Vec<CheckResult>> {
    let mut out = Vec::new();
    for check in Check::ALL {
        out.push(run(conn, state, check).await?);
    }
    Ok(out)
}

fn schema(state: &State, f: &mut Findings) {
    match &state.resolved {
        Err(problems) => {
            for p in problems {
                f.fail(p.clone(), HINT_FILE);
            }
        }
        Ok(meters) => {
            let names: Vec<&str> = meters.iter().map(Meter::name).collect();
            f.note(format!(
                "{}: meters {} fit the database",
                state.path.display(),
                names.join(", ")
            ));
        }
    }
}

async fn routine(conn: &mut PgConnection, meter: &Meter, f: &mut Findings) -> Result<()> {
    let Charge::Rpc { function } = &meter.declared.charge else {
        return Ok(());
    };
    let (md5, _, _) = history::body(conn, &history::signature(meter)).await?;
    match md5 {
        Some(_) => f.note(format!(
            "meters.{}: {function}(uuid, integer) returns record",
            meter.name()
        )),
        None => f.fail(
            format!(
                "meters.{}: {function}(uuid, integer) is missing",
                meter.name()
            ),
            HINT_REPAIR,
        ),
    }
    Ok(())
}

async fn trigger(conn: &mut PgConnection, meter: &Meter, f: &mut Findings) -> Result<()> {
    let Charge::Trigger { on, per, .. } = &meter.declared.charge else {
        return Ok(());
    };
    let row_level = *per == crate::mapping::Per::Row;
    let shape = if row_level {
        "FOR EACH ROW"
    } else {
        "FOR EACH STATEMENT with its rows"
    };
    let name = trigger_name(meter.name());
    let row: Option<(String, i32, bool)> = db::query_as(sql::METER_TRIGGER)
        .bind(on.sql())
        .bind(&name)
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("reading trigger {name} on {on}"))?;
    let at = format!("meters.{}: trigger {name} on {on}", meter.name());
    match row {
        None => f.fail(format!("{at} is missing"), HINT_REPAIR),
        Some((enabled, _, _)) if enabled == "D" => f.fail(
            format!("{at} is disabled"),
            format!(
                "ALTER TABLE {} ENABLE TRIGGER {};",
                on.sql(),
                crate::mapping::ident(&name)
            ),
        ),
        // tgtype: bit 0 ROW, bit 1 BEFORE, bit 2 INSERT.
        Some((_, tgtype, new_table))
            if (tgtype & 1 != 0) != row_level
                || tgtype & 2 != 0
                || tgtype & 4 == 0
                || new_table == row_level =>
        {
            f.fail(
                format!("{at} does not fire AFTER INSERT {shape}"),
                HINT_REPAIR,
            )
        }
        Some(_) => f.note(format!("{at}: AFTER INSERT {shape}, enabled")),
    }
    Ok(())
}

async fn grants(conn: &mut PgConnection, meter: &Meter, f: &mut Findings) -> Result<()> {
    if !matches!(meter.declared.charge, Charge::Rpc { .. }) {
        return Ok(());
    }
    let signature = history::signature(meter);
    let at = format!("meters.{}", meter.name());
    let public: bool = db::query_scalar(sql::FUNCTION_PUBLIC_EXECUTE)
        .bind(&signature)
        .fetch_one(&mut *conn)
        .await
        .context("reading the function's EXECUTE grants")?;
    if public {
        f.fail(
            format!("{at}: PUBLIC can execute it"),
            format!("REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC;"),
        );
    }
    let roles: Vec<(String, bool)> = db::query_as(sql::FUNCTION_EXECUTE)
        .bind(&signature)
        .bind(crate::checks::API_ROLES.map(String::from).to_vec())
        .fetch_all(&mut *conn)
        .await
        .context("reading the function's EXECUTE grants")?;
    for role in crate::checks::API_ROLES {
        match roles.iter().find(|(r, _)| r == role) {
            None => f.note(format!("{at}: role {role} absent")),
            Some((_, true)) if role == "anon" => f.fail(
                format!("{at}: anon can execute it"),
                format!("REVOKE EXECUTE ON FUNCTION {signature} FROM anon;"),
            ),
            Some((_, false)) if role != "anon" => f.fail(
                format!("{at}: {role} cannot execute it"),
                format!("GRANT EXECUTE ON FUNCTION {signature} TO {role};"),
            ),
            Some(_) => {}
        }
    }
    if !f.has_failures() {
        f.note(format!(
            "{at}: PUBLIC and anon cannot execute; authenticated and service_role can"
        ));
    }
    Ok(())
}

async fn drift(conn: &mut PgConnection, state: &State, f: &mut Findings) -> Result<()> {
    let Ok(states) = state.states() else {
        f.fail(
            "the mapping does not fit this database",
            "run `quota check schema`",
        );
        return Ok(());
    };
    for (name, meter_state) in states {
        match meter_state {
            MeterState::Pending => f.fail(format!("meters.{name}: not installed"), HINT_APPLY),
            MeterState::NotInFile => f.warn(
                format!("meters.{name}: installed, but not in {}", state.path.display()),
                format!("run `quota migrate rollback --meter {name}` to remove it, or put it back in the file"),
            ),
            MeterState::Drifted(changes) => f.fail(
                format!("meters.{name}: the mapping changed since install: {}", changes.join(", ")),
                HINT_REPAIR,
            ),
            MeterState::Installed => {
                let installed = state.installed(&name).expect("installed meters have a record");
                let meter = state.meters()?.iter().find(|m| m.name() == name).expect("resolved");
                edited(conn, installed, f).await?;
                limits(conn, meter, f).await?;
            }
        }
    }
    if !f.has_failures() {
        f.note("every meter is installed as quota.toml maps it");
    }
    Ok(())
}

/// The function's body as installed, against its digest at install.
async fn edited(conn: &mut PgConnection, installed: &Installed, f: &mut Findings) -> Result<()> {
    let signature = history::signature(&installed.meter);
    let (md5, _, _) = history::body(conn, &signature).await?;
    let name = installed.meter.name();
    match md5 {
        None => f.fail(
            format!("meters.{name}: {signature} is missing"),
            HINT_REPAIR,
        ),
        Some(md5) if md5 != installed.body_md5 => f.fail(
            format!("meters.{name}: {signature} was edited since install"),
            HINT_REPAIR,
        ),
        Some(_) => {}
    }
    Ok(())
}

/// Where the file declares limits, the table must agree, tier by tier.
async fn limits(conn: &mut PgConnection, meter: &Meter, f: &mut Findings) -> Result<()> {
    let Limit::Tiers { limits, .. } = &meter.declared.limit else {
        return Ok(());
    };
    let rows: Vec<(String, i64)> = db::query_as(sql::METER_LIMITS_ROWS)
        .bind(meter.name())
        .fetch_all(&mut *conn)
        .await
        .context("reading quota.meter_limits")?;
    for (tier, limit) in limits {
        match rows.iter().find(|(t, _)| t == tier) {
            Some((_, n)) if n == limit => {}
            Some((_, n)) => f.fail(
                format!(
                    "meters.{}.limits.{tier}: the file says {limit}, the database {n}",
                    meter.name()
                ),
                HINT_REPAIR,
            ),
            None => f.fail(
                format!(
                    "meters.{}.limits.{tier}: missing in the database",
                    meter.name()
                ),
                HINT_REPAIR,
            ),
        }
    }
    for (tier, n) in &rows {
        if !limits.contains_key(tier) {
            f.fail(
                format!(
                    "meters.{}.limits.{tier}: in the database ({n}), not in the file",
                    meter.name()
                ),
                HINT_REPAIR,
            );
        }
    }
    Ok(())
}
