//! What the tests need from the machine besides Rust: each external program
//! with the Debian/Ubuntu package that provides it, exactly as the README's
//! "Install" section and `.ci/run` list them (`prerequisites.rs` checks
//! that the three agree). A test that finds one missing fails naming the
//! package to install; none is skipped silently.

use std::path::{Path, PathBuf};

/// An external program a test runs, and the package that provides it.
pub struct Prerequisite {
    /// A name looked up on `PATH`, or an absolute path.
    pub program: &'static str,
    pub package: &'static str,
    /// What needs it, for the failure message.
    pub needed_by: &'static str,
    /// Also looked for among the server binaries quota's cluster uses
    /// (Debian keeps them off `PATH`, in /usr/lib/postgresql/N/bin).
    pub server_bindir: bool,
}

/// PostgreSQL's server binaries (`initdb`, `pg_ctl`, `postgres`): found by
/// `quota::cluster`, whose error names the package.
pub const POSTGRESQL: Prerequisite = Prerequisite {
    program: "initdb",
    package: "postgresql",
    needed_by: "every database test (a throwaway cluster)",
    server_bindir: true,
};
pub const PSQL: Prerequisite = Prerequisite {
    program: "psql",
    package: "postgresql-client",
    needed_by: "the cluster tests (a client other than quota)",
    server_bindir: true,
};
pub const PGBOUNCER: Prerequisite = Prerequisite {
    program: "/usr/sbin/pgbouncer",
    package: "pgbouncer",
    needed_by: "the pooler tests (transaction and session mode)",
    server_bindir: false,
};
/// The TLS tests' self-signed certificate: run by `quota::cluster`, whose
/// error names the package.
pub const OPENSSL: Prerequisite = Prerequisite {
    program: "openssl",
    package: "openssl",
    needed_by: "the TLS tests (a self-signed certificate)",
    server_bindir: false,
};
pub const KILL: Prerequisite = Prerequisite {
    program: "kill",
    package: "procps",
    needed_by: "the Ctrl-C tests (SIGINT to quota) and the pooler tests",
    server_bindir: false,
};
pub const SCRIPT: Prerequisite = Prerequisite {
    program: "script",
    package: "util-linux",
    needed_by: "the terminal tests (a pseudo-terminal)",
    server_bindir: false,
};
pub const FAKETIME: Prerequisite = Prerequisite {
    program: "faketime",
    package: "faketime",
    needed_by: "the calendar-period tests (libfaketime)",
    server_bindir: false,
};

pub const PROMTOOL: Prerequisite = Prerequisite {
    program: "promtool",
    package: "prometheus",
    needed_by: "the metrics tests (promtool checks the output and the alert rules)",
    server_bindir: false,
};
/// PyYAML is a module, not a program: `.ci/check-workflows` names it when
/// the import fails; python3 itself comes with it.
pub const PYYAML: Prerequisite = Prerequisite {
    program: "python3",
    package: "python3-yaml",
    needed_by: "the workflow test (.ci/check-workflows parses YAML)",
    server_bindir: false,
};

/// Every prerequisite, in the README's order.
pub const ALL: &[Prerequisite] = &[
    POSTGRESQL, PSQL, PGBOUNCER, OPENSSL, KILL, SCRIPT, FAKETIME, PROMTOOL, PYYAML,
];

impl Prerequisite {
    /// Where the program is; panics naming the package when it is missing.
    #[track_caller]
    pub fn path(&self) -> PathBuf {
        self.find().unwrap_or_else(|| panic!("{}", self.missing()))
    }

    /// Where the program is, if anywhere.
    pub fn find(&self) -> Option<PathBuf> {
        if self.server_bindir {
            let bundled = quota::cluster::Cluster::find_bindir()
                .ok()
                .map(|dir| dir.join(self.program));
            if let Some(p) = bundled.filter(|p| p.is_file()) {
                return Some(p);
            }
        }
        if self.program.contains('/') {
            let p = PathBuf::from(self.program);
            return p.is_file().then_some(p);
        }
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(self.program))
            .find(|p| Path::new(p).is_file())
    }

    /// The message of a test that finds it missing.
    pub fn missing(&self) -> String {
        format!(
            "`{}` is missing, needed by {}: install the Debian/Ubuntu package {} \
             (`apt-get install {}`; README \"Install\" lists every prerequisite, .ci/run installs them)",
            self.program, self.needed_by, self.package, self.package
        )
    }
}
