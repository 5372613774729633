use super::*;

const SPEC_EXAMPLE: &str = r#"
[subject]
table = "public.profiles"
key = "id"
tier = "tier"

[meters.scrapes]
kind = "rpc"
function = "public.increment_usage_if_allowed"
counter = "usage_this_month"
limit = "plan_limits_scrapes"
period = "month"

[meters.clips]
kind = "trigger"
on = "public.clips"
subject_column = "user_id"
amount_column = "tokens"
counter = "public.user_usage.clips_this_month"
counter_key = "user_id"
limits = { free = 50, pro = 1000 }
default_tier = "free"
period = "month"
"#;

#[test]
fn the_spec_example_parses() {
    let meters = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(meters.len(), 2);
    let clips = meters.iter().find(|m| m.name == "clips").unwrap();
    assert!(clips.counter.own_table);
    assert_eq!(clips.counter.table.to_string(), "public.user_usage");
    let scrapes = meters.iter().find(|m| m.name == "scrapes").unwrap();
    assert_eq!(scrapes.counter.table.to_string(), "public.profiles");
    assert_eq!(scrapes.counter.key, "id");
}

#[test]
fn every_problem_is_named_by_its_key() {
    let text = r#"
[meters.Bad]
kind = "rpc"
function = "nofunction"
counter = "a.b"
limits = { free = -1 }
period = "week"
"#;
    let problems = parse(text).unwrap_err().join("\n");
    for expected in [
        "meters.Bad: a meter's name",
        "meters.Bad.function: \"nofunction\" is not schema-qualified",
        "meters.Bad.counter: \"a.b\"",
        "meters.Bad.limits.free: -1 is negative",
        "meters.Bad.period: \"week\"",
    ] {
        assert!(problems.contains(expected), "{expected} not in {problems}");
    }
}

#[test]
fn unknown_keys_and_bad_toml_are_one_line() {
    let problems = parse("[meters.a]\nkind = \"rpc\"\nfuncion = \"x\"\n").unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("funcion"), "{problems:?}");
    assert!(!problems[0].contains('\n'));
    assert!(parse("[meters").is_err());
}
