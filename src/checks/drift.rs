//! `quota check drift`: the installed function bodies, their settings and
//! the trigger definition are what the embedded migrations define, so a
//! hand edit in a dashboard is caught. `quota migrate apply --repair` puts
//! them back.

use crate::db;
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
    history(conn, &mut f).await?;
    for (signature, tag) in FUNCTIONS {
        function(conn, signature, tag, &mut f).await?;
    }
    trigger_definition(conn, &mut f).await?;
    Ok(f)
}

/// The migration history must be complete and match this build.
async fn history(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
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
            State::Unknown => f.fail(
                format!(
                    "V{}__{} is in the migration history but unknown to this build",
                    m.version, m.name
                ),
                "a newer quota applied it: run that version's `quota verify`",
            ),
        }
    }
    Ok(())
}

/// The version and body of the function whose body is quoted with `tag`.
pub fn embedded_body(tag: &str) -> Option<(u32, String)> {
    embedded::migrations().iter().find_map(|m| {
        let sql = m.sql()?;
        let start = sql.find(tag)? + tag.len();
        let len = sql[start..].find(tag)?;
        Some((m.version(), sql[start..start + len].to_string()))
    })
}

async fn function(
    conn: &mut PgConnection,
    signature: &str,
    tag: &str,
    f: &mut Findings,
) -> Result<()> {
    let Some((version, expected)) = embedded_body(tag) else {
        anyhow::bail!("no embedded migration defines {signature} (quoted with {tag})");
    };
    let Some(oid) = function_oid(conn, signature).await? else {
        f.fail(
            format!("{signature} (V{version}) is not installed"),
            HINT_APPLY,
        );
        return Ok(());
    };
    let (source, secdef, config): (String, bool, Vec<String>) =
        db::query_as(include_str!("../../sql/queries/check_function_source.sql"))
            .bind(sqlx::postgres::types::Oid(oid))
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("reading the definition of {signature}"))?;
    if source != expected {
        f.fail(
            format!(
                "{signature}: body differs from V{version} (edited by hand?); {}",
                first_difference(&source, &expected)
            ),
            HINT_REPAIR,
        );
    }
    if !secdef {
        f.fail(
            format!("{signature}: SECURITY DEFINER was removed"),
            HINT_REPAIR,
        );
    }
    if config != [EMPTY_SEARCH_PATH] {
        f.fail(
            format!(
                "{signature}: settings are {{{}}}, V{version} sets {{{EMPTY_SEARCH_PATH}}}",
                config.join(",")
            ),
            HINT_REPAIR,
        );
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

async fn trigger_definition(conn: &mut PgConnection, f: &mut Findings) -> Result<()> {
    let Some(t) = trigger::find(conn).await? else {
        f.fail(
            "enforce_clip_limit_trigger is not installed on public.clips",
            HINT_APPLY,
        );
        return Ok(());
    };
    let expected = ROW | BEFORE | INSERT;
    let version = embedded_body("$enforce_clip_limit$").map_or(0, |(v, _)| v);
    if t.tgtype != expected || t.calls_function != Some(true) || !t.unconditional {
        f.fail(
            format!(
                "enforce_clip_limit_trigger differs from V{version}: {} (expected BEFORE INSERT ON public.clips FOR EACH ROW EXECUTE FUNCTION public.enforce_clip_limit())",
                t.definition
            ),
            HINT_REPAIR,
        );
    } else if !f.has_failures() {
        f.note("enforce_clip_limit_trigger matches");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bodies_are_found_in_the_embedded_migrations() {
        for (_, tag) in FUNCTIONS {
            let (_, body) = embedded_body(tag).expect(tag);
            assert!(
                body.contains("BEGIN") && body.contains("END"),
                "{tag}: {body}"
            );
            assert!(!body.contains(tag));
        }
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
