//! The reaper: a detached `sh` that tears the cluster down when the process
//! owning it dies, however it dies.

use anyhow::{Context, Result};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

/// Runs detached from our process group and waits for EOF on stdin, which
/// the kernel delivers when our process dies in any way (exit without
/// destructors, panic=abort, SIGKILL). It then stops the postmaster and
/// removes the directory. `disarm` makes it exit without touching anything.
/// SIGINT/SIGHUP are ignored so a Ctrl-C to the terminal cannot kill it before
/// our own handler has decided what to do.
const REAPER_SCRIPT: &str = r#"
trap '' INT HUP
IFS= read -r line
[ "$line" = disarm ] && exit 0
pidfile="$1/data/postmaster.pid"
if [ -f "$pidfile" ]; then
  pid=$(head -n 1 "$pidfile")
  if [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null; then
    i=0
    # The postmaster removes its pid file on exit; kill -0 covers a stale file.
    while [ -f "$pidfile" ] && kill -0 "$pid" 2>/dev/null; do
      i=$((i + 1))
      if [ "$i" -ge 100 ]; then kill -KILL "$pid" 2>/dev/null; break; fi
      sleep 0.1
    done
  fi
fi
rm -rf "$1"
"#;

/// A detached `sh` that tears the cluster down when our process dies; see
/// [`REAPER_SCRIPT`]. The write end of its stdin lives only in this struct
/// (std opens pipes close-on-exec), so EOF means "owner gone".
pub(super) struct Reaper {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Reaper {
    pub(super) fn spawn(dir: &Path) -> Result<Reaper> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(REAPER_SCRIPT)
            .arg("quota-pg-reaper")
            .arg(dir)
            .stdin(Stdio::piped())
            // Holding our stdout/stderr would make `quota ... | cat` hang.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: signals to ours (Ctrl-C, timeouts) skip it.
            .process_group(0)
            .spawn()
            .context(
                "could not start `sh`, which removes the throwaway cluster if quota exits \
                 unexpectedly: make sure `sh` is on PATH",
            )?;
        let stdin = child.stdin.take();
        Ok(Reaper { child, stdin })
    }

    /// Tells the reaper the cluster is handled and waits for it to exit.
    pub(super) fn disarm(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            // If it already died there is nothing to disarm.
            let _ = stdin.write_all(b"disarm\n");
        }
        let _ = self.child.wait();
    }

    /// Closes the pipe exactly as the kernel does when our process dies, and
    /// waits until the reaper has torn the cluster down.
    pub(super) fn release(mut self) -> Result<()> {
        drop(self.stdin.take());
        self.child
            .wait()
            .context("could not wait for the reaper to tear the cluster down")?;
        Ok(())
    }
}
