//! Who may insert a clip for whom. The clip trigger charges `NEW.user_id`,
//! so a caller who may insert a clip with another user's id spends that
//! user's quota: an INSERT policy whose WITH CHECK does not tie `user_id`
//! to the caller (the dashboard's template `WITH CHECK (true)`), row level
//! security off or out of the role's way, or an owner-rights view over
//! `clips` (at any depth) that API roles may insert through.

use anyhow::{Context, Result};
use sqlx::PgConnection;

use super::super::Findings;
use super::views::{definer_views, INSERTS};
use super::writes::grantees;
use crate::db::quote_ident;
use crate::{db, sql};

/// The condition that ties a new clip to the caller, in hints.
pub(super) const OWN_CLIPS: &str = "user_id = (select auth.uid())";

/// One row of `check_clip_inserts.sql`.
#[derive(sqlx::FromRow)]
struct InsertRow {
    role: String,
    privileged: bool,
    rls_bypass: Option<String>,
    permissive: Vec<String>,
    permissive_checks: Vec<String>,
    restrictive_checks: Vec<String>,
    grantees: Vec<String>,
    public_holds: bool,
}

/// `expr` without the parentheses that wrap all of it.
fn unwrap_parens(mut expr: &str) -> &str {
    loop {
        let t = expr.trim();
        if !(t.starts_with('(') && t.ends_with(')')) {
            return t;
        }
        // The first '(' must close at the very end.
        let mut depth = 0;
        let mut closes_at_end = false;
        for (i, ch) in t.char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        closes_at_end = i == t.len() - 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        if !closes_at_end {
            return t;
        }
        expr = &t[1..t.len() - 1];
    }
}

/// The conjuncts of a deparsed expression: split at AND outside parentheses
/// and quotes.
fn conjuncts(expr: &str) -> Vec<&str> {
    let expr = unwrap_parens(expr);
    let bytes = expr.as_bytes();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut parts = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b' ' if !quoted && depth == 0 && expr[i..].starts_with(" AND ") => {
                parts.push(&expr[start..i]);
                start = i + 5;
                i += 5;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&expr[start..]);
    parts
}

/// Whether one conjunct says `user_id = <the caller's id>`: auth.uid() or
/// the JWT's sub, either side, in a scalar sub-select or cast.
fn is_own_row(conjunct: &str) -> bool {
    let mut s: String = conjunct
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect();
    for noise in ["::uuid", "::text", "::charactervarying"] {
        s = s.replace(noise, "");
    }
    let Some((left, right)) = s.split_once('=') else {
        return false;
    };
    if right.contains('=') || left.ends_with(['<', '>', '!']) {
        return false;
    }
    let column = |side: &str| side == "user_id" || side == "clips.user_id";
    let caller = |side: &str| {
        let side = side.strip_prefix("select").unwrap_or(side);
        ["auth.uid", "auth.jwt->>'sub'"].iter().any(|c| {
            side.strip_prefix(c)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("as"))
        })
    };
    (column(left) && caller(right)) || (caller(left) && column(right))
}

/// Whether a policy's check ties `user_id` to the caller: one of its
/// top-level conjuncts does.
pub(super) fn ties_user_to_caller(expr: &str) -> bool {
    conjuncts(expr).into_iter().any(is_own_row)
}

/// Which API roles may insert a clip for another user, and through what.
pub(super) async fn clip_inserts(
    conn: &mut PgConnection,
    roles: &[String],
    f: &mut Findings,
) -> Result<()> {
    let rows: Vec<InsertRow> = db::query_as(sql::CHECK_CLIP_INSERTS)
        .bind(roles)
        .fetch_all(&mut *conn)
        .await
        .context("reading who may insert into public.clips and the policies that apply")?;
    // (policy, its check, the roles it lets insert for anyone)
    let mut loose: Vec<(String, String, Vec<String>)> = Vec::new();
    for r in rows.iter().filter(|r| r.privileged) {
        let consequence = "so they can insert clips with another user's user_id and spend that \
                           user's clip quota (the trigger charges NEW.user_id)";
        if let Some(reason) = &r.rls_bypass {
            let hint = if reason.contains("disabled") {
                // An own-row policy for anyone already there: enabling is enough.
                let own = rows
                    .iter()
                    .flat_map(|r| &r.permissive_checks)
                    .any(|c| ties_user_to_caller(c));
                if own {
                    "`ALTER TABLE public.clips ENABLE ROW LEVEL SECURITY`".to_string()
                } else {
                    format!(
                        "`ALTER TABLE public.clips ENABLE ROW LEVEL SECURITY; CREATE POLICY \"own clips only\" \
                         ON public.clips FOR INSERT TO authenticated WITH CHECK ({OWN_CLIPS})`"
                    )
                }
            } else {
                format!(
                    "`REVOKE INSERT ON public.clips FROM {}`",
                    grantees(&r.grantees, r.public_holds)
                )
            };
            f.fail(
                format!(
                    "{} may insert into public.clips ({reason}), {consequence}",
                    r.role
                ),
                hint,
            );
            continue;
        }
        if r.restrictive_checks.iter().any(|c| ties_user_to_caller(c)) {
            continue;
        }
        for (name, check) in r.permissive.iter().zip(&r.permissive_checks) {
            if ties_user_to_caller(check) {
                continue;
            }
            match loose.iter_mut().find(|(n, _, _)| n == name) {
                Some((_, _, who)) => who.push(r.role.clone()),
                None => loose.push((name.clone(), check.clone(), vec![r.role.clone()])),
            }
        }
    }
    for (name, check, who) in loose {
        f.fail(
            format!(
                "{} may insert clips for any user: the policy {} on public.clips checks new rows \
                 with {check}, which does not tie user_id to the caller (auth.uid()), so they can \
                 spend another user's clip quota (the trigger charges NEW.user_id)",
                who.join(", "),
                quote_ident(&name)
            ),
            format!(
                "`ALTER POLICY {} ON public.clips WITH CHECK ({OWN_CLIPS})`",
                quote_ident(&name)
            ),
        );
    }
    definer_views(
        conn,
        roles,
        &["public.clips"],
        INSERTS,
        ", so they can insert clips for any user and spend that user's clip quota",
        f,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_own_row_check_is_recognised_in_the_forms_postgres_deparses() {
        for own in [
            "(auth.uid() = user_id)",
            "(user_id = auth.uid())",
            "(user_id = ( SELECT auth.uid() AS uid))",
            "((user_id)::text = (auth.jwt() ->> 'sub'::text))",
            "((url <> ''::text) AND (auth.uid() = user_id))",
            "((a OR b) AND (user_id = ( SELECT auth.uid() AS uid)))",
        ] {
            assert!(ties_user_to_caller(own), "{own}");
        }
        for loose in [
            "true",
            "(auth.uid() IS NOT NULL)",
            "((auth.uid() = user_id) OR (title = 'x'::text))",
            "(user_id <> auth.uid())",
            "(auth.role() = 'authenticated'::text)",
            "(user_id = user_id)",
            "(user_id = auth.uid_of_anyone())",
        ] {
            assert!(!ties_user_to_caller(loose), "{loose}");
        }
    }
}
