//! Mapped meters: the enforcement `quota.toml` describes, installed,
//! checked and taken out on the application's own tables. The file is read
//! once at the edge (`mapping::file::Config`); here it is resolved against
//! the catalog once ([`State::read`]) and each meter compared with what
//! `quota.meters` recorded at install.

pub mod bench;
pub mod call;
pub mod checks;
pub mod history;
pub mod install;
pub mod monitor;
pub mod race;
pub mod scratch;
pub mod security;
pub mod subjects;

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use sqlx::PgConnection;

use crate::mapping::file::Config;
use crate::mapping::resolve::{self, Catalog};
use crate::mapping::{render, Meter};
use history::Installed;

/// A mapping read against one database: the file's meters resolved (or
/// every problem that stops them), and what quota installed before.
pub struct State {
    pub path: PathBuf,
    pub resolved: std::result::Result<Vec<Meter>, Vec<String>>,
    pub installed: Vec<Installed>,
}

/// Where one meter stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "changes")]
pub enum MeterState {
    /// In the file, not installed: `migrate apply` installs it.
    Pending,
    /// Installed as the file says.
    Installed,
    /// Installed from another mapping (or another rendering): what changed.
    Drifted(Vec<String>),
    /// Installed, no longer in the file: only `migrate rollback --meter` removes it.
    NotInFile,
}

impl State {
    /// Resolves `config` on `conn` (one transaction, read only).
    pub async fn read(conn: &mut PgConnection, config: &Config) -> Result<State> {
        let installed = history::read(conn).await?;
        let catalog = Catalog::read(conn, &config.meters).await?;
        let by_name = installed
            .iter()
            .map(|i| (i.meter.name().to_string(), i.meter.clone()))
            .collect();
        let mut resolved = resolve::resolve(&config.meters, &catalog, &by_name);
        if let Some(version) = default_installed(conn).await? {
            let problem = format!(
                "the default mapping is installed (quota's versioned migrations, at V{version}), and a \
                 quota.toml replaces it: run `quota migrate rollback --target 0` without the file first \
                 (the counters stay in your tables), or move {} away to keep the default",
                config.path.display()
            );
            match &mut resolved {
                Ok(_) => resolved = Err(vec![problem]),
                Err(problems) => problems.insert(0, problem),
            }
        }
        Ok(State {
            path: config.path.clone(),
            resolved,
            installed,
        })
    }

    /// The meter `name` names, or else the only one of the file's meters
    /// that `candidate` keeps (the only rpc meter for `call`); a usage error
    /// naming the file's meters otherwise.
    pub fn pick(&self, name: Option<&str>, candidate: impl Fn(&Meter) -> bool) -> Result<&Meter> {
        let meters = self.meters()?;
        let names = || {
            meters
                .iter()
                .map(Meter::name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(name) => meters.iter().find(|m| m.name() == name).ok_or_else(|| {
                crate::error::usage(format!(
                    "no meter {name} in {}; its meters: {}",
                    self.path.display(),
                    names()
                ))
            }),
            None => match meters
                .iter()
                .filter(|m| candidate(m))
                .collect::<Vec<_>>()
                .as_slice()
            {
                [only] => Ok(only),
                _ => Err(crate::error::usage(format!(
                    "give --meter NAME (meters: {})",
                    names()
                ))),
            },
        }
    }

    pub fn installed(&self, name: &str) -> Option<&Installed> {
        self.installed.iter().find(|i| i.meter.name() == name)
    }

    /// The file's meters, resolved; `Err` names every problem (exit 4, the
    /// hint `quota check schema`).
    pub fn meters(&self) -> Result<&[Meter]> {
        match &self.resolved {
            Ok(meters) => Ok(meters),
            Err(problems) => Err(crate::error::precondition(format!(
                "{} does not fit this database: {}; run `quota check schema` for the list",
                self.path.display(),
                problems.join("; ")
            ))),
        }
    }

    /// Every meter of the file and every meter installed, with its state.
    pub fn states(&self) -> Result<Vec<(String, MeterState)>> {
        let mut out = Vec::new();
        for meter in self.meters()? {
            let state = match self.installed(meter.name()) {
                None => MeterState::Pending,
                Some(installed) => drift(installed, meter)?,
            };
            out.push((meter.name().to_string(), state));
        }
        for installed in &self.installed {
            if !out.iter().any(|(name, _)| name == installed.meter.name()) {
                out.push((installed.meter.name().to_string(), MeterState::NotInFile));
            }
        }
        Ok(out)
    }
}

/// The version of the default mapping's migrations applied here, if any
/// (read in a savepoint: a history this role cannot read counts as none).
async fn default_installed(conn: &mut PgConnection) -> Result<Option<u32>> {
    use sqlx::Connection;
    let mut savepoint = conn.begin().await?;
    let status = crate::migrate::status(&mut savepoint).await;
    savepoint.rollback().await?;
    Ok(status.ok().map(|s| s.database_version).filter(|v| *v > 0))
}

/// What differs between the meter installed and the file's: the mapping's
/// keys, else the rendered SQL (another quota renders it differently).
pub fn drift(installed: &Installed, meter: &Meter) -> Result<MeterState> {
    let rendered = render::render(meter)?;
    if rendered.checksum == installed.checksum {
        return Ok(MeterState::Installed);
    }
    let (was, now) = (installed.meter.flat(), meter.flat());
    let mut changes = Vec::new();
    for key in was
        .keys()
        .chain(now.keys().filter(|k| !was.contains_key(*k)))
    {
        let (a, b) = (was.get(key), now.get(key));
        if a != b {
            changes.push(format!(
                "{key}: {} → {}",
                a.map_or("(none)", String::as_str),
                b.map_or("(none)", String::as_str)
            ));
        }
    }
    if changes.is_empty() {
        changes.push("the rendered SQL differs (installed by another version of quota)".into());
    }
    Ok(MeterState::Drifted(changes))
}

/// `migrate status` on a mapping: one row per meter.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub config: String,
    pub meters: Vec<MeterStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MeterStatus {
    pub meter: String,
    pub kind: Option<crate::mapping::Kind>,
    #[serde(flatten)]
    pub state: MeterState,
    pub installed_on: Option<String>,
    pub checksum: Option<String>,
}

impl StatusReport {
    pub fn new(state: &State) -> Result<StatusReport> {
        let meters = state
            .states()?
            .into_iter()
            .map(|(name, meter_state)| {
                let installed = state.installed(&name);
                let kind = state
                    .meters()
                    .ok()
                    .and_then(|m| m.iter().find(|m| m.name() == name))
                    .or(installed.map(|i| &i.meter))
                    .map(|m| m.declared.kind());
                MeterStatus {
                    meter: name,
                    kind,
                    state: meter_state,
                    installed_on: installed.map(|i| i.installed_on.clone()),
                    checksum: installed.map(|i| i.checksum.clone()),
                }
            })
            .collect();
        Ok(StatusReport {
            config: state.path.display().to_string(),
            meters,
        })
    }
}
