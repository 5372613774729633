//! `quota.meters`: the mapped meters installed, each with the mapping,
//! checksum and revert it was installed with (so a meter removed from
//! `quota.toml` can still be taken out exactly).

use anyhow::{Context, Result};
use sqlx::PgConnection;

use crate::db;
use crate::mapping::render::Rendered;
use crate::mapping::{Charge, Meter};
use crate::sql;

/// One installed meter as quota recorded it.
#[derive(Clone, Debug)]
pub struct Installed {
    pub meter: Meter,
    pub checksum: String,
    pub revert_code: String,
    pub revert_data: String,
    pub body_md5: String,
    pub installed_on: String,
}

/// The installed meters by name; none when quota.meters does not exist.
pub async fn read(conn: &mut PgConnection) -> Result<Vec<Installed>> {
    let exists: bool = db::query_scalar(sql::METERS_INSTALLED_EXISTS)
        .fetch_one(&mut *conn)
        .await
        .context("looking for quota.meters")?;
    if !exists {
        return Ok(Vec::new());
    }
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = db::query_as(sql::METERS_INSTALLED)
        .fetch_all(&mut *conn)
        .await
        .context("reading quota.meters (the mapped meters installed)")?;
    rows.into_iter()
        .map(|(name, checksum, mapping, revert_code, revert_data, body_md5, installed_on)| {
            let meter: Meter = serde_json::from_str(&mapping).with_context(|| {
                format!("quota.meters has a mapping for meter {name} this quota cannot read; install a newer quota")
            })?;
            Ok(Installed {
                meter,
                checksum,
                revert_code,
                revert_data,
                body_md5,
                installed_on,
            })
        })
        .collect()
}

/// Records `meter` as installed by `rendered`, with its body's digest now.
pub async fn record(conn: &mut PgConnection, meter: &Meter, rendered: &Rendered) -> Result<()> {
    let (md5, _, _) = body(conn, &signature(meter)).await?;
    let mapping = serde_json::to_string(meter).context("writing the meter's mapping as JSON")?;
    db::query(sql::METER_RECORD)
        .bind(meter.name())
        .bind(kind_word(meter))
        .bind(&rendered.checksum)
        .bind(mapping)
        .bind(&rendered.revert_code)
        .bind(&rendered.revert_data)
        .bind(md5.unwrap_or_default())
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(&mut *conn)
        .await
        .context("recording the meter in quota.meters")?;
    Ok(())
}

pub async fn forget(conn: &mut PgConnection, name: &str) -> Result<()> {
    db::query(sql::METER_FORGET)
        .bind(name)
        .execute(&mut *conn)
        .await
        .context("removing the meter from quota.meters")?;
    Ok(())
}

pub async fn count(conn: &mut PgConnection) -> Result<i64> {
    db::query_scalar(sql::METERS_LEFT)
        .fetch_one(&mut *conn)
        .await
        .context("counting the meters left in quota.meters")
}

/// The function a meter installed, as a signature `to_regprocedure` reads.
pub fn signature(meter: &Meter) -> String {
    match &meter.declared.charge {
        Charge::Rpc { function } => format!("{}(pg_catalog.uuid, pg_catalog.int4)", function.sql()),
        Charge::Trigger { .. } => format!(
            "{}()",
            crate::mapping::render::trigger_function(meter.name()).sql()
        ),
    }
}

fn kind_word(meter: &Meter) -> &'static str {
    match meter.declared.kind() {
        crate::mapping::Kind::Rpc => "rpc",
        crate::mapping::Kind::Trigger => "trigger",
    }
}

/// The body digest, SECURITY DEFINER flag and settings of the function
/// `signature` names; `None`s when it does not exist.
pub async fn body(
    conn: &mut PgConnection,
    signature: &str,
) -> Result<(Option<String>, Option<bool>, Option<String>)> {
    db::query_as(sql::FUNCTION_BODY_MD5)
        .bind(signature)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("reading the definition of {signature}"))
}
