//! `quota check drift`: the installed function bodies, their settings and
//! the trigger definition are what the embedded migrations define, so a
//! hand edit in a dashboard is caught. `quota migrate apply --repair` puts
//! them back.

use crate::db;
use crate::sql;
use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::security::EMPTY_SEARCH_PATH;
use super::trigger::{self, BEFORE, INSERT, ROW};
use super::{function_oid, Findings, HINT_APPLY, HINT_REPAIR, RPC, TRIGGER_FUNCTION};
use crate::migrate::{self, embedded, State};

/// Each function and the dollar-quote tag around its body in the migrations.
const FUNCTIONS: [(&str, &str); 2] = [
    (RPC, "$increment_usage_if_allowed$"),
    (TRIGGER_FUNCTION, "$enforce_clip_limit$"),
];

pub(crate) async fn run(conn: &mut PgConnection) -> Result<Findings> {
    let mut f = Findings::default();
    // Compared with what the recorded version defines: after a rollback to
    // V3, V3's definitions are the right ones.
    let at = history(conn, &mut f).await?;
    let ahead = at > embedded::latest_version();
    for (signature, tag) in FUNCTIONS {
        function(conn, signature, tag, at, ahead, &mut f).await?;
    }
    trigger_definition(conn, at, ahead, &mut f).await?;
    Ok(f)
}

/// A definition that differs from the newest one this build knows: drift,
/// unless a newer quota upgraded the database, whose later versions may
/// define it differently (a warning, so an older quota's CI stays green).
fn differs(f: &mut Findings, ahead: bool, detail: String) {
    if ahead {
        f.warn(
            format!("{detail} (the database is ahead of this quota, which cannot tell whether a later version changed it)"),
            HINT_NEWER,
        );
    } else {
        f.fail(detail, HINT_REPAIR);
    }
}

/// What to do on a database a newer quota upgraded.
const HINT_NEWER: &str =
    "install a newer quota (one that knows the database's version) to check every version";

/// The migration history must be complete and match this build. Returns
/// the database version.
async fn history(conn: &mut PgConnection, f: &mut Findings) -> Result<u32> {
    let status = migrate::status(conn).await?;
    for m in &status.migrations {
        match m.state {
            State::Applied => {}
            State::Pending => f.fail(
                format!("V{}__{} is not applied", m.version, m.name),
                HINT_APPLY,
            ),
            State::Drifted => f.fail(
                format!(
                    "V{}__{} is drifted in the migration history (its checksum differs from this build's file)",
                    m.version, m.name
                ),
                "run `quota migrate apply --repair` to re-run this build's file and re-record its checksum",
            ),
            // Said once below: the database is ahead of this binary.
            State::Unknown => {}
        }
    }
    if status.is_ahead() {
        f.warn(
            format!(
                "the database is at version {}, newer than this quota (knows up to {}): \
                 versions 1-{} checked, later ones not",
                status.database_version, status.latest_version, status.latest_version
            ),
            HINT_NEWER,
        );
    }
    Ok(status.database_version)
}

/// What the embedded migrations define for one function, as of a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The version that last (re)defined it.
    pub version: u32,
    pub body: String,
    /// Its settings as pg_proc.proconfig spells them, e.g. `search_path=pg_catalog, pg_temp`.
    pub config: Vec<String>,
}

/// The newest definition, up to version `at`, of the function whose body is
/// quoted with `tag` (the newest of all when none is that old).
pub fn embedded_definition(tag: &str, at: u32) -> Option<Definition> {
    let all: Vec<Definition> = embedded::migrations()
        .iter()
        .filter_map(|m| definition_in(m.version(), m.sql()?, tag))
        .collect();
    all.iter()
        .rev()
        .find(|d| d.version <= at)
        .or(all.last())
        .cloned()
}

fn definition_in(version: u32, sql: &str, tag: &str) -> Option<Definition> {
    let open = sql.find(tag)?;
    let start = open + tag.len();
    let len = sql[start..].find(tag)?;
    // `SET search_path = <value>` between CREATE FUNCTION and the body.
    let header = &sql[..open];
    let header = &header[header.rfind("CREATE OR REPLACE FUNCTION")?..];
    let config = header
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SET search_path = "))
        .map(|v| match v.trim() {
            "''" => EMPTY_SEARCH_PATH.to_string(),
            v => format!("search_path={v}"),
        })
        .collect();
    Some(Definition {
        version,
        body: sql[start..start + len].to_string(),
        config,
    })
}

/// How the embedded migrations create the clip trigger, as of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TriggerDef {
    /// The version that last created it.
    pub version: u32,
    /// AFTER (since V4), else BEFORE the insert (V3).
    pub after: bool,
    /// FOR EACH ROW (V3-V6), else FOR EACH STATEMENT with the transition
    /// table [`TRANSITION_TABLE`] (since V7).
    pub per_row: bool,
}

/// The transition table V7's trigger names and its function reads.
pub(crate) const TRANSITION_TABLE: &str = "inserted_clips";

impl TriggerDef {
    /// pg_trigger.tgtype for this definition.
    pub(crate) fn tgtype(&self) -> i32 {
        INSERT | if self.after { 0 } else { BEFORE } | if self.per_row { ROW } else { 0 }
    }

    /// The transition table it names, if any.
    pub(crate) fn new_table(&self) -> Option<&'static str> {
        (!self.per_row).then_some(TRANSITION_TABLE)
    }

    /// How it fires, in words: `AFTER INSERT FOR EACH ROW`.
    pub(crate) fn fires(&self) -> String {
        let timing = if self.after { "AFTER" } else { "BEFORE" };
        match self.new_table() {
            None => format!("{timing} INSERT FOR EACH ROW"),
            Some(t) => {
                format!("{timing} INSERT FOR EACH STATEMENT (REFERENCING NEW TABLE AS {t})")
            }
        }
    }
}

/// The newest definition of the trigger, up to version `at` (the newest of
/// all when none is that old).
pub(crate) fn embedded_trigger(at: u32) -> TriggerDef {
    let all: Vec<TriggerDef> = embedded::migrations()
        .iter()
        .filter_map(|m| {
            let sql = m.sql()?;
            let at = sql.rfind("TRIGGER enforce_clip_limit_trigger\n")?;
            let def = &sql[at..];
            Some(TriggerDef {
                version: m.version(),
                after: def.contains("AFTER INSERT ON public.clips"),
                per_row: !def.contains("FOR EACH STATEMENT"),
            })
        })
        .collect();
    all.iter()
        .rev()
        .find(|d| d.version <= at)
        .or(all.last())
        .copied()
        .unwrap_or(TriggerDef {
            version: 0,
            after: true,
            per_row: true,
        })
}

async fn function(
    conn: &mut PgConnection,
    signature: &str,
    tag: &str,
    at: u32,
    ahead: bool,
    f: &mut Findings,
) -> Result<()> {
    let Some(def) = embedded_definition(tag, at) else {
        anyhow::bail!("no embedded migration defines {signature} (quoted with {tag})");
    };
    let version = def.version;
    let Some(oid) = function_oid(conn, signature).await? else {
        f.fail(
            format!("{signature} (V{version}) is not installed"),
            HINT_APPLY,
        );
        return Ok(());
    };
    let (source, secdef, config): (String, bool, Vec<String>) =
        db::query_as(sql::CHECK_FUNCTION_SOURCE)
            .bind(sqlx::postgres::types::Oid(oid))
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("reading the definition of {signature}"))?;
    if source != def.body {
        let detail = format!(
            "{signature}: body differs from V{version} (edited by hand?); {}",
            first_difference(&source, &def.body)
        );
        differs(f, ahead, detail);
    }
    if !secdef {
        differs(
            f,
            ahead,
            format!("{signature}: SECURITY DEFINER was removed"),
        );
    }
    if config != def.config {
        let detail = format!(
            "{signature}: settings are {{{}}}, V{version} sets {{{}}}",
            config.join(","),
            def.config.join(",")
        );
        differs(f, ahead, detail);
    }
    if !f.has_failures() {
        f.note(format!("{signature} matches V{version}"));
    }
    Ok(())
}

/// The first line where the installed body departs from the embedded one.
fn first_difference(installed: &str, expected: &str) -> String {
    let clip = |s: &str| -> String {
        let s = s.trim();
        if s.chars().count() > 60 {
            format!("{}…", s.chars().take(60).collect::<String>())
        } else {
            s.to_string()
        }
    };
    let trim = |s: &str| s.trim_matches('\n').to_string();
    let (installed, expected) = (trim(installed), trim(expected));
    let (mut a, mut b) = (installed.lines(), expected.lines());
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (Some(x), Some(y)) => {
                return format!("line {line} is `{}`, expected `{}`", clip(x), clip(y))
            }
            (Some(x), None) => return format!("extra line {line}: `{}`", clip(x)),
            (None, Some(y)) => return format!("line {line} missing: `{}`", clip(y)),
            (None, None) => return "they differ in whitespace at the end of a line".to_string(),
        }
    }
}

async fn trigger_definition(
    conn: &mut PgConnection,
    at: u32,
    ahead: bool,
    f: &mut Findings,
) -> Result<()> {
    let Some(t) = trigger::find(conn).await? else {
        f.fail(
            "enforce_clip_limit_trigger is not installed on public.clips",
            HINT_APPLY,
        );
        return Ok(());
    };
    let def = embedded_trigger(at);
    let version = def.version;
    if t.tgtype != def.tgtype()
        || t.new_table.as_deref() != def.new_table()
        || t.calls_function != Some(true)
        || !t.unconditional
    {
        let detail = format!(
            "enforce_clip_limit_trigger differs from V{version}: {} (expected {} ON public.clips EXECUTE FUNCTION public.enforce_clip_limit())",
            t.definition,
            def.fires()
        );
        differs(f, ahead, detail);
    } else if !f.has_failures() {
        f.note(format!("enforce_clip_limit_trigger matches V{version}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bodies_are_found_in_the_embedded_migrations() {
        for (_, tag) in FUNCTIONS {
            let def = embedded_definition(tag, u32::MAX).expect(tag);
            assert!(
                def.body.contains("BEGIN") && def.body.contains("END"),
                "{tag}: {}",
                def.body
            );
            assert!(!def.body.contains(tag));
            assert_eq!(def.config, ["search_path=pg_catalog, pg_temp"]);
        }
    }

    #[test]
    fn definitions_follow_the_database_version() {
        let rpc = embedded_definition("$increment_usage_if_allowed$", 3).unwrap();
        assert_eq!(rpc.version, 2);
        assert_eq!(rpc.config, [EMPTY_SEARCH_PATH]);
        let trigger_fn = embedded_definition("$enforce_clip_limit$", 3).unwrap();
        assert_eq!(trigger_fn.version, 3);
        let row = |version, after| TriggerDef {
            version,
            after,
            per_row: true,
        };
        assert_eq!(embedded_trigger(3), row(3, false));
        assert_eq!(embedded_trigger(4), row(4, true));
        // V5 redefines both functions and leaves V4's trigger.
        assert_eq!(
            embedded_definition("$increment_usage_if_allowed$", 4)
                .unwrap()
                .version,
            4
        );
        assert_eq!(
            embedded_definition("$enforce_clip_limit$", 5)
                .unwrap()
                .version,
            5
        );
        assert_eq!(embedded_trigger(5), row(4, true));
        assert_eq!(embedded_trigger(6), row(4, true));
        // V7 charges per statement: its trigger and function, V5's RPC.
        let v7 = embedded_trigger(7);
        assert_eq!((v7.version, v7.after, v7.per_row), (7, true, false));
        assert_eq!(v7.tgtype(), INSERT);
        assert_eq!(v7.new_table(), Some("inserted_clips"));
        assert_eq!(row(4, true).tgtype(), INSERT | ROW);
        assert_eq!(row(3, false).tgtype(), INSERT | ROW | BEFORE);
        assert_eq!(
            embedded_definition("$enforce_clip_limit$", 7)
                .unwrap()
                .version,
            7
        );
        assert_eq!(
            embedded_definition("$enforce_clip_limit$", 6)
                .unwrap()
                .version,
            5
        );
        assert_eq!(
            embedded_definition("$increment_usage_if_allowed$", 7)
                .unwrap()
                .version,
            5
        );
    }

    #[test]
    fn first_difference_names_the_line() {
        assert_eq!(
            first_difference("a\nb\nc", "a\nx\nc"),
            "line 2 is `b`, expected `x`"
        );
        assert_eq!(first_difference("a", "a\nb"), "line 2 missing: `b`");
    }
}
