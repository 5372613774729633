//! Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`) a throwaway
//! cluster is started from.

use anyhow::{anyhow, bail, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NO_BINARIES: &str = "no PostgreSQL server binaries found (initdb, pg_ctl): install them, \
     e.g. `apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql`, \
     or set QUOTA_PG_BINDIR";

/// `QUOTA_PG_BINDIR`, then `pg_config --bindir`, then `initdb` on `PATH`,
/// then the newest Debian-style `/usr/lib/postgresql/*/bin`.
pub(super) fn find() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("QUOTA_PG_BINDIR").filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
        bail!(
            "QUOTA_PG_BINDIR={} does not contain initdb and pg_ctl: point it at the \
             PostgreSQL server `bin` directory or unset it",
            dir.display()
        );
    }
    bindir_from_pg_config()
        .or_else(bindir_from_path)
        .or_else(newest_debian_bindir)
        .ok_or_else(|| anyhow!(NO_BINARIES))
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

fn bindir_from_pg_config() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // Client-only installs have pg_config but no server binaries.
    has_server_binaries(&dir).then_some(dir)
}

fn bindir_from_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        // Resolve symlinks like /usr/local/bin/initdb so pg_ctl and the
        // server come from the same installation.
        let initdb = fs::canonicalize(dir.join("initdb")).ok()?;
        let bindir = initdb.parent()?.to_path_buf();
        has_server_binaries(&bindir).then_some(bindir)
    })
}

fn newest_debian_bindir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = version_key(&entry.file_name().to_string_lossy())?;
            let bindir = entry.path().join("bin");
            has_server_binaries(&bindir).then_some((version, bindir))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bindir)| bindir)
}

/// "15" -> [15], "9.6" -> [9, 6]; numeric so 10 sorts after 9.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_versions_numerically() {
        assert!(version_key("10") > version_key("9.6"));
        assert_eq!(version_key("main"), None);
    }
}
