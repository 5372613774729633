//! The SQL `bench --meter` runs on a mapped meter, rendered by
//! [`render`](super::render) from the same values as the meter's function:
//! its floor, its call, and the statements that save, change and restore
//! the subjects it runs on.

use anyhow::Result;

use super::render::{fill, period_start};
use super::{ident, Charge, Limit, Meter};
use crate::sql::bench_meter as b;

/// `bench --meter`: the subjects' counters, markers and limits as they
/// are (saved), the headroom the bench gives them, and writing them back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchQueries {
    /// One rpc call of $2 units for $1, as the default bench calls the seed's.
    pub call: String,
    /// The counter (int8) and marker (text) of $1; no row before first use.
    pub save: String,
    /// Writes back counter $2 (and marker $3 when the meter has one).
    pub restore: String,
    /// Creates $1's counter row at zero (a counter in a table of its own).
    pub counter_insert: String,
    pub counter_delete: String,
    /// The limit column's value (int8), or the tier (text), of $1.
    pub headroom_read: String,
    /// Sets $1's limit column, or tier, to $2.
    pub headroom_set: String,
}

/// The floor of a rpc meter: with the limit check when counter and limit
/// are on the subject's row (the seed floor's shape), else the bare update.
pub(crate) fn floor_template(meter: &Meter) -> &'static str {
    match (&meter.declared.limit, meter.declared.counter.own_table) {
        (Limit::Column(_), false) => b::FLOOR_ROW_COLUMN,
        _ => b::FLOOR,
    }
}

pub(crate) fn queries(meter: &Meter, values: &[(&str, String)]) -> Result<BenchQueries> {
    let d = &meter.declared;
    let mut values = values.to_vec();
    let marker = meter.marker().map(|m| ident(&m));
    let (text, restore, period) = match &marker {
        Some(m) => (
            format!("s.{m}::pg_catalog.text"),
            format!(", {m} = $3::pg_catalog.date"),
            format!(", {}", period_start(d.period)),
        ),
        None => ("NULL::pg_catalog.text".into(), String::new(), String::new()),
    };
    values.push(("marker_text", text));
    values.push(("marker_restore", restore));
    values.push(("marker_period_value", period));
    let function = match &d.charge {
        Charge::Rpc { function } => function.sql(),
        Charge::Trigger { .. } => "NULL".into(),
    };
    values.push(("function", function));
    let (read, set) = match d.limit {
        Limit::Column(_) => (b::LIMIT_READ, b::LIMIT_SET),
        Limit::Tiers { .. } => (b::TIER_READ, b::TIER_SET),
    };
    Ok(BenchQueries {
        call: fill(b::CALL, &values)?,
        save: fill(b::SAVE, &values)?,
        restore: fill(b::RESTORE, &values)?,
        counter_insert: fill(b::COUNTER_INSERT, &values)?,
        counter_delete: fill(b::COUNTER_DELETE, &values)?,
        headroom_read: fill(read, &values)?,
        headroom_set: fill(set, &values)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::literal::{render_exact, Lit};
    use crate::mapping::{file, render, IntType};

    fn meter(toml: &str) -> Meter {
        let declared = file::parse(toml).unwrap().remove(0);
        Meter {
            declared,
            counter_type: IntType::Integer,
            limit_type: IntType::Integer,
        }
    }

    /// The floor of a meter in the seed's shape is the seed floor's
    /// statement with the mapping's names: no alias, `counter < limit`,
    /// one unit (the form decides ~17 k instructions a call).
    #[test]
    fn a_row_meter_with_a_limit_column_has_the_seed_floors_form() {
        let m = meter(
            r#"
[subject]
table = "public.users"
[meters.credits]
kind = "rpc"
function = "public.spend_credits"
counter = "credits_used"
limit = "plan_limits_scrapes"
period = "month"
"#,
        );
        let q = render::render(&m).unwrap().queries;
        let id = uuid::Uuid::nil();
        let floor = render_exact(&q.floor, &[Lit::Uuid(id)]).unwrap();
        let seed = render_exact(crate::sql::BENCH_UPDATE_FLOOR, &[Lit::Uuid(id)]).unwrap();
        let bare = |s: &str| {
            s.replace('"', "")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            bare(&floor).replace("credits_used", "usage_this_month"),
            bare(&seed)
        );
        let call = render_exact(&q.bench.call, &[Lit::Uuid(id), Lit::Int(1)]).unwrap();
        assert_eq!(
            bare(&call),
            format!("SELECT allowed FROM public.spend_credits('{id}'::uuid, (1))")
        );
    }
}
