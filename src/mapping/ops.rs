//! The queries `user`, `users`, `reset-user`, `report`, `limits` and
//! `metrics` run on a mapped meter, rendered from its resolved [`Meter`]
//! like its function ([`super::render`]): templates `sql/meters/ops_*.sql`
//! whose placeholders are filled only with quoted identifiers of the
//! mapping, type names and literals of validated values. Subjects, limits,
//! shares and counts are bound parameters.

use anyhow::Result;

use super::render::{fill, period_start};
use super::{ident, text_literal, Limit, Meter};
use crate::sql::meters as t;

/// A meter's subject queries, each the base (`ops_subjects.sql`) followed
/// by its SELECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpsQueries {
    /// One subject ($1 uuid): tier, used, limit, own_limit, stored, marker, period.
    pub user: String,
    /// Subjects ($1 under the limit only, $2 how many): subject, tier, used, limit.
    pub list: String,
    /// Subjects at their limit.
    pub at_limit: String,
    /// Subjects at $1 (a share) or more of their limit, not at it.
    pub near_limit: String,
    /// Per tier and limit ($1 the share counted as near): `meters::TierRow`.
    pub tiers: String,
    /// Locks the subject's ($1) counter row.
    pub lock: String,
    /// Makes the subject's ($1) row of a counter kept in a table of its own.
    pub counter_row: String,
}

/// Renders the subject queries of `meter`.
pub fn ops_queries(meter: &Meter) -> Result<OpsQueries> {
    let d = &meter.declared;
    let alias = if d.counter.own_table { "c" } else { "s" };
    let marker = meter.marker().map(|m| ident(&m));
    let period = period_start(d.period).to_string();
    let used = match &marker {
        Some(m) => fill(
            t::USED_PERIOD.trim_end(),
            &[
                ("alias", alias.into()),
                ("marker", m.clone()),
                ("counter", ident(&d.counter.column)),
                ("period", period.clone()),
            ],
        )?,
        None => fill(
            t::USED_LIFETIME.trim_end(),
            &[
                ("alias", alias.into()),
                ("counter", ident(&d.counter.column)),
            ],
        )?,
    };
    let counter_join = if d.counter.own_table {
        format!(
            "\n    LEFT JOIN {} AS c ON c.{} = s.{}",
            d.counter.table.sql(),
            ident(&d.counter.key),
            ident(&d.subject.key)
        )
    } else {
        String::new()
    };
    let meter_literal = text_literal(&d.name);
    let (tier_value, limit_value, own_limit, limit_join) = match &d.limit {
        Limit::Column(column) => (
            "NULL::pg_catalog.text".to_string(),
            format!("s.{}", ident(column)),
            format!("s.{} IS NOT NULL", ident(column)),
            String::new(),
        ),
        Limit::Tiers { default_tier, .. } => (
            format!("s.{}::pg_catalog.text", ident(&d.subject.tier)),
            "COALESCE(own.\"limit\", def.\"limit\")".to_string(),
            "own.tier IS NOT NULL".to_string(),
            format!(
                "\n    LEFT JOIN quota.meter_limits AS own ON own.meter = {meter_literal} AND own.tier = s.{}\
                 \n    LEFT JOIN quota.meter_limits AS def ON def.meter = {meter_literal} AND def.tier = {}",
                ident(&d.subject.tier),
                text_literal(default_tier)
            ),
        ),
    };
    let marker_value = match &marker {
        Some(m) => format!("{alias}.{m}::pg_catalog.text"),
        None => "NULL::pg_catalog.text".into(),
    };
    let values: Vec<(&str, String)> = vec![
        ("subject_key", ident(&d.subject.key)),
        ("subject_table", d.subject.table.sql()),
        ("tier_value", tier_value),
        ("used", used),
        ("limit_value", limit_value),
        ("own_limit", own_limit),
        ("counter_alias", alias.into()),
        ("counter", ident(&d.counter.column)),
        ("marker_value", marker_value),
        ("period_start", period),
        ("counter_join", counter_join),
        ("limit_join", limit_join),
        ("meter_literal", meter_literal),
        ("counter_table", d.counter.table.sql()),
        ("counter_key", ident(&d.counter.key)),
    ];
    let base = fill(t::OPS_SUBJECTS, &values)?;
    let with = |select: &str| -> Result<String> { Ok(format!("{base}{}", fill(select, &values)?)) };
    Ok(OpsQueries {
        user: with(t::OPS_USER)?,
        list: with(t::OPS_LIST)?,
        at_limit: with(t::OPS_AT_LIMIT)?,
        near_limit: with(t::OPS_NEAR_LIMIT)?,
        tiers: with(t::OPS_TIERS)?,
        lock: fill(t::OPS_LOCK, &values)?,
        counter_row: fill(t::OPS_COUNTER_ROW, &values)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::file;

    fn meter(toml: &str) -> Meter {
        let declared = file::parse(toml).unwrap().remove(0);
        Meter {
            declared,
            counter_type: crate::mapping::IntType::Bigint,
            limit_type: crate::mapping::IntType::Bigint,
        }
    }

    #[test]
    fn identifiers_are_quoted_and_values_bound() {
        let m = meter(
            "[subject]\ntable = \"public.Teams\"\ntier = \"plan\"\n[meters.api_calls]\nkind = \"rpc\"\n\
             function = \"public.use\"\ncounter = \"public.api_usage.calls\"\ncounter_key = \"team id\"\n\
             limits = { free = 20 }\ndefault_tier = \"free\"\nperiod = \"day\"\n",
        );
        let q = ops_queries(&m).unwrap();
        assert!(
            q.user.contains("FROM \"public\".\"Teams\" AS s"),
            "{}",
            q.user
        );
        assert!(q
            .user
            .contains("LEFT JOIN \"public\".\"api_usage\" AS c ON c.\"team id\" = s.\"id\""));
        assert!(q.user.contains("c.\"quota_api_calls_period\""));
        assert!(q.user.contains("own.tier = s.\"plan\"") && q.user.contains("def.tier = 'free'"));
        assert!(q.user.trim_end().ends_with("WHERE id = $1"));
        assert!(q.tiers.contains("'api_calls' AS meter"));
        assert!(q
            .counter_row
            .contains("ON CONFLICT (\"team id\") DO NOTHING"));
        for text in [
            &q.user,
            &q.list,
            &q.at_limit,
            &q.near_limit,
            &q.tiers,
            &q.lock,
        ] {
            assert!(!text.contains('{'), "{text}");
        }
    }

    #[test]
    fn a_lifetime_column_meter_reads_its_row() {
        let m = meter(
            "[subject]\ntable = \"public.profiles\"\n[meters.credits]\nkind = \"rpc\"\n\
             function = \"public.spend\"\ncounter = \"credits_used\"\nlimit = \"credits_limit\"\nperiod = \"none\"\n",
        );
        let q = ops_queries(&m).unwrap();
        assert!(
            q.user.contains("COALESCE(s.\"credits_used\", 0)"),
            "{}",
            q.user
        );
        assert!(q
            .user
            .contains("s.\"credits_limit\"::pg_catalog.int8 AS lim"));
        assert!(!q.user.contains("meter_limits AS own"));
        assert!(!q.user.contains("JOIN"));
    }
}
