//! The migrations and revert scripts compiled into the binary.
//!
//! `sql/migrations/V{n}__{name}.sql` are refinery migrations; each has a
//! revert script of the same file name in `sql/revert/`, which this project
//! runs itself (refinery has no down migrations by design).

use refinery::{Migration, Runner};

/// The history table and its old place: leaf constants that `error` names too.
pub use crate::names::{HISTORY_TABLE, LEGACY_HISTORY_TABLE};

/// A refinery runner over the embedded migrations, writing to [`HISTORY_TABLE`].
pub fn runner() -> Runner {
    runner_at(HISTORY_TABLE)
}

/// A refinery runner keeping its history in `table`.
pub fn runner_at(table: &str) -> Runner {
    let mut runner = crate::sql::migrations::migrations::runner();
    runner.set_migration_table_name(table);
    runner
}

/// The embedded migrations, oldest first.
pub fn migrations() -> Vec<Migration> {
    let mut all = runner().get_migrations().clone();
    all.sort_by_key(|m| m.version());
    all
}

/// The newest embedded version.
pub fn latest_version() -> u32 {
    migrations().last().map(|m| m.version()).unwrap_or(0)
}

/// The revert script of `version`, if this build has one.
pub fn revert_sql(version: u32) -> Option<&'static str> {
    crate::sql::REVERTS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sql)| *sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_has_a_revert_and_versions_ascend() {
        // Versions ascend from 1 without repeats; apply, status and rollback
        // look each one up by number, so a gap (a version developed on
        // another branch) is no harm.
        let versions: Vec<u32> = migrations().iter().map(|m| m.version()).collect();
        assert_eq!(versions.first(), Some(&1));
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        for v in &versions {
            assert!(revert_sql(*v).is_some(), "V{v} has no revert script");
        }
        assert_eq!(crate::sql::REVERTS.len(), versions.len());
    }

    /// The function bodies of `sql`, quoted with `tag`, in order.
    fn bodies<'a>(sql: &'a str, tag: &str) -> Vec<&'a str> {
        sql.split(tag).skip(1).step_by(2).collect()
    }

    #[test]
    fn reverting_v4_restores_v2_and_v3_verbatim() {
        let all = migrations();
        let sql = |v: u32| {
            all.iter()
                .find(|m| m.version() == v)
                .and_then(|m| m.sql())
                .unwrap()
        };
        let revert = revert_sql(4).unwrap();
        for (v, tag) in [
            (2, "$increment_usage_if_allowed$"),
            (3, "$enforce_clip_limit$"),
        ] {
            assert_eq!(bodies(revert, tag), bodies(sql(v), tag), "{tag}");
        }
        assert!(revert.contains("SET search_path = ''"));
        assert!(revert.contains("BEFORE INSERT ON public.clips"));
    }

    #[test]
    fn reverting_v5_restores_v4_verbatim() {
        let all = migrations();
        let sql = |v: u32| {
            all.iter()
                .find(|m| m.version() == v)
                .and_then(|m| m.sql())
                .unwrap()
        };
        let revert = revert_sql(5).unwrap();
        let v4 = sql(4);
        // Everything from the first function to the end of the second
        // one's COMMENT, byte for byte.
        let functions = |s: &str| -> String {
            let start = s.find("CREATE OR REPLACE FUNCTION").unwrap();
            let end = s.rfind("limit';").unwrap() + "limit';".len();
            s[start..end].to_string()
        };
        assert_eq!(functions(revert), functions(v4));
        // V5 leaves the trigger alone, so its revert does too.
        assert!(!revert.contains("TRIGGER enforce_clip_limit_trigger"));
        assert!(!sql(5).contains("TRIGGER enforce_clip_limit_trigger"));
    }

    #[test]
    fn reverting_v7_restores_v5_and_v4_verbatim() {
        let all = migrations();
        let sql = |v: u32| {
            all.iter()
                .find(|m| m.version() == v)
                .and_then(|m| m.sql())
                .unwrap()
        };
        let revert = revert_sql(7).unwrap();
        // V5's trigger function with its settings and comment, byte for byte.
        let function = |s: &str| -> String {
            let start = s
                .find("CREATE OR REPLACE FUNCTION public.enforce_clip_limit()")
                .unwrap();
            let end = s.rfind("monthly tier limit';").unwrap() + "monthly tier limit';".len();
            s[start..end].to_string()
        };
        assert_eq!(function(revert), function(sql(5)));
        // V4's trigger, byte for byte, after the statement trigger is dropped.
        let trigger = |s: &str| -> String {
            let start = s
                .rfind("CREATE TRIGGER enforce_clip_limit_trigger")
                .unwrap();
            let end = start + s[start..].find(';').unwrap();
            s[start..=end].to_string()
        };
        assert_eq!(trigger(revert), trigger(sql(4)));
        assert!(trigger(revert).contains("FOR EACH ROW"));
        let drop = revert
            .find("DROP TRIGGER IF EXISTS enforce_clip_limit_trigger")
            .unwrap();
        assert!(drop < revert.find("CREATE OR REPLACE FUNCTION").unwrap());
        // V7 itself: per statement, with the transition table its function reads.
        let v7 = sql(7);
        assert!(trigger(v7).contains("REFERENCING NEW TABLE AS inserted_clips"));
        assert!(trigger(v7).contains("FOR EACH STATEMENT"));
        assert!(!v7.contains("increment_usage_if_allowed("));
    }

    /// V6 grants UPDATE only on the columns `safe_update_columns.sql`
    /// allows, the rule hints use: it runs that very text.
    #[test]
    fn v6_runs_the_safe_update_columns_rule_verbatim() {
        let v6 = migrations()
            .into_iter()
            .find(|m| m.version() == 6)
            .and_then(|m| m.sql().map(str::to_string))
            .unwrap();
        assert!(v6.contains(crate::sql::SAFE_UPDATE_COLUMNS.trim()));
    }
}
