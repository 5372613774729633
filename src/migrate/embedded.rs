//! The migrations and revert scripts compiled into the binary.
//!
//! `sql/migrations/V{n}__{name}.sql` are refinery migrations; each has a
//! revert script of the same file name in `sql/revert/`, which this project
//! runs itself (refinery has no down migrations by design).

use refinery::{Migration, Runner};

mod files {
    refinery::embed_migrations!("sql/migrations");
}

/// The history table refinery keeps; schema-qualified so that a role's
/// search_path cannot put a second copy somewhere else.
pub const HISTORY_TABLE: &str = "public.quota_schema_history";

/// Revert scripts by version. A unit test checks that every migration has one.
const REVERTS: &[(u32, &str)] = &[
    (1, include_str!("../../sql/revert/V1__usage_periods.sql")),
    (
        2,
        include_str!("../../sql/revert/V2__increment_usage_if_allowed.sql"),
    ),
    (3, include_str!("../../sql/revert/V3__clip_limit.sql")),
];

/// A refinery runner over the embedded migrations, writing to [`HISTORY_TABLE`].
pub fn runner() -> Runner {
    let mut runner = files::migrations::runner();
    runner.set_migration_table_name(HISTORY_TABLE);
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
    REVERTS
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, sql)| *sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_has_a_revert_and_versions_are_dense() {
        let versions: Vec<u32> = migrations().iter().map(|m| m.version()).collect();
        assert_eq!(versions, (1..=versions.len() as u32).collect::<Vec<_>>());
        for v in &versions {
            assert!(revert_sql(*v).is_some(), "V{v} has no revert script");
        }
        assert_eq!(REVERTS.len(), versions.len());
    }
}
