//! The SQL a meter's install adds around its function (the revoke of the
//! table privileges row level security ignores) and the queries quota runs
//! on a meter, rendered from the same resolved mapping.

use anyhow::Result;

use super::{fill, period_start, Fragment, Queries};
use crate::mapping::{bench, text_literal, Limit, Meter};
use crate::sql::meters as t;

/// The revoke of TRUNCATE, TRIGGER, REFERENCES and MAINTAIN from the API
/// roles on the tables holding the meter's counter, limit and tier.
pub(super) fn table_privileges(meter: &Meter) -> Result<String> {
    let d = &meter.declared;
    let mut tables = vec![text_literal(&d.counter.table.regclass_text())];
    let subject = text_literal(&d.subject.table.regclass_text());
    if !tables.contains(&subject) {
        tables.push(subject);
    }
    fill(t::REVOKE_TABLE_PRIVILEGES, &[("tables", tables.join(", "))])
}

/// The meter's queries: the same expressions as its function, with the
/// period computed in the query instead of the function's `v_period`.
pub(super) fn queries(
    meter: &Meter,
    values: &[(&str, String)],
    frag: &Fragment,
    used_template: &str,
    has_marker: bool,
) -> Result<Queries> {
    let period = [("period", period_start(meter.declared.period).to_string())];
    let mut values = values.to_vec();
    values.push(("used", frag(used_template, &period)?));
    let set_marker = if has_marker {
        frag(t::SET_MARKER, &period)?
    } else {
        String::new()
    };
    values.push(("set_marker", set_marker));
    let limit = match meter.declared.limit {
        Limit::Column(_) => t::READ_LIMIT_COLUMN,
        Limit::Tiers { .. } => t::READ_LIMIT_TIERS,
    };
    Ok(Queries {
        usage: fill(t::READ_USAGE, &values)?,
        limit: fill(limit, &values)?,
        take_back: fill(t::TAKE_BACK, &values)?,
        set_usage: fill(t::SET_USAGE, &values)?,
        floor: fill(bench::floor_template(meter), &values)?,
        bench: bench::queries(meter, &values)?,
    })
}
