//! The mapping: which tables, columns and functions quota's enforcement
//! uses. With no `quota.toml` it is the seed schema's contract (the
//! versioned migrations, unchanged). With one, the file is read and checked
//! once at the edge ([`file::Config`]), resolved against the catalog once
//! ([`resolve`], into resolved [`Meter`]s), and every SQL text of a meter is
//! rendered from that one value ([`render`]): the work receives resolved
//! meters, never raw strings.

pub mod bench;
pub mod file;
pub mod ops;
pub mod render;
pub mod resolve;
pub mod template;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A schema-qualified name of a table or function, exactly as the catalog
/// spells it (case-sensitive; never SQL-quoted in the file).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Name {
    pub schema: String,
    pub name: String,
}

impl Name {
    /// The name as SQL text: both parts always double-quoted.
    pub fn sql(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

impl Name {
    /// The name as `regclass` prints it: parts quoted only where needed.
    pub fn regclass_text(&self) -> String {
        format!(
            "{}.{}",
            crate::names::quote_ident(&self.schema),
            crate::names::quote_ident(&self.name)
        )
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// An identifier as SQL text: always double-quoted, so case, spaces and
/// reserved words (`limit`, `user`) are taken literally.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A text value as a SQL string literal.
pub fn text_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Whose usage is limited: one row per user or per account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub table: Name,
    /// The uuid key callers name the subject by (unique).
    pub key: String,
    /// The text column naming the tier (read only by meters with `limits`).
    pub tier: String,
    pub members: Option<Members>,
}

/// Who may spend an account's quota: rows of `table` pairing the account
/// (`subject`) with a user (`user`, compared with the JWT's `sub`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    pub table: Name,
    pub subject: String,
    pub user: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Rpc,
    Trigger,
}

/// What a meter's charge comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Charge {
    /// An atomic function `(p_subject uuid, p_amount integer DEFAULT 1)`.
    Rpc { function: Name },
    /// Rows inserted into `on`, charged to the subject `subject_column`
    /// names, by `amount_column` (or 1 each).
    Trigger {
        on: Name,
        subject_column: String,
        amount_column: Option<String>,
        /// Charged once per statement (bulk inserts) or once per row
        /// (single-row inserts, where a transition table costs more).
        #[serde(default)]
        per: Per,
    },
}

/// How often a trigger meter's function runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Per {
    #[default]
    Statement,
    Row,
}

/// Where a meter's counter lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    pub table: Name,
    pub column: String,
    /// The column naming the subject: the subject's key on its own row, or
    /// `counter_key` in a table of its own (unique; row made on first use).
    pub key: String,
    /// True when the counter is in a table of its own (not the subject's row).
    pub own_table: bool,
}

/// Where a meter's limit comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// A column of the subject's row.
    Column(String),
    /// Per tier, kept as data in `quota.meter_limits`; an unknown or NULL
    /// tier gets `default_tier`'s limit.
    Tiers {
        limits: BTreeMap<String, i64>,
        default_tier: String,
    },
}

/// The calendar period a counter counts, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Month,
    Day,
    /// Lifetime: never reset.
    None,
}

impl Period {
    pub fn word(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Day => "day",
            Period::None => "none",
        }
    }
}

/// `integer` or `bigint`, as the catalog has the column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntType {
    Smallint,
    Integer,
    Bigint,
}

impl IntType {
    /// The type as SQL text, schema-qualified (safe under any search_path).
    pub fn sql(self) -> &'static str {
        match self {
            IntType::Smallint => "pg_catalog.int2",
            IntType::Integer => "pg_catalog.int4",
            IntType::Bigint => "pg_catalog.int8",
        }
    }
}

/// One meter as the file declares it, before the catalog is consulted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    pub name: String,
    pub charge: Charge,
    pub subject: Subject,
    pub counter: Counter,
    pub limit: Limit,
    pub period: Period,
    /// Where the subject is declared in the file (`subject` or
    /// `meters.NAME.subject`), for naming problems.
    #[serde(skip)]
    pub subject_at: String,
}

impl Declared {
    pub fn kind(&self) -> Kind {
        match self.charge {
            Charge::Rpc { .. } => Kind::Rpc,
            Charge::Trigger { .. } => Kind::Trigger,
        }
    }
}

/// One meter, resolved: declared and checked against the catalog, with the
/// column types the rendered SQL uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    #[serde(flatten)]
    pub declared: Declared,
    pub counter_type: IntType,
    /// The limit column's type; `bigint` for tier limits.
    pub limit_type: IntType,
}

impl Meter {
    pub fn name(&self) -> &str {
        &self.declared.name
    }

    /// The period marker column quota adds beside the counter (none for
    /// lifetime meters): `quota_<meter>_period`, dropped by the revert.
    pub fn marker(&self) -> Option<String> {
        (self.declared.period != Period::None).then(|| marker_column(&self.declared.name))
    }

    /// The installed mapping as dotted keys and values, for drift reports.
    pub fn flat(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        flatten(
            "",
            &serde_json::to_value(self).unwrap_or_default(),
            &mut out,
        );
        out
    }
}

/// The period marker column of meter `name`.
pub fn marker_column(name: &str) -> String {
    format!("quota_{name}_period")
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Null => {}
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
