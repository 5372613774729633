//! Advice in migration errors. One rule for `--target V` out of range, shared by apply and rollback: a
//! target the command cannot reach from where the database is, or that no
//! migration of this build has, is a usage error (exit 2) that names the
//! database's version and the command that goes there. A target equal to
//! the database's version is not an error: nothing to do, exit 0.

use anyhow::Result;

use super::embedded;
use crate::exit;

/// `--target` of `migrate rollback`: at or below the database's version.
pub fn check_rollback(database_version: u32, target: Option<u32>) -> Result<()> {
    let Some(target) = target else {
        return Ok(());
    };
    beyond_newest(target)?;
    if target > database_version {
        return Err(exit::usage(format!(
            "the database is at V{database_version}, below --target {target}; use `quota migrate \
             apply --target {target}`"
        )));
    }
    Ok(())
}

/// `--target` of either command: no higher than the newest embedded version.
fn beyond_newest(target: u32) -> Result<()> {
    let latest = embedded::latest_version();
    if target > latest {
        return Err(exit::usage(format!(
            "--target {target} is beyond the newest migration (V{latest})"
        )));
    }
    Ok(())
}

/// A terminate statement for the sessions in the way, with their real pids.
pub fn terminate_sql(pids: &[i32]) -> String {
    match pids {
        [] => "SELECT pg_terminate_backend(pid) with the blocker's pid from pg_stat_activity"
            .to_string(),
        [pid] => format!("SELECT pg_terminate_backend({pid})"),
        many => {
            let list: Vec<String> = many.iter().map(|p| p.to_string()).collect();
            format!(
                "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[{}]) AS pid",
                list.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_targets_above_the_database_are_usage_errors() {
        assert!(check_rollback(3, None).is_ok());
        assert!(check_rollback(3, Some(3)).is_ok());
        assert!(check_rollback(3, Some(0)).is_ok());
        let err = check_rollback(2, Some(3)).unwrap_err();
        assert_eq!(exit::kind_of(&err), exit::ExitKind::Usage);
        assert_eq!(
            err.to_string(),
            "the database is at V2, below --target 3; use `quota migrate apply --target 3`"
        );
        let err = check_rollback(3, Some(embedded::latest_version() + 2)).unwrap_err();
        assert_eq!(exit::kind_of(&err), exit::ExitKind::Usage);
        assert!(err.to_string().contains("beyond the newest migration"));
    }

    #[test]
    fn terminate_sql_names_the_pids() {
        assert_eq!(terminate_sql(&[4242]), "SELECT pg_terminate_backend(4242)");
        assert_eq!(
            terminate_sql(&[1, 2]),
            "SELECT pg_terminate_backend(pid) FROM unnest(ARRAY[1, 2]) AS pid"
        );
        assert!(!terminate_sql(&[]).contains("<pid>"));
    }
}
