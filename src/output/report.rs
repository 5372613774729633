//! How `quota report` looks.

use super::{or_missing, table, Report};
use crate::monitor::{AtLimitReport, NearLimitReport, Summary};

impl Report for AtLimitReport {
    fn to_table(&self) -> String {
        if self.users.is_empty() {
            return "no user is at a limit this month".to_string();
        }
        let mut t = table(&["user", "tier", "counter", "used", "limit"]);
        for u in &self.users {
            t.add_row(vec![
                u.user_id.clone(),
                or_missing(u.tier.as_ref()),
                u.counter.clone(),
                u.used.to_string(),
                u.limit
                    .map_or_else(|| "none (admits nothing)".to_string(), |l| l.to_string()),
            ]);
        }
        format!(
            "{t}\n{} at a limit this month",
            users(self.distinct_users())
        )
    }
}

impl Report for NearLimitReport {
    fn to_table(&self) -> String {
        if self.users.is_empty() {
            return format!(
                "no free-tier user is at {:.0}% or more of the clip limit",
                self.threshold * 100.0
            );
        }
        let mut t = table(&["user", "tier", "clips used", "clip limit"]);
        for u in &self.users {
            t.add_row(vec![
                u.user_id.clone(),
                or_missing(u.tier.as_ref()),
                u.used.to_string(),
                or_missing(u.limit),
            ]);
        }
        format!(
            "{t}\n{} on the free tier at {:.0}% or more of the clip limit",
            users(self.users.len()),
            self.threshold * 100.0
        )
    }
}

impl Report for Summary {
    fn to_table(&self) -> String {
        let mut t = table(&[
            "tier",
            "clip limit",
            "users",
            "at scrape limit",
            "at clip limit",
            "near clip limit",
        ]);
        for r in &self.tiers {
            t.add_row(vec![
                or_missing(r.tier.as_ref()),
                or_missing(r.clip_limit),
                r.users.to_string(),
                r.at_scrape_limit.to_string(),
                r.at_clip_limit.to_string(),
                r.near_clip_limit.to_string(),
            ]);
        }
        t.add_row(vec![
            "all".to_string(),
            String::new(),
            self.users.to_string(),
            self.at_scrape_limit.to_string(),
            self.at_clip_limit.to_string(),
            self.near_clip_limit.to_string(),
        ]);
        format!(
            "{t}\nnear = free tier at {:.0}% or more of the clip limit",
            self.threshold * 100.0
        )
    }
}

/// "1 user", "2 users".
fn users(n: usize) -> String {
    if n == 1 {
        "1 user".to_string()
    } else {
        format!("{n} users")
    }
}
