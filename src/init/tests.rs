//! The guess on catalogs built by hand (no server: `cargo test --lib`), and
//! the rendered text parsed back with the `toml` crate.

use super::guess::{guess, Counter, Kind, Limit};
use super::render::{render, string};
use super::{auth_users, Catalog, Column, Key, KeyKind, Rel};

fn rel(name: &str) -> Rel {
    let (schema, name) = name.split_once('.').unwrap();
    Rel {
        schema: schema.into(),
        name: name.into(),
    }
}

#[derive(Default)]
struct Build(Catalog);

impl Build {
    fn table(mut self, table: &str, columns: &[(&str, &str)]) -> Self {
        for (name, type_name) in columns {
            self.0.columns.push(Column {
                rel: rel(table),
                name: name.to_string(),
                type_name: type_name.to_string(),
            });
        }
        self
    }

    fn key(mut self, table: &str, column: &str, kind: KeyKind) -> Self {
        self.0.keys.push(Key {
            rel: rel(table),
            column: column.into(),
            kind,
        });
        self
    }

    fn pk(self, table: &str, column: &str) -> Self {
        self.key(table, column, KeyKind::Primary)
    }

    fn fk(self, table: &str, column: &str, to: &str, to_column: &str) -> Self {
        self.key(table, column, KeyKind::Foreign(rel(to), to_column.into()))
    }
}

fn seed() -> Catalog {
    Build::default()
        .table(
            "public.users",
            &[
                ("id", "uuid"),
                ("plan", "text"),
                ("usage_this_month", "int4"),
                ("plan_limits_scrapes", "int4"),
                ("subscription_tier", "text"),
            ],
        )
        .pk("public.users", "id")
        .table(
            "public.user_usage",
            &[("user_id", "uuid"), ("clips_this_month", "int4")],
        )
        .pk("public.user_usage", "user_id")
        .fk("public.user_usage", "user_id", "public.users", "id")
        .table("public.clips", &[("id", "int8"), ("user_id", "uuid")])
        .pk("public.clips", "id")
        .fk("public.clips", "user_id", "public.users", "id")
        .0
}

fn parse(text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{text}"))
}

#[test]
fn the_seed_schema_is_the_default_mapping() {
    let g = guess(&seed());
    let subject = g.subject.as_ref().unwrap();
    assert_eq!(subject.rel, rel("public.users"));
    assert_eq!(subject.tier.as_deref(), Some("subscription_tier"));
    assert_eq!(subject.other_tiers, ["plan"]);
    let names: Vec<&str> = g.meters.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["scrapes", "clips"]);
    assert!(
        matches!(&g.meters[0].kind, Kind::Rpc { function } if function == "public.increment_usage_if_allowed")
    );
    assert!(matches!(&g.meters[0].limit, Limit::Column(c) if c == "plan_limits_scrapes"));
    assert!(matches!(&g.meters[1].limit, Limit::Tiers { tiers, .. } if tiers.len() == 2));
    let file = parse(&render(&g));
    assert_eq!(
        file["meters"]["clips"]["counter"].as_str(),
        Some("public.user_usage.clips_this_month")
    );
}

#[test]
fn profiles_beside_auth_users_beats_users() {
    let mut catalog = seed();
    catalog = Build(catalog)
        .fk("public.users", "id", "auth.users", "id")
        .table(
            "public.profiles",
            &[("id", "uuid"), ("tier", "text"), ("credits", "int8")],
        )
        .pk("public.profiles", "id")
        .fk("public.profiles", "id", "auth.users", "id")
        .0;
    let g = guess(&catalog);
    assert_eq!(g.subject.unwrap().rel, rel("public.profiles"));
    assert_eq!(g.considered[0].rel, rel("public.users"));
    assert_eq!(g.meters.len(), 1);
    assert_eq!(g.meters[0].counter, Counter::OnSubject("credits".into()));
    assert_eq!(g.meters[0].period.as_ref().unwrap().0, "none");
    assert!(matches!(g.meters[0].limit, Limit::Todo));
    assert_eq!(auth_users(), rel("auth.users"));
}

#[test]
fn a_limit_named_for_something_else_is_not_paired() {
    let catalog = Build::default()
        .table(
            "public.accounts",
            &[
                ("id", "uuid"),
                ("exports_count", "int4"),
                ("max_storage", "int8"),
            ],
        )
        .pk("public.accounts", "id")
        .0;
    let g = guess(&catalog);
    assert_eq!(g.meters[0].name, "exports");
    assert!(matches!(g.meters[0].limit, Limit::Todo));
    assert!(g.meters[0].period.is_none());
    let text = render(&g);
    parse(&text);
    assert!(text.contains("# TODO: the period"), "{text}");
    assert!(text.contains("# TODO: this meter's limit"), "{text}");
}

#[test]
fn no_subject_leaves_a_file_of_todos() {
    let g = guess(&Catalog::default());
    assert!(g.subject.is_none());
    let text = render(&g);
    let file = parse(&text);
    assert!(file["subject"].as_table().unwrap().is_empty(), "{text}");
    assert!(super::render::todos(&text) >= 2, "{text}");
}

#[test]
fn names_with_dots_are_left_out_and_said_so() {
    let catalog = Build::default()
        .table("public.my.users", &[("id", "uuid")])
        .pk("public.my.users", "id")
        .0;
    let g = guess(&catalog);
    assert!(g.subject.is_none());
    assert!(g.notes[0].contains("public.my.users.id"), "{:?}", g.notes);
}

#[test]
fn odd_names_stay_valid_toml_in_values_and_comments() {
    let odd = "Us\"e\\rs\n\t\u{7}\u{7f}\u{85} é 😀";
    let catalog = Build::default()
        .table(
            &format!("public.{odd}"),
            &[("id", "uuid"), ("credits", "int8"), ("tier", "text")],
        )
        .pk(&format!("public.{odd}"), "id")
        .fk(&format!("public.{odd}"), "id", "auth.users", "id")
        .0;
    let text = render(&guess(&catalog));
    let file = parse(&text);
    assert_eq!(
        file["subject"]["table"].as_str(),
        Some(format!("public.{odd}").as_str())
    );
    assert!(text.lines().all(|l| !l.contains('\u{7}')), "{text}");
}

#[test]
fn every_character_round_trips_through_a_toml_string() {
    let all: String = (0u32..0x800)
        .chain([0xFFFD, 0x1F600, 0x10FFFF])
        .filter_map(char::from_u32)
        .collect();
    let file = parse(&format!("k = {}", string(&all)));
    assert_eq!(file["k"].as_str(), Some(all.as_str()));
}

#[test]
fn two_meters_never_share_a_function_or_a_name() {
    let catalog = Build::default()
        .table(
            "public.users",
            &[
                ("id", "uuid"),
                ("usage_this_month", "int4"),
                ("usage_today", "int4"),
            ],
        )
        .pk("public.users", "id")
        .0;
    let g = guess(&catalog);
    let names: Vec<&str> = g.meters.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["usage", "usage_2"]);
    let functions: Vec<String> = g
        .meters
        .iter()
        .map(|m| match &m.kind {
            Kind::Rpc { function } => function.clone(),
            Kind::Trigger { .. } => unreachable!(),
        })
        .collect();
    assert_eq!(
        functions,
        [
            "public.increment_usage_if_allowed",
            "public.increment_usage_2_if_allowed"
        ]
    );
    let file = parse(&render(&g));
    assert_eq!(file["meters"]["usage_2"]["period"].as_str(), Some("day"));
}

#[test]
fn a_catalog_of_thousands_of_tables_is_guessed() {
    // 2000 tables of 10 columns, each with a uuid key referencing
    // auth.users and rows naming the one before: every table is a
    // candidate and every other table is looked at from each.
    let mut b = Build::default();
    for i in 0..2000 {
        let t = format!("public.t{i:04}");
        let cols: Vec<(String, &str)> = [("id", "uuid"), ("owner", "uuid"), ("n_count", "int4")]
            .into_iter()
            .map(|(c, ty)| (c.to_string(), ty))
            .chain((0..7).map(|j| (format!("c{j}"), "text")))
            .collect();
        let cols: Vec<(&str, &str)> = cols.iter().map(|(c, t)| (c.as_str(), *t)).collect();
        b = b
            .table(&t, &cols)
            .pk(&t, "id")
            .fk(&t, "id", "auth.users", "id");
        if i > 0 {
            b = b.fk(&t, "owner", &format!("public.t{:04}", i - 1), "id");
        }
    }
    let g = guess(&b.0);
    assert!(g.subject.is_some());
    assert_eq!(g.considered.len(), 1999);
    assert_eq!(g.meters.len(), 2000);
    parse(&render(&g));
}
