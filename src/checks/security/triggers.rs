//! The application's code that runs inside quota's writes. quota's SECURITY
//! DEFINER function writes `public.users`, its trigger writes
//! `public.user_usage`, so every trigger on those tables runs as quota's
//! owner, with the `search_path` in force: its own when pinned, else the one
//! it inherits (`pg_catalog, pg_temp` inside quota's functions). Clips are
//! inserted by the calling user, so a trigger on `public.clips` runs as that
//! user and is left out, unless its function is SECURITY DEFINER: then it
//! runs as its own owner and is judged the same way. An unpinned or empty
//! path, or one without `pg_temp` last, lets a caller's temporary domain
//! (`pg_temp.text`) or table (`pg_temp.usage_events`) run as the owner; a
//! table named without a schema that the pinned path does not reach
//! resolves to the caller's temporary table, or breaks the RPC.

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::super::Findings;
use super::search_path_flaw;
use crate::db::quote_ident;
use crate::{db, sql};

/// One row of `check_trigger_functions.sql`.
#[derive(sqlx::FromRow)]
struct TriggerFunction {
    signature: String,
    via: Vec<String>,
    search_path: Option<String>,
    /// "name:schema" for each relation the source names without a schema.
    unqualified: Vec<String>,
    /// Schemas an API role may create objects in.
    creatable: Vec<String>,
}

/// The schemas a proconfig `search_path=...` entry lists, unquoted.
fn path_schemas(setting: &str) -> Vec<String> {
    let value = setting.strip_prefix("search_path=").unwrap_or(setting);
    value
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What is wrong with one function, and the path that would fix it.
fn judge(t: &TriggerFunction) -> (Vec<String>, String) {
    let mut flaws = Vec::new();
    let listed = t
        .search_path
        .as_deref()
        .map(path_schemas)
        .unwrap_or_default();
    match &t.search_path {
        None => flaws.push(
            "has no pinned search_path: it runs with the path in force, pg_catalog, pg_temp inside \
             quota's functions, so a caller's temporary tables and types are searched"
                .to_string(),
        ),
        Some(sp) => {
            if let Some(flaw) = search_path_flaw(sp) {
                flaws.push(flaw);
            }
        }
    }
    // Names without a schema: (name, schemas holding such a relation).
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    for entry in &t.unqualified {
        let Some((name, schema)) = entry.split_once(':') else {
            continue;
        };
        match names.iter_mut().find(|(n, _)| n == name) {
            Some((_, schemas)) => schemas.push(schema.to_string()),
            None => names.push((name.to_string(), vec![schema.to_string()])),
        }
    }
    let mut extra: Vec<String> = Vec::new();
    for (name, schemas) in &names {
        let reached = schemas.iter().any(|s| {
            listed
                .iter()
                .take_while(|l| *l != "pg_temp")
                .any(|l| l == s)
        });
        if !reached {
            flaws.push(format!(
                "names {name} without a schema, which its search_path does not reach: the name \
                 resolves to a caller's temporary table pg_temp.{name}, or the write fails"
            ));
            // The schema to add to the path: one the API cannot create in.
            if let Some(s) = schemas.iter().find(|s| !t.creatable.contains(s)) {
                if !extra.contains(s) {
                    extra.push(s.clone());
                }
            }
        }
    }
    for s in &listed {
        if s != "pg_temp" && s != "pg_catalog" && t.creatable.contains(s) {
            flaws.push(format!(
                "its search_path names {s}, where an API role may create objects that shadow the names it uses"
            ));
        }
    }
    let mut path = vec!["pg_catalog".to_string()];
    // Keep the schemas it lists that are safe, then the ones its names need.
    for s in listed.iter().chain(extra.iter()) {
        if s != "pg_temp" && !path.contains(s) && !t.creatable.contains(s) {
            path.push(s.clone());
        }
    }
    path.push("pg_temp".to_string());
    let path: Vec<String> = path
        .iter()
        .map(|s| match s.as_str() {
            "pg_catalog" | "pg_temp" => s.clone(),
            _ => quote_ident(s),
        })
        .collect();
    (flaws, path.join(", "))
}

/// Every application function that runs inside quota's writes pins a
/// `search_path` with `pg_temp` last that reaches every table it names.
/// `written`: the tables quota's SECURITY DEFINER code writes; `charged`:
/// the tables whose inserts it charges (regclass text, e.g. `public.users`).
pub(crate) async fn trigger_functions(
    conn: &mut PgConnection,
    roles: &[String],
    written: &[String],
    charged: &[String],
    f: &mut Findings,
) -> Result<()> {
    let rows: Vec<TriggerFunction> = db::query_as(sql::CHECK_TRIGGER_FUNCTIONS)
        .bind(roles)
        .bind(written)
        .bind(charged)
        .fetch_all(&mut *conn)
        .await
        .context("reading the triggers on the tables quota writes and the functions they call")?;
    let mut fine = 0;
    for t in &rows {
        let (flaws, path) = judge(t);
        if flaws.is_empty() {
            fine += 1;
            continue;
        }
        f.fail(
            format!(
                "{} ({}) runs with an owner's rights when quota counts a charge and {}",
                t.signature,
                t.via.join(", "),
                flaws.join("; it ")
            ),
            format!(
                "`ALTER FUNCTION {} SET search_path = {path}` and schema-qualify every table, type \
                 and function it names (public.my_table, pg_catalog.text)",
                t.signature
            ),
        );
    }
    if fine > 0 {
        f.note(format!(
            "{fine} application function(s) running inside quota's writes pin a safe search_path"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(search_path: Option<&str>, unqualified: &[&str]) -> TriggerFunction {
        TriggerFunction {
            signature: "public.note()".into(),
            via: vec!["trigger t on public.users".into()],
            search_path: search_path.map(str::to_string),
            unqualified: unqualified.iter().map(|s| s.to_string()).collect(),
            creatable: vec!["open".into()],
        }
    }

    #[test]
    fn a_pinned_path_must_reach_every_name_and_end_in_pg_temp() {
        let (flaws, path) = judge(&function(None, &[]));
        assert_eq!(flaws.len(), 1);
        assert_eq!(path, "pg_catalog, pg_temp");
        let (flaws, _) = judge(&function(Some("search_path=\"\""), &[]));
        assert_eq!(flaws.len(), 1);
        let (flaws, _) = judge(&function(Some("search_path=pg_catalog, pg_temp"), &[]));
        assert!(flaws.is_empty());
        let (flaws, path) = judge(&function(
            Some("search_path=pg_catalog, pg_temp"),
            &["usage_events:public"],
        ));
        assert_eq!(flaws.len(), 1, "{flaws:?}");
        assert_eq!(path, "pg_catalog, public, pg_temp");
        let (flaws, _) = judge(&function(
            Some("search_path=pg_catalog, public, pg_temp"),
            &["usage_events:public"],
        ));
        assert!(flaws.is_empty());
        // A schema the API may create in is never put on the path.
        let (flaws, path) = judge(&function(Some("search_path=open, pg_temp"), &["t:open"]));
        assert_eq!(flaws.len(), 1, "{flaws:?}");
        assert_eq!(path, "pg_catalog, pg_temp");
    }
}
