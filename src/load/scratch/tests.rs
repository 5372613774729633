use super::*;

#[test]
fn quotes_columns_always() {
    assert_eq!(quoted_column("usage"), "\"usage\"");
    assert_eq!(quoted_column("a\"b"), "\"a\"\"b\"");
}

#[test]
fn placeholders_by_type() {
    assert_eq!(
        placeholder("text", "S", "b", "text").unwrap(),
        "('quota-scratch-' || $1::text)::text"
    );
    assert_eq!(
        placeholder("integer", "N", "b", "int4").unwrap(),
        "0::integer"
    );
    assert_eq!(
        placeholder("uuid", "U", "b", "uuid").unwrap(),
        "gen_random_uuid()"
    );
    assert!(placeholder("point", "G", "b", "point").is_none());
}

#[test]
fn signup_values_by_name_and_type() {
    assert_eq!(
        signup_value("email", "character varying(255)", "S", "varchar").unwrap(),
        "('quota-scratch-' || $1::text || '@quota.invalid')::character varying(255)"
    );
    assert_eq!(
        signup_value("raw_user_meta_data", "jsonb", "U", "jsonb").unwrap(),
        "'{}'::jsonb"
    );
    assert_eq!(
        signup_value("aud", "character varying(255)", "S", "varchar").unwrap(),
        "'authenticated'::character varying(255)"
    );
    assert!(signup_value("email", "integer", "N", "int4").is_none());
    assert!(signup_value("raw_app_meta_data", "text", "S", "text").is_none());
    assert_eq!(
        scratch_email(Uuid::nil()),
        "quota-scratch-00000000-0000-0000-0000-000000000000@quota.invalid"
    );
}

#[test]
fn extras_fill_templates() {
    let e = Extras {
        columns: vec!["\"url\"".into()],
        values: vec!["'x'".into()],
    };
    assert_eq!(
        e.fill("INSERT INTO t (a{extra_columns}) VALUES ($1{extra_values})"),
        "INSERT INTO t (a, \"url\") VALUES ($1, 'x')"
    );
    assert_eq!(Extras::default().fill("(a{extra_columns})"), "(a)");
}
