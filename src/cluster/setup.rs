//! Creating the cluster: `initdb`, our `postgresql.conf` settings and, on
//! request, a self-signed certificate.

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{chown, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::control::{output_text, run};
use super::files::{remove_dir_if_exists, write_private};
use super::{Cluster, ClusterOptions};

impl Cluster {
    pub(super) fn give_to_run_as(&self, path: &Path) -> Result<()> {
        let Some(user) = &self.run_as else {
            return Ok(());
        };
        chown(path, Some(user.uid), Some(user.gid)).with_context(|| {
            format!(
                "could not hand {} to user `{}` (uid {}), which the server runs as because we are root",
                path.display(),
                user.name,
                user.uid
            )
        })
    }

    pub(super) fn init_db(&self) -> Result<()> {
        let pwfile = self.dir.join("pwfile");
        write_private(&pwfile, &format!("{}\n", self.password))?;
        self.give_to_run_as(&pwfile)?;
        let result = self.initdb(&pwfile, "--locale=C.UTF-8").or_else(|_| {
            // Not every platform ships C.UTF-8 (e.g. older macOS); start over.
            remove_dir_if_exists(&self.data)?;
            self.initdb(&pwfile, "--no-locale")
        });
        // The password must not outlive initdb on disk.
        let _ = fs::remove_file(&pwfile);
        match &self.run_as {
            Some(user) => result.with_context(|| {
                format!(
                    "initdb runs as user `{}` because we are root; it must be able to read {} \
                     and write {} (set TMPDIR to a directory it can access)",
                    user.name,
                    self.bindir.display(),
                    self.dir.display()
                )
            }),
            None => result,
        }
    }

    fn initdb(&self, pwfile: &Path, locale: &str) -> Result<()> {
        let mut cmd = self.command("initdb");
        cmd.arg("-D")
            .arg(&self.data)
            .args([
                "-U",
                &self.superuser,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", locale, "--no-sync"]);
        run(cmd, "initdb").map(drop)
    }

    /// Appends our settings to `postgresql.conf` (rather than passing them
    /// via `pg_ctl -o`) so `restart` reuses them and no shell quoting is needed.
    pub(super) fn configure(&self, opts: &ClusterOptions) -> Result<()> {
        let mut settings = vec![
            ("listen_addresses".to_string(), "127.0.0.1".to_string()),
            // A private socket dir avoids clashing with a system server's lock file.
            (
                "unix_socket_directories".to_string(),
                self.dir.display().to_string(),
            ),
            // Tests run many connections in parallel.
            ("max_connections".to_string(), "300".to_string()),
        ];
        if opts.ssl {
            self.make_certificate()?;
            settings.push(("ssl".to_string(), "on".to_string()));
        }
        settings.extend(opts.extra_settings.iter().cloned());
        let mut conf = String::from("\n# added by quota for a throwaway cluster\n");
        for (name, value) in &settings {
            conf.push_str(&conf_line(name, value)?);
        }
        let path = self.data.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(conf.as_bytes()))
            .with_context(|| format!("could not write server settings to {}", path.display()))
    }

    /// Self-signed `server.crt`/`server.key` in the data dir, where the
    /// server looks for them by default.
    fn make_certificate(&self) -> Result<()> {
        let crt = self.data.join("server.crt");
        let key = self.data.join("server.key");
        let mut cmd = Command::new("openssl");
        cmd.args(["req", "-new", "-x509", "-nodes", "-newkey", "rsa:2048"])
            .args(["-days", "3650", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .stdin(Stdio::null())
            // Own process group, like the server binaries (see Cluster::command).
            .process_group(0);
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "ssl was requested for the throwaway cluster but `openssl` is not installed: \
                 install it (e.g. `apt-get install openssl`) or start without ssl"
            ),
            Err(e) => return Err(e).context("could not run `openssl req`"),
            Ok(out) if !out.status.success() => {
                bail!(
                    "`openssl req` failed ({}): {}",
                    out.status,
                    output_text(&out)
                )
            }
            Ok(_) => {}
        }
        // The server refuses keys readable by others.
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("could not restrict permissions of {}", key.display()))?;
        self.give_to_run_as(&key)?;
        self.give_to_run_as(&crt)
    }
}

pub(super) fn validate_password(password: &str) -> Result<()> {
    // initdb --pwfile reads only the first line.
    if password.is_empty() || password.contains(['\n', '\r']) {
        bail!(
            "the superuser password for the throwaway cluster must be non-empty and a single line"
        );
    }
    Ok(())
}

/// One `postgresql.conf` line; names are checked so a value cannot inject
/// further settings.
fn conf_line(name: &str, value: &str) -> Result<String> {
    let valid_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid_name || value.contains(['\n', '\r']) {
        bail!("invalid server setting {name:?} = {value:?}: names are [A-Za-z0-9_.], values a single line");
    }
    let quoted = value.replace('\\', "\\\\").replace('\'', "''");
    Ok(format!("{name} = '{quoted}'\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_settings_and_rejects_injection() -> Result<()> {
        assert_eq!(conf_line("a.b_c", "it's")?, "a.b_c = 'it''s'\n");
        assert!(conf_line("fsync = off\nssl", "on").is_err());
        assert!(conf_line("x", "a\nssl = on").is_err());
        Ok(())
    }
}
