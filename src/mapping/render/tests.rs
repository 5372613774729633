use super::*;
use crate::mapping::{file, IntType};

fn meters(text: &str) -> Vec<Meter> {
    file::parse(text)
        .unwrap()
        .into_iter()
        .map(|declared| Meter {
            declared,
            counter_type: IntType::Bigint,
            limit_type: IntType::Integer,
        })
        .collect()
}

const EVERY_SHAPE: &str = r#"
[subject]
table = "App.Users"
key = "Id"
tier = "Plan"
members = { table = "App.Members", subject = "team", user = "who" }

[meters.row_column]
kind = "rpc"
function = "App.Row Column"
counter = "used"
limit = "limit"

[meters.row_tiers]
kind = "rpc"
function = "public.row_tiers"
counter = "used2"
limits = { free = 1 }
period = "day"

[meters.table_tiers]
kind = "rpc"
function = "public.table_tiers"
counter = "public.usage.n"
counter_key = "who"
limits = { free = 1, "big o'ne" = 2 }
period = "none"

[meters.trigger_row]
kind = "trigger"
per = "row"
on = "public.events"
counter = "events"
limit = "limit"

[meters.trigger_table]
kind = "trigger"
on = "public.documents"
subject_column = "owner"
amount_column = "pages"
counter = "public.pages.n"
counter_key = "owner"
limits = { free = 1 }
"#;

/// The body of each function a meter installs, between its dollar quotes.
fn bodies(install: &str) -> Vec<&str> {
    install.split("$quota_meter$").skip(1).step_by(2).collect()
}

#[test]
fn every_shape_renders_static_sql_from_quoted_identifiers() {
    for meter in meters(EVERY_SHAPE) {
        let r = render(&meter).unwrap();
        let all = [
            &r.install,
            &r.revert_code,
            &r.revert_data,
            &r.queries.usage,
            &r.queries.limit,
            &r.queries.take_back,
            &r.queries.set_usage,
        ];
        for text in all {
            assert!(
                !text.contains('{') && !text.contains('}'),
                "unfilled placeholder in {}:\n{text}",
                meter.name()
            );
        }
        let body = bodies(&r.install);
        assert_eq!(body.len(), 1, "{}", meter.name());
        assert!(
            !body[0].to_uppercase().contains("EXECUTE"),
            "EXECUTE in {}'s function",
            meter.name()
        );
        assert!(r.install.contains("SET search_path = pg_catalog, pg_temp"));
        assert!(r.install.contains("SECURITY DEFINER"));
        // Names are always quoted: the reserved word and the capitals.
        assert!(
            !r.install.contains(".limit") && !r.install.contains("App.Users"),
            "{}",
            r.install
        );
    }
    let m = meters(EVERY_SHAPE);
    let first = render(&m[0]).unwrap();
    assert!(first.install.contains("CREATE FUNCTION \"App\".\"Row Column\"(p_subject pg_catalog.uuid, p_amount pg_catalog.int4 DEFAULT 1)"));
    assert!(first.install.contains("FROM \"App\".\"Members\" AS m"));
    let tiers = render(&m[2]).unwrap();
    assert!(
        tiers.install.contains("'big o''ne', 2"),
        "{}",
        tiers.install
    );
}

#[test]
fn the_checksum_follows_the_mapping() {
    let m = meters(EVERY_SHAPE);
    let a = render(&m[1]).unwrap();
    let mut changed = m[1].clone();
    changed.declared.period = Period::Month;
    assert_ne!(a.checksum, render(&changed).unwrap().checksum);
    assert_eq!(a.checksum, render(&m[1]).unwrap().checksum);
    assert_eq!(checksum("quota"), checksum("quota"));
    assert_ne!(checksum("quota"), checksum("quotb"));
}

#[test]
fn a_dollar_in_a_name_is_refused_before_rendering() {
    let text = EVERY_SHAPE.replace("counter = \"used\"", "counter = \"x$quota_meter$y\"");
    let problems = file::parse(&text).unwrap_err().join("\n");
    assert!(
        problems.contains("meters.row_column.counter") && problems.contains("$"),
        "{problems}"
    );
}

#[test]
fn fill_refuses_unknown_placeholders() {
    assert!(fill("a {b} c", &[]).is_err());
    assert_eq!(fill("a {b} c", &[("b", "x".into())]).unwrap(), "a x c");
    assert!(fill("a {B} c", &[]).is_err());
}
