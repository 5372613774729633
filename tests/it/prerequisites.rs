//! The README's prerequisites are exactly what the tests need: the
//! packages its `apt-get install` line names, the packages `.ci/run`
//! installs on a fresh machine and the programs the tests look for
//! (`common::prereq`) are the same set; each is installed here; and a
//! missing one fails its test naming the package, never a skip or a
//! bare "No such file or directory".

use std::collections::BTreeSet;

use crate::common::prereq::{self, Prerequisite};

const README: &str = include_str!("../../README.md");
const CI_RUN: &str = include_str!("../../.ci/run");

/// The packages of the README's `sudo apt-get install ...` line.
fn readme_packages() -> BTreeSet<String> {
    let lines: Vec<&str> = README
        .lines()
        .filter(|l| l.trim_start().starts_with("sudo apt-get install "))
        .collect();
    assert_eq!(lines.len(), 1, "one apt-get line in the README: {lines:?}");
    lines[0]
        .split_whitespace()
        .skip(3)
        .filter(|w| !w.starts_with('-'))
        .map(str::to_string)
        .collect()
}

/// The packages `.ci/run` adds to `need_apt` when their program is missing.
fn ci_packages() -> BTreeSet<String> {
    CI_RUN
        .split("need_apt+=(")
        .skip(1)
        .map(|rest| rest.split(')').next().unwrap().trim().to_string())
        .collect()
}

fn test_packages() -> BTreeSet<String> {
    prereq::ALL.iter().map(|p| p.package.to_string()).collect()
}

#[test]
fn readme_ci_and_tests_name_the_same_prerequisites() {
    let readme = readme_packages();
    assert_eq!(readme, ci_packages(), "README \"Install\" vs .ci/run");
    assert_eq!(
        readme,
        test_packages(),
        "README \"Install\" vs common::prereq"
    );
    for p in prereq::ALL {
        assert!(
            README.contains(&format!("| `{}` |", p.package)),
            "the README's table explains {}",
            p.package
        );
    }
}

#[test]
fn every_prerequisite_is_installed() {
    let external = std::env::var_os("QUOTA_TEST_DATABASE_URL").is_some();
    for p in prereq::ALL {
        if external && p.package == prereq::POSTGRESQL.package {
            continue; // an existing server: no throwaway clusters
        }
        assert!(p.find().is_some(), "{}", p.missing());
    }
}

#[test]
fn a_missing_prerequisite_fails_naming_its_package() {
    for program in ["quota-test-no-such-program", "/nonexistent/quota-test-tool"] {
        let missing = Prerequisite {
            program,
            package: "quota-test-package",
            needed_by: "this test",
            server_bindir: false,
        };
        assert!(missing.find().is_none());
        let panic = std::panic::catch_unwind(|| missing.path()).unwrap_err();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            message.contains(&format!("`{program}` is missing"))
                && message.contains("install the Debian/Ubuntu package quota-test-package")
                && message.contains("apt-get install quota-test-package"),
            "{message}"
        );
    }
}
