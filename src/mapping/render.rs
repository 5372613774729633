//! Every SQL text of a mapped meter, rendered once from its resolved
//! [`Meter`]: templates in `sql/meters/` whose `{placeholders}` are filled
//! only with double-quoted identifiers from the mapping, type names quota
//! chooses, and literals of validated values (never text from data). The
//! installed functions are static SQL (no `EXECUTE`).

use anyhow::Result;

pub use super::template::{checksum, fill};

use super::bench;
use super::{ident, text_literal, Charge, Limit, Meter, Name, Per, Period};
use crate::sql::meters as t;

/// What installing a meter runs, and what takes it out again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub install: String,
    /// Drops the meter's function and trigger (repair runs it, then installs anew).
    pub revert_code: String,
    /// Drops its period marker and its limits rows (rollback only).
    pub revert_data: String,
    /// Over `install`: a changed mapping changes it.
    pub checksum: String,
    /// The queries quota runs on the meter ($1 the subject).
    pub queries: Queries,
}

/// A meter's own queries, rendered from the same mapping as its function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queries {
    /// The subject's usage this period (no row before first use).
    pub usage: String,
    /// The subject's limit (no row: no such subject).
    pub limit: String,
    /// Subtracts $2 units (a race's own admissions).
    pub take_back: String,
    /// Sets the counter to $2 for this period.
    pub set_usage: String,
    /// `bench --meter`'s floor: a bare single-statement UPDATE of the same
    /// counter row by one unit (with the limit check when the limit is a
    /// column of that row), one round trip, in the seed floor's form.
    pub floor: String,
    /// What `bench --meter` saves, changes and restores on its subjects.
    pub bench: bench::BenchQueries,
}

/// Fills a small template (`used`, `set_marker`) with the meter's alias,
/// counter and marker plus extra values.
type Fragment<'a> = dyn Fn(&str, &[(&str, String)]) -> Result<String> + 'a;

/// The trigger function of a trigger meter, in quota's schema.
pub fn trigger_function(meter: &str) -> Name {
    Name {
        schema: "quota".into(),
        name: format!("charge_{meter}"),
    }
}

/// The trigger a trigger meter installs on its table.
pub fn trigger_name(meter: &str) -> String {
    format!("quota_charge_{meter}")
}

/// Renders `meter`.
pub fn render(meter: &Meter) -> Result<Rendered> {
    let d = &meter.declared;
    let marker = meter.marker();
    let alias = "s";
    let mut values: Vec<(&str, String)> = vec![
        ("meter_literal", text_literal(&d.name)),
        ("meter_name", d.name.clone()),
        ("counter_table", d.counter.table.sql()),
        ("counter", ident(&d.counter.column)),
        ("counter_key", ident(&d.counter.key)),
        ("subject_table", d.subject.table.sql()),
        ("subject_key", ident(&d.subject.key)),
        ("tier", ident(&d.subject.tier)),
        ("counter_type", meter.counter_type.sql().into()),
        ("limit_type", meter.limit_type.sql().into()),
        ("period_start", period_start(d.period).into()),
        ("read_sub", t::READ_SUB.trim_end().into()),
        ("guard_direct", t::GUARD_DIRECT.trim_end().into()),
        ("default_tier", default_tier(&d.limit)),
        ("limit", limit_column(&d.limit)),
    ];
    let used_template = match marker {
        Some(_) => t::USED_PERIOD,
        None => t::USED_LIFETIME,
    };
    let marker_sql = marker.as_deref().map(ident).unwrap_or_default();
    let frag = |template: &str, extra: &[(&str, String)]| -> Result<String> {
        let mut all: Vec<(&str, String)> = vec![
            ("alias", alias.into()),
            ("marker", marker_sql.clone()),
            ("counter", ident(&d.counter.column)),
            ("period", "v_period".into()),
        ];
        all.extend(extra.iter().cloned());
        fill(template.trim_end(), &all)
    };
    let used = frag(used_template, &[])?;
    let set_marker = match marker {
        Some(_) => frag(t::SET_MARKER, &[])?,
        None => String::new(),
    };
    values.push(("used", used));
    values.push(("set_marker", set_marker));
    values.push((
        "marker_insert_column",
        marker
            .as_ref()
            .map(|_| format!(", {marker_sql}"))
            .unwrap_or_default(),
    ));
    values.push((
        "marker_insert_value",
        marker
            .as_ref()
            .map(|_| ", v_period".to_string())
            .unwrap_or_default(),
    ));
    let marker_ddl = match marker {
        Some(_) => {
            fill(
                t::MARKER_ADD,
                &[
                    ("counter_table", d.counter.table.sql()),
                    ("marker", marker_sql.clone()),
                    ("period_start", period_start(d.period).into()),
                ],
            )? + "\n"
        }
        None => String::new(),
    };
    let limits_ddl = match &d.limit {
        Limit::Tiers { limits, .. } => {
            let rows: Vec<String> = limits
                .iter()
                .map(|(tier, n)| {
                    format!("({}, {}, {n})", text_literal(&d.name), text_literal(tier))
                })
                .collect();
            fill(
                t::LIMITS_SEED,
                &[
                    ("meter_literal", text_literal(&d.name)),
                    ("limit_rows", rows.join(", ")),
                ],
            )? + "\n"
        }
        Limit::Column(_) => String::new(),
    };
    values.push(("marker_ddl", marker_ddl));
    values.push(("limits_ddl", limits_ddl));
    let members = d.subject.members.as_ref();
    let subject_value = match d.charge {
        Charge::Rpc { .. } => "p_subject",
        Charge::Trigger {
            per: Per::Statement,
            ..
        } => "r.subject",
        Charge::Trigger { per: Per::Row, .. } => "v_subject",
    };
    let sub_allowed = match members {
        None => fill(
            t::SUB_IS_SUBJECT.trim_end(),
            &[("subject_value", subject_value.into())],
        )?,
        Some(m) => fill(
            t::SUB_IS_MEMBER.trim_end(),
            &[
                ("subject_value", subject_value.into()),
                ("members_table", m.table.sql()),
                ("members_subject", ident(&m.subject)),
                ("members_user", ident(&m.user)),
            ],
        )?,
    };
    values.push(("sub_allowed", sub_allowed));
    let (install, revert_code) = match &d.charge {
        Charge::Rpc { function } => rpc(meter, function, &mut values)?,
        Charge::Trigger {
            on,
            subject_column,
            amount_column,
            per,
        } => trigger(
            meter,
            on,
            subject_column,
            amount_column.as_deref(),
            *per,
            &mut values,
        )?,
    };
    let marker_drop = match marker {
        Some(_) => fill(
            t::MARKER_DROP,
            &[
                ("counter_table", d.counter.table.sql()),
                ("marker", marker_sql.clone()),
            ],
        )?,
        None => String::new(),
    };
    let install = install + "\n" + &queries::table_privileges(meter)?;
    let queries = queries::queries(meter, &values, &frag, used_template, marker.is_some())?;
    let revert_data = fill(
        t::REVERT_DATA,
        &[
            ("marker_drop", marker_drop),
            ("meter_literal", text_literal(&d.name)),
        ],
    )?;
    Ok(Rendered {
        queries,
        checksum: checksum(&install),
        install,
        revert_code,
        revert_data,
    })
}

/// The lines of `locals.sql` declaring `names`, filled: each function
/// declares only the variables its shape reads.
fn locals(names: &[&str], values: &[(&str, String)]) -> Result<String> {
    let lines: Vec<&str> = t::LOCALS
        .lines()
        .filter(|line| {
            names
                .iter()
                .any(|n| line.trim_start().starts_with(&format!("{n} ")))
        })
        .collect();
    fill(&lines.join("\n"), values)
}

fn rpc(
    meter: &Meter,
    function: &Name,
    values: &mut Vec<(&str, String)>,
) -> Result<(String, String)> {
    let d = &meter.declared;
    let members = d.subject.members.is_some();
    values.push(("function", function.sql()));
    let charge_template = match (&d.limit, d.counter.own_table) {
        (Limit::Column(_), false) => t::RPC_CHARGE_ROW_COLUMN,
        (_, false) => t::RPC_CHARGE_ROW,
        (_, true) => t::RPC_CHARGE_TABLE,
    };
    let lookup = match &d.limit {
        Limit::Column(_) => t::RPC_LIMIT_COLUMN,
        Limit::Tiers { .. } => t::RPC_LIMIT_TIERS,
    };
    let limit_lookup = fill(lookup.trim_end(), values)?;
    values.push(("limit_lookup", limit_lookup));
    let charge = fill(charge_template.trim_end(), values)?;
    values.push(("charge", charge));
    let (who, hint) = if members {
        (
            "the quota of an account its JWT's sub is a member of",
            "the caller's JWT sub must be a member of the account p_subject names",
        )
    } else {
        (
            "the quota of the subject its JWT's sub names",
            "p_subject must equal the sub claim of the caller's JWT",
        )
    };
    values.push(("guard_who", who.into()));
    values.push(("guard_hint", text_literal(hint)));
    values.push((
        "comment",
        text_literal(&format!(
            "quota: meter {} (rpc): atomically admits p_amount units of {} per {} if within the limit",
            d.name,
            d.counter.column,
            d.period.word()
        )),
    ));
    let generic = !matches!((&d.limit, d.counter.own_table), (Limit::Column(_), false));
    let mut names = vec!["v_sub"];
    if meter.marker().is_some() {
        names.push("v_period");
    }
    if matches!(d.limit, Limit::Tiers { .. }) {
        names.push("v_tier");
    }
    if generic {
        names.extend(["v_limit", "v_used"]);
    }
    let declared = locals(&names, values)?;
    values.push(("locals", declared));
    let install = fill(t::RPC_INSTALL, values)?;
    let revert = fill(t::RPC_REVERT_CODE, &[("function", function.sql())])?;
    Ok((install, revert))
}

fn trigger(
    meter: &Meter,
    on: &Name,
    subject_column: &str,
    amount_column: Option<&str>,
    per: Per,
    values: &mut Vec<(&str, String)>,
) -> Result<(String, String)> {
    let d = &meter.declared;
    let function = trigger_function(&d.name).sql();
    let name = ident(&trigger_name(&d.name));
    values.push(("trigger_function", function.clone()));
    values.push(("trigger_name", name.clone()));
    values.push(("on", on.sql()));
    values.push(("on_text", on.to_string().replace(['{', '}'], "")));
    values.push(("subject_column", ident(subject_column)));
    values.push(("label", label(&d.name)));
    values.push(("period_phrase", period_phrase(d.period).into()));
    // The subject and amount the charge reads: the loop's row over the
    // transition table, or the function's own variables set from NEW.
    let (subj, amt, skip, alias) = match per {
        Per::Statement => ("r.subject", "r.amount", "CONTINUE WHEN r.amount < 1;", "n"),
        Per::Row => (
            "v_subject",
            "v_amount",
            "IF v_amount < 1 THEN\n      RETURN NULL;\n    END IF;",
            "NEW",
        ),
    };
    values.push(("subj", subj.into()));
    values.push(("amt", amt.into()));
    values.push(("skip_nothing", skip.into()));
    let row_amount = match amount_column {
        Some(column) => fill(
            t::AMOUNT_COLUMN.trim_end(),
            &[("amount_column", ident(column)), ("alias", alias.into())],
        )?,
        None => "1".into(),
    };
    values.push(("row_amount", row_amount));
    let lookup = match &d.limit {
        Limit::Column(_) => t::TRIGGER_LIMIT_COLUMN,
        Limit::Tiers { .. } => t::TRIGGER_LIMIT_TIERS,
    };
    let limit_lookup = fill(lookup.trim_end(), values)?;
    values.push(("limit_lookup", limit_lookup));
    let charge_template = match d.counter.own_table {
        false => t::TRIGGER_CHARGE_ROW,
        true => t::TRIGGER_CHARGE_TABLE,
    };
    let charge = fill(charge_template.trim_end(), values)?;
    values.push(("charge", charge));
    values.push((
        "null_hint",
        text_literal(&format!(
            "Set {subject_column} on every row inserted into {on}."
        )),
    ));
    values.push((
        "refusal_hint",
        text_literal(match d.period {
            Period::None => "Raise the limit: this meter never resets.",
            Period::Day => "Raise the limit or wait for the next day (UTC).",
            Period::Month => "Raise the limit or wait for the next calendar month (UTC).",
        }),
    ));
    values.push((
        "comment",
        text_literal(&format!(
            "quota: meter {} (trigger): charges the rows inserted into {on} to {} per {}, all or nothing",
            d.name,
            d.counter.column,
            d.period.word()
        )),
    ));
    let charge_one = fill(t::TRIGGER_CHARGE_ONE.trim_end(), values)?;
    values.push(("charge_one", charge_one));
    let template = match per {
        Per::Statement => t::TRIGGER_INSTALL,
        Per::Row => t::TRIGGER_ROW_INSTALL,
    };
    let mut names = vec!["v_sub", "v_limit", "v_used"];
    if meter.marker().is_some() {
        names.push("v_period");
    }
    let declared = locals(&names, values)?;
    values.push(("locals", declared));
    let install = fill(template, values)?;
    let revert = fill(
        t::TRIGGER_REVERT_CODE,
        &[
            ("trigger_name", name),
            ("on", on.sql()),
            ("trigger_function", function),
        ],
    )?;
    Ok((install, revert))
}

pub(crate) fn period_start(period: Period) -> &'static str {
    match period {
        Period::Month => {
            "(pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC'))::pg_catalog.date"
        }
        Period::Day => "(pg_catalog.now() AT TIME ZONE 'UTC')::pg_catalog.date",
        Period::None => "'1970-01-01'::pg_catalog.date",
    }
}

fn period_phrase(period: Period) -> &'static str {
    match period {
        Period::Month => "this month (UTC)",
        Period::Day => "today (UTC)",
        Period::None => "in total",
    }
}

fn default_tier(limit: &Limit) -> String {
    match limit {
        Limit::Tiers { default_tier, .. } => text_literal(default_tier),
        Limit::Column(_) => "NULL".into(),
    }
}

fn limit_column(limit: &Limit) -> String {
    match limit {
        Limit::Column(column) => ident(column),
        Limit::Tiers { .. } => String::new(),
    }
}

/// "clips" → "Clips": the refusal's message reads "Clips limit reached".
fn label(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

mod queries;

#[cfg(test)]
mod tests;
