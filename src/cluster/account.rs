//! Which user the server runs as: PostgreSQL refuses to run as root, so
//! under root the cluster is handed to an unprivileged account found in
//! `/etc/passwd`.

use anyhow::{anyhow, Context, Result};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The unprivileged user the server runs as when we are root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RunAs {
    pub(super) name: String,
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// `None` unless we are root, in which case the server must run as
/// `postgres` or, failing that, `nobody`.
pub(super) fn run_as_user() -> Result<Option<RunAs>> {
    if effective_uid()? != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd")
        .context("running as root, but could not read /etc/passwd to find an unprivileged user for PostgreSQL")?;
    ["postgres", "nobody"]
        .iter()
        .find_map(|name| {
            passwd
                .lines()
                .find_map(|line| parse_passwd_line(line, name))
        })
        .map(Some)
        .ok_or_else(|| {
            anyhow!(
                "PostgreSQL refuses to run as root and neither a `postgres` nor a `nobody` user \
                 exists: create one (e.g. `useradd --system postgres`) or run as a non-root user"
            )
        })
}

/// The user owning `path` when we are root (a kept cluster must then be
/// stopped as that user); `None` otherwise or when it cannot be told.
pub(crate) fn owner_when_root(path: &Path) -> Option<String> {
    if effective_uid().ok()? != 0 {
        return None;
    }
    let uid = fs::metadata(path).ok()?.uid();
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| name_of_uid(line, uid))
}

fn parse_passwd_line(line: &str, name: &str) -> Option<RunAs> {
    let mut fields = line.split(':');
    if fields.next()? != name {
        return None;
    }
    let _password = fields.next()?;
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    Some(RunAs {
        name: name.to_string(),
        uid,
        gid,
    })
}

fn name_of_uid(line: &str, uid: u32) -> Option<String> {
    let mut fields = line.split(':');
    let name = fields.next()?;
    let _password = fields.next()?;
    (fields.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
}

/// `/proc/self` is owned by the effective uid; `id -u` covers systems
/// without procfs (macOS).
fn effective_uid() -> Result<u32> {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return Ok(meta.uid());
    }
    let out = Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .context("could not determine the current user id (no /proc and `id -u` failed)")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("could not parse the output of `id -u`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_lines() {
        let line = "postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash";
        let expected = RunAs {
            name: "postgres".into(),
            uid: 101,
            gid: 104,
        };
        assert_eq!(parse_passwd_line(line, "postgres"), Some(expected));
        assert_eq!(parse_passwd_line(line, "post"), None);
        assert_eq!(parse_passwd_line("postgres:x:abc:1::", "postgres"), None);
    }

    #[test]
    fn finds_the_name_of_a_uid() {
        let line = "postgres:x:101:104::/var/lib/postgresql:/bin/bash";
        assert_eq!(name_of_uid(line, 101), Some("postgres".to_string()));
        assert_eq!(name_of_uid(line, 104), None);
    }
}
