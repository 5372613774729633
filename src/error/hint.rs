//! Hints: the actionable part of an error line, and what to grant for a
//! "permission denied".

use super::ExitKind;
use crate::names::{quote_ident, QUOTA_TABLES};

/// Clauses of an error line that start with one of these say what to do.
const ACTION_WORDS: &[&str] = &[
    "run ",
    "rerun ",
    "re-run ",
    "check ",
    "use ",
    "let ",
    "wait ",
    "give ",
    "grant ",
    "as the ",
    "as postgres ",
    "see ",
    "set ",
    "unset ",
    "install ",
    "retry ",
    "restore ",
    "roll ",
    "raise ",
    "percent-encode ",
    "point ",
    "remove ",
    "pass ",
    "add ",
    "create ",
    "start ",
    "try ",
    "fix ",
    "or ",
    "ask ",
    "connect ",
    "drop ",
    "end ",
    "stop ",
    "edit ",
    "upgrade ",
    "enable ",
];

/// The actionable part of a one-line error: from the first place that
/// starts with an action word to the end, else a default for the kind. The
/// project's messages say "what happened; what to do", so candidates are the
/// starts of `; `-separated clauses after the first, and sentence starts
/// after `? ` or `. ` anywhere ("is quota installed here? run …").
pub fn hint_of(kind: ExitKind, line: &str) -> String {
    let mut starts: Vec<usize> = Vec::new();
    for sep in ["; ", "? ", ". "] {
        starts.extend(line.match_indices(sep).map(|(i, _)| i + sep.len()));
    }
    starts.sort_unstable();
    let first_action = starts.into_iter().find(|&i| {
        let lower = line[i..].to_lowercase();
        ACTION_WORDS.iter().any(|w| lower.starts_with(w))
    });
    match first_action {
        Some(i) => line[i..].to_string(),
        None => kind.default_hint().to_string(),
    }
}

/// What to grant for a server "permission denied" message, naming `role`.
pub fn permission_hint(message: &str, role: &str) -> String {
    let role = quote_ident(role);
    let object = |kind: &str| {
        message
            .split_once(&format!("permission denied for {kind} "))
            .map(|(_, name)| name.trim().to_string())
    };
    if let Some(f) = object("function") {
        format!("as the function's owner run: GRANT EXECUTE ON FUNCTION {f} TO {role}")
    } else if let Some(s) = object("schema") {
        // Reading a schema's objects needs USAGE only; never hint CREATE.
        format!("as the schema's owner run: GRANT USAGE ON SCHEMA {s} TO {role}")
    } else if let Some(t) = object("table") {
        let t = qualified(&t);
        format!(
            "as the table's owner run: GRANT SELECT ON {t} TO {role} (and INSERT, UPDATE, DELETE \
             for commands that write)"
        )
    } else if message.starts_with("must be owner of") {
        format!(
            "run quota as that owner (on Supabase: postgres), or as the owner run: GRANT <owner> TO {role}"
        )
    } else {
        format!("grant {role} the privilege named above, or run quota as the owner of the objects")
    }
}

/// A table as the server's "permission denied for table x" names it, with
/// its schema when it is one of quota's tables (the server leaves it out,
/// and a GRANT on the bare name may hit the wrong table or none).
fn qualified(table: &str) -> String {
    if table.contains('.') {
        return table.to_string();
    }
    QUOTA_TABLES
        .iter()
        .find(|q| q.rsplit_once('.').is_some_and(|(_, name)| name == table))
        .map_or_else(|| table.to_string(), |q| q.to_string())
}

/// A contract table the role quota runs as cannot read, and what to grant.
pub fn contract_table_denied(table: &str, role: &str) -> String {
    format!(
        "permission denied for table public.{table}: as its owner run GRANT SELECT ON \
         public.{table} TO {} (and INSERT, UPDATE, DELETE for race and reset-user), or run quota \
         as the owner (on Supabase: postgres)",
        quote_ident(role)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_is_the_actionable_tail_or_a_default() {
        assert_eq!(
            hint_of(
                ExitKind::Connect,
                "cannot connect to h:5432: password authentication failed; check the password"
            ),
            "check the password"
        );
        assert_eq!(
            hint_of(
                ExitKind::Precondition,
                "gave up: x; blocking: pid 1 (y); let that finish; or raise --retries"
            ),
            "let that finish; or raise --retries"
        );
        assert_eq!(
            hint_of(ExitKind::Usage, "invalid database URL"),
            ExitKind::Usage.default_hint()
        );
        assert_eq!(
            hint_of(
                ExitKind::Precondition,
                "reading: relation x does not exist; is quota installed here? run `quota migrate apply`"
            ),
            "run `quota migrate apply`"
        );
        // The first clause is what happened, never the hint.
        assert_eq!(
            hint_of(ExitKind::Internal, "run failed"),
            ExitKind::Internal.default_hint()
        );
    }

    #[test]
    fn permission_hints_name_the_grant() {
        assert_eq!(
            permission_hint("permission denied for function pg_try_advisory_lock", "ro"),
            "as the function's owner run: GRANT EXECUTE ON FUNCTION pg_try_advisory_lock TO ro"
        );
        let schema = permission_hint("permission denied for schema quota", "Ro");
        assert!(
            schema.contains("GRANT USAGE ON SCHEMA quota TO \"Ro\""),
            "{schema}"
        );
        assert!(!schema.contains("CREATE"), "{schema}");
        assert!(
            permission_hint("permission denied for table schema_history", "r")
                .contains("GRANT SELECT ON quota.schema_history TO r")
        );
        assert!(permission_hint("permission denied for table clips", "r")
            .contains("GRANT SELECT ON public.clips TO r"));
        assert!(permission_hint("permission denied for table other", "r")
            .contains("GRANT SELECT ON other TO r"));
    }
}
