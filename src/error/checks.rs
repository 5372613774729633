//! What the database's answers mean to the checks.

use super::{cause, sqlstate};

/// How the RPC answered a call for another user's id.
pub enum GuardAnswer {
    /// The guard refused it: `insufficient_privilege` raised by the body.
    Refused,
    /// Anything else: its SQLSTATE (empty when none) and message.
    Other { code: String, message: String },
}

/// Tells the guard's refusal from everything else. A refused EXECUTE is
/// also `insufficient_privilege`, but then the caller never reached the
/// guard, so only a refusal from inside the function counts.
pub fn guard_refusal(e: &sqlx::Error) -> GuardAnswer {
    let code = cause::sqlstate(e).unwrap_or_default();
    let message = e
        .as_database_error()
        .map(|d| d.message().to_string())
        .unwrap_or_else(|| e.to_string());
    if code == sqlstate::INSUFFICIENT_PRIVILEGE
        && !message.starts_with("permission denied for function")
    {
        GuardAnswer::Refused
    } else {
        GuardAnswer::Other { code, message }
    }
}

/// `quota verify` on a database where nothing of quota is installed: exit
/// 4 (a precondition, as the README's exit codes say), after the report.
pub fn not_installed() -> anyhow::Error {
    super::precondition(
        "quota is not installed in this database (no version recorded, neither \
         public.increment_usage_if_allowed nor public.enforce_clip_limit exists): run `quota \
         check schema`, then `quota migrate apply`",
    )
}
