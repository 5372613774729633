//! The GitHub Actions YAML quota ships (`.github/workflows/release.yml`)
//! and documents (docs/ci.md) parses, and keeps what docs/ci.md promises:
//! `.ci/check-workflows` (Python with PyYAML, which `.ci/run` installs)
//! says what it checks.

use std::process::Command;

#[test]
fn the_shipped_and_documented_workflows_parse_and_keep_their_promises() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/.ci/check-workflows"))
        .output()
        .expect("run python3 .ci/check-workflows (Debian: apt-get install python3-yaml)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
