//! How `quota call`, `user`, `users` and `reset-user` look.

use super::{or_missing, table, Report};
use crate::users::call::CallReport;
use crate::users::list::UserList;
use crate::users::reset::ResetReport;
use crate::users::view::UserView;

impl Report for CallReport {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "allowed",
            "new_usage",
            "effective_limit",
            "plan",
            "subscription_status",
            "committed",
        ]);
        t.add_row(vec![
            or_missing(self.allowed),
            or_missing(self.new_usage),
            or_missing(self.effective_limit),
            or_missing(self.plan.as_ref()),
            or_missing(self.subscription_status.as_ref()),
            self.committed.to_string(),
        ]);
        let note = if self.committed && self.allowed == Some(true) {
            "committed: the call counted"
        } else if self.committed {
            "committed, but not allowed: nothing counted"
        } else {
            "rolled back: nothing changed (use --commit to keep it)"
        };
        format!("{t}\n{note}")
    }
}

impl Report for UserView {
    fn to_table(&self) -> String {
        let mut t = table(&["field", "value"]);
        let rows: Vec<(&str, String)> = vec![
            ("id", self.user_id.to_string()),
            ("plan", or_missing(self.plan.as_ref())),
            (
                "subscription_status",
                or_missing(self.subscription_status.as_ref()),
            ),
            (
                "subscription_tier",
                self.subscription_tier.as_deref().map_or_else(
                    || super::MISSING.to_string(),
                    |t| super::limits::show_tier(Some(t)),
                ),
            ),
            (
                "usage / limit",
                format!(
                    "{} / {}",
                    self.usage_this_month,
                    or_missing(self.plan_limits_scrapes)
                ),
            ),
            ("limit_reached", self.limit_reached.to_string()),
            (
                "usage_period_start",
                or_missing(self.usage_period_start.as_ref()),
            ),
            (
                "clips used / clip limit",
                format!(
                    "{} / {}",
                    self.clips_this_month,
                    or_missing(self.clip_limit)
                ),
            ),
            ("clip_limit_reached", or_missing(self.clip_limit_reached)),
            (
                "clips_period_start",
                or_missing(self.clips_period_start.as_ref()),
            ),
            ("current period (UTC)", self.period.clone()),
        ];
        for (k, v) in rows {
            t.add_row(vec![k.to_string(), v]);
        }
        let notes: Vec<String> = self.notes.iter().map(|n| format!("note: {n}")).collect();
        if notes.is_empty() {
            t.to_string()
        } else {
            format!("{t}\n{}", notes.join("\n"))
        }
    }
}

impl Report for UserList {
    fn to_table(&self) -> String {
        if self.users.is_empty() {
            return "no users".to_string();
        }
        let mut t = table(&["id", "plan", "usage_this_month", "plan_limits_scrapes"]);
        for u in &self.users {
            t.add_row(vec![
                u.user_id.clone(),
                or_missing(u.plan.as_ref()),
                u.usage_this_month.to_string(),
                or_missing(u.plan_limits_scrapes),
            ]);
        }
        t.to_string()
    }
}

impl Report for ResetReport {
    fn to_table(&self) -> String {
        let mut t = table(&["counter", "before", "after"]);
        let (b, a) = (&self.before, &self.after);
        t.add_row(vec![
            "usage_this_month".to_string(),
            counter(b.usage_this_month, b.usage_stored, &b.usage_period_start),
            counter(a.usage_this_month, a.usage_stored, &a.usage_period_start),
        ]);
        t.add_row(vec![
            "clips_this_month".to_string(),
            counter(b.clips_this_month, b.clips_stored, &b.clips_period_start),
            counter(a.clips_this_month, a.clips_stored, &a.clips_period_start),
        ]);
        let note = match (self.changed, self.to) {
            (false, _) => "nothing to change".to_string(),
            (true, 0) => "reset".to_string(),
            (true, n) => format!("set to {n}"),
        };
        format!("{t}\n{note}: user {}", self.user_id)
    }
}

/// A counter as the function sees it this month (as `user` shows it), with
/// its period; a stale stored value only as a detail.
fn counter(value: Option<i64>, stored: Option<i64>, period: &Option<String>) -> String {
    match (value, stored, period) {
        (None, _, _) => super::MISSING.to_string(),
        (Some(n), Some(s), Some(p)) => format!("{n} ({s} stored for period {p})"),
        (Some(n), _, Some(p)) => format!("{n} (period {p})"),
        (Some(n), _, None) => n.to_string(),
    }
}
