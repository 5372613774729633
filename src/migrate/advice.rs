//! The `--target` rule of apply and rollback.
//!
//! One rule for `--target V` of apply and rollback. A version no migration
//! of this build has is a usage error (exit 2) for both. A target the
//! database is already past in the command's direction (apply --target
//! below the database's version, rollback --target above it) is already
//! met: nothing to do, exit 0, and a warning that names the database's
//! version and the command that goes there. Apply never removes a version
//! and rollback never installs one, so concurrent operators with different
//! targets never fail each other.

use anyhow::Result;

use super::embedded;
use crate::error;

/// `--target` of `migrate rollback`: a version this build has.
pub fn check_rollback(target: Option<u32>) -> Result<()> {
    target.map_or(Ok(()), beyond_newest)
}

/// The warning when the database is already past `--target` in the
/// direction of `command` (`apply` or `rollback`); `None` otherwise.
pub fn past_target(command: &str, database_version: u32, target: Option<u32>) -> Option<String> {
    let target = target?;
    match command {
        "apply" if database_version > target => Some(format!(
            "the database is at V{database_version}, above --target {target}: nothing to apply \
             (apply never removes a version); use `quota migrate rollback --target {target}`"
        )),
        "rollback" if database_version < target => Some(format!(
            "the database is at V{database_version}, below --target {target}: nothing to roll \
             back (rollback never installs a version); use `quota migrate apply --target {target}`"
        )),
        _ => None,
    }
}

/// `--target` of either command: no higher than the newest embedded version
/// (a usage error otherwise).
pub(crate) fn beyond_newest(target: u32) -> Result<()> {
    let latest = embedded::latest_version();
    if target > latest {
        return Err(error::usage(format!(
            "--target {target} is beyond the newest migration (V{latest})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_past_the_database_are_met_and_unknown_ones_are_usage_errors() {
        assert!(check_rollback(None).is_ok());
        assert!(check_rollback(Some(0)).is_ok());
        let err = check_rollback(Some(embedded::latest_version() + 2)).unwrap_err();
        assert_eq!(error::kind_of(&err), error::ExitKind::Usage);
        assert!(err.to_string().contains("beyond the newest migration"));
        assert_eq!(past_target("apply", 3, Some(3)), None);
        assert_eq!(past_target("rollback", 3, Some(3)), None);
        assert_eq!(past_target("apply", 3, None), None);
        assert!(past_target("apply", 3, Some(1))
            .unwrap()
            .ends_with("use `quota migrate rollback --target 1`"));
        assert!(past_target("rollback", 2, Some(3))
            .unwrap()
            .ends_with("use `quota migrate apply --target 3`"));
    }
}
