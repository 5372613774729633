//! `error` is a leaf: it words failures from the facts it is given and never
//! looks anything up. These tests read its source and fail when a file of
//! `src/error/` reaches into the rest of the crate (`db`, `sql`, `migrate`,
//! `checks`, `load`, `contract`, …) or talks to the database; the one
//! exception is `names` (quoting, quota's table names), itself a leaf.

use std::path::{Path, PathBuf};

/// What `error/` may use of the crate besides itself.
const ALLOWED: &[&str] = &["error", "names"];

/// Code that talks to a database (or holds a connection to one).
const QUERYING: &[&str] = &[
    "query(",
    "query_as",
    "query_scalar",
    "raw_sql",
    "fetch_one",
    "fetch_all",
    "fetch_optional",
    ".execute(",
    "PgConnection",
    "PgPool",
    "Session",
    "async fn",
    ".await",
];

fn source(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir)
}

/// Every `.rs` file under `dir` but this one, with its code lines (comments
/// may name other modules).
fn code_lines(dir: &Path) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("reading src/error")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(code_lines(&path));
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "leaf.rs" || !name.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("reading a source file");
        for (i, line) in text.lines().enumerate() {
            if !line.trim_start().starts_with("//") {
                out.push((name.clone(), i + 1, line.to_string()));
            }
        }
    }
    out
}

/// The crate modules a line names: `crate::x::…` and `crate::{x, y::…}`.
fn crate_modules(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group.split(',').collect()
            }
            None => vec![rest],
        };
        for name in names {
            let first: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !first.is_empty() {
                found.push(first);
            }
        }
    }
    found
}

#[test]
fn error_uses_nothing_of_the_crate_but_itself_and_names() {
    let mut offending = Vec::new();
    for (file, n, line) in code_lines(&source("error")) {
        for module in crate_modules(&line) {
            if !ALLOWED.contains(&module.as_str()) {
                offending.push(format!(
                    "src/error/{file}:{n}: crate::{module}: {}",
                    line.trim()
                ));
            }
        }
        if line.contains("super::super") {
            offending.push(format!("src/error/{file}:{n}: {}", line.trim()));
        }
    }
    assert!(
        offending.is_empty(),
        "error/ must be a leaf (the domain looks facts up and passes them in):\n{}",
        offending.join("\n")
    );
}

#[test]
fn error_never_queries_the_database() {
    let offending: Vec<String> = code_lines(&source("error"))
        .into_iter()
        .filter(|(_, _, line)| QUERYING.iter().any(|q| line.contains(q)))
        .map(|(file, n, line)| format!("src/error/{file}:{n}: {}", line.trim()))
        .collect();
    assert!(
        offending.is_empty(),
        "error/ words failures and never queries:\n{}",
        offending.join("\n")
    );
}

#[test]
fn names_is_a_leaf_too() {
    let text = std::fs::read_to_string(source("names.rs")).expect("reading src/names.rs");
    let used: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(crate_modules)
        .collect();
    assert!(used.is_empty(), "src/names.rs uses {used:?}");
}

#[test]
fn the_scan_sees_grouped_and_nested_paths() {
    assert_eq!(
        crate_modules("use crate::{db::quote_ident, error, sql};"),
        ["db", "error", "sql"]
    );
    assert_eq!(
        crate_modules("    crate::migrate::embedded::HISTORY_TABLE,"),
        ["migrate"]
    );
    assert!(crate_modules("use super::cause;").is_empty());
}
