//! What a column's or table's name suggests: a tier, a counter, a limit, a
//! period, the thing a meter counts. Names are matched ignoring case; the
//! file is written with them exactly as the catalog spells them.

/// Integer types a counter or a limit may have.
pub(crate) fn is_integer(type_name: &str) -> bool {
    matches!(type_name, "int4" | "int8")
}

/// Text types a tier column may have.
pub(crate) fn is_text(type_name: &str) -> bool {
    matches!(type_name, "text" | "varchar" | "bpchar" | "citext")
}

/// How much a column's name looks like a tier (higher is better), or
/// `None`: `tier` and `*_tier` before `plan` and `*_plan`, since a plan
/// column often holds a display name (`FREE`) while the tier is the key.
pub(crate) fn tier_rank(column: &str) -> Option<u8> {
    let c = column.to_ascii_lowercase();
    match c.as_str() {
        "tier" => Some(5),
        "subscription_tier" => Some(4),
        _ if c.ends_with("_tier") => Some(3),
        "plan" => Some(2),
        "subscription_plan" | "plan_name" | "plan_id" | "tier_name" => Some(1),
        _ => None,
    }
}

/// A limit: `*limit*` or `max_*`.
pub(crate) fn is_limit(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    c.contains("limit") || c.starts_with("max_")
}

/// A counter: `*_this_month`, `*_today`, `*_count`, `usage*`, `*_used`,
/// `credits*` (and not a limit).
pub(crate) fn is_counter(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    !is_limit(&c)
        && (c.ends_with("_this_month")
            || c.ends_with("_today")
            || c.ends_with("_this_day")
            || c.ends_with("_count")
            || c.starts_with("usage")
            || c.ends_with("_used")
            || c.starts_with("credits"))
}

/// An amount a trigger meter could charge instead of 1 per row.
pub(crate) fn is_amount(column: &str) -> bool {
    let c = column.to_ascii_lowercase();
    [
        "tokens", "amount", "cost", "pages", "credits", "units", "quantity",
    ]
    .iter()
    .any(|w| c == *w || c.ends_with(&format!("_{w}")) || c.starts_with(&format!("{w}_")))
}

/// A table named like a subject, with how much the name says (higher is
/// better): Supabase's documented `profiles` beside `auth.users` first.
pub(crate) fn subject_name_rank(table: &str) -> Option<i32> {
    match table.to_ascii_lowercase().as_str() {
        "profiles" => Some(25),
        "users" | "user_profiles" => Some(15),
        "accounts" | "teams" | "organizations" | "organisations" | "orgs" | "workspaces"
        | "tenants" => Some(15),
        _ => None,
    }
}

/// A table whose rows are users, for a member table's user column.
pub(crate) fn is_user_table(table: &str) -> bool {
    matches!(
        table.to_ascii_lowercase().as_str(),
        "users" | "profiles" | "user_profiles"
    )
}

/// The period a counter's (or its limit's) name suggests, and why.
pub(crate) fn period_of(name: &str) -> Option<(&'static str, &'static str)> {
    let c = name.to_ascii_lowercase();
    if c.contains("this_month") || c.contains("monthly") || c.contains("per_month") {
        Some(("month", "named like a monthly count"))
    } else if c.contains("today")
        || c.contains("daily")
        || c.contains("this_day")
        || c.contains("per_day")
    {
        Some(("day", "named like a daily count"))
    } else if c.contains("credits") || c.contains("lifetime") || c.contains("total") {
        Some((
            "none",
            "named like a lifetime count (credits, lifetime, total)",
        ))
    } else {
        None
    }
}

/// What a counter counts: its name without the period and counting words
/// (`api_calls_this_month` → `api_calls`, `usage_this_month` → `usage`).
pub(crate) fn counter_noun(column: &str) -> String {
    let mut c = column.to_ascii_lowercase();
    for prefix in ["monthly_", "daily_", "total_", "lifetime_"] {
        if let Some(rest) = c.strip_prefix(prefix) {
            c = rest.to_string();
        }
    }
    for suffix in [
        "_this_month",
        "_today",
        "_this_day",
        "_count",
        "_used",
        "_total",
        "_monthly",
        "_daily",
    ] {
        if let Some(rest) = c.strip_suffix(suffix) {
            c = rest.to_string();
        }
    }
    c
}

/// What a limit limits (`plan_limits_scrapes` → `scrapes`, `max_exports` →
/// `exports`, `credits_limit` → `credits`, `monthly_limit` → ``).
pub(crate) fn limit_noun(column: &str) -> String {
    let mut c = column.to_ascii_lowercase();
    for prefix in [
        "plan_limits_",
        "plan_limit_",
        "limits_",
        "limit_",
        "max_",
        "monthly_",
        "daily_",
    ] {
        if let Some(rest) = c.strip_prefix(prefix) {
            c = rest.to_string();
        }
    }
    for suffix in [
        "_limits",
        "_limit",
        "_per_month",
        "_per_day",
        "_monthly",
        "_daily",
    ] {
        if let Some(rest) = c.strip_suffix(suffix) {
            c = rest.to_string();
        }
    }
    if c == "limit" || c == "limits" {
        String::new()
    } else {
        c
    }
}

/// A noun that says nothing about what is counted.
pub(crate) fn is_generic(noun: &str) -> bool {
    matches!(noun, "" | "usage" | "count" | "used")
}

/// Two nouns for the same thing, singular or plural (`clip`, `clips`).
pub(crate) fn same_thing(a: &str, b: &str) -> bool {
    let stem = |s: &str| s.to_ascii_lowercase().trim_end_matches('s').to_string();
    !a.is_empty() && stem(a) == stem(b)
}

/// A meter name as a bare TOML key: lower case letters, digits and `_`.
pub(crate) fn meter_name(noun: &str) -> String {
    let mut out = String::new();
    for c in noun.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "usage".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nouns_of_the_seed_and_of_real_schemas() {
        assert_eq!(counter_noun("usage_this_month"), "usage");
        assert_eq!(counter_noun("api_calls_this_month"), "api_calls");
        assert_eq!(counter_noun("clips_this_month"), "clips");
        assert_eq!(counter_noun("credits_used"), "credits");
        assert_eq!(limit_noun("plan_limits_scrapes"), "scrapes");
        assert_eq!(limit_noun("max_exports"), "exports");
        assert_eq!(limit_noun("credits_limit"), "credits");
        assert_eq!(limit_noun("monthly_limit"), "");
        assert!(same_thing("clips", "clip"));
        assert!(!same_thing("", ""));
        assert_eq!(meter_name("API calls"), "api_calls");
        assert_eq!(meter_name("Ünï"), "n");
        assert_eq!(meter_name("--"), "usage");
    }

    #[test]
    fn kinds_of_columns() {
        assert!(
            is_counter("usage_this_month") && is_counter("credits") && is_counter("Docs_Count")
        );
        assert!(!is_counter("plan_limits_scrapes") && !is_counter("credits_limit"));
        assert!(is_limit("plan_limits_scrapes") && is_limit("max_exports"));
        assert!(tier_rank("subscription_tier") > tier_rank("plan"));
        assert_eq!(period_of("usage_this_month").unwrap().0, "month");
        assert_eq!(period_of("exports_today").unwrap().0, "day");
        assert_eq!(period_of("credits").unwrap().0, "none");
        assert!(period_of("docs_count").is_none());
        assert!(is_amount("tokens") && !is_amount("page_count") && is_amount("pages"));
    }
}
