//! `quota migrate export --supabase DIR`: each embedded version as a
//! Supabase migration file, so `supabase db reset` and preview branches
//! (which replay only `supabase/migrations/*.sql`) install quota too.
//!
//! A file installs its version and records quota's own history row with
//! the checksum `migrate apply` would record, in one transaction
//! (`sql/export/supabase.sql`). Its content depends only on the version,
//! never on when or by which build it was written, so exporting again
//! changes no file. Names are `<14 digits>_quota_v<N>_<name>.sql`: the
//! digits of a file already in the directory are kept; new versions are
//! numbered one second apart after the newest migration in the directory
//! (the application's or quota's), or after `--after TIMESTAMP`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use refinery::Migration;
use serde::Serialize;

use super::{embedded, lock};
use crate::error;
use crate::sql;

/// Options of `quota migrate export --supabase`.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub dir: PathBuf,
    /// Number new files after this timestamp instead of the directory's newest.
    pub after: Option<Timestamp>,
}

/// What happened to one version's file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Written by this run.
    Written,
    /// Already there with exactly this content.
    Unchanged,
}

impl std::fmt::Display for FileState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileState::Written => "written",
            FileState::Unchanged => "unchanged",
        })
    }
}

/// One version's file.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedFile {
    pub version: u32,
    pub name: String,
    /// The file name, in the directory.
    pub file: String,
    pub state: FileState,
}

/// The report of `quota migrate export`.
#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub directory: String,
    pub files: Vec<ExportedFile>,
}

/// A Supabase migration version: 14 digits, `YYYYMMDDHHMMSS` (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(time::PrimitiveDateTime);

impl Timestamp {
    /// Parses 14 digits that name a real date and time.
    pub fn parse(s: &str) -> Option<Timestamp> {
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
        let month = time::Month::try_from(n(4..6)? as u8).ok()?;
        let date = time::Date::from_calendar_date(n(0..4)? as i32, month, n(6..8)? as u8).ok()?;
        let t = time::Time::from_hms(n(8..10)? as u8, n(10..12)? as u8, n(12..14)? as u8).ok()?;
        Some(Timestamp(time::PrimitiveDateTime::new(date, t)))
    }

    /// This timestamp plus `seconds`.
    fn plus(self, seconds: u32) -> Timestamp {
        Timestamp(self.0 + time::Duration::seconds(seconds.into()))
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (d, t) = (self.0.date(), self.0.time());
        write!(
            f,
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// The file of `migration`: its SQL between the lock, the history checks and
/// the history row, in one transaction. Depends on nothing but the version.
pub fn render(migration: &Migration) -> String {
    let version = migration.version();
    let sql = migration.sql().unwrap_or_default();
    // Every value filled in is a constant of the build: the version, its
    // file name (letters, digits, `_`), its checksum and the lock key.
    sql::EXPORT_SUPABASE
        .replace("{version}", &version.to_string())
        .replace("{previous}", &(version - 1).to_string())
        .replace("{name}", migration.name())
        .replace("{checksum}", &migration.checksum().to_string())
        .replace("{lock_key}", &lock::KEY.to_string())
        .replace("{history_prepare}", sql::HISTORY_PREPARE.trim_end())
        .replace("{migration}", sql.trim_end())
}

/// The file name of `migration` numbered `stamp`.
fn file_name(stamp: Timestamp, migration: &Migration) -> String {
    format!(
        "{stamp}_quota_v{}_{}.sql",
        migration.version(),
        migration.name()
    )
}

/// A migration file already in the directory.
struct Existing {
    file: String,
    stamp: Option<Timestamp>,
    /// `Some(version)` for one of quota's files.
    quota_version: Option<u32>,
}

/// Parses `<digits>_<rest>.sql`; quota's own are `<14 digits>_quota_v<N>_<name>.sql`.
fn existing(file: &str) -> Option<Existing> {
    let stem = file.strip_suffix(".sql")?;
    let (digits, rest) = stem.split_once('_')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let quota_version = rest
        .strip_prefix("quota_v")
        .and_then(|r| r.split_once('_'))
        .and_then(|(v, _)| v.parse::<u32>().ok())
        .filter(|_| digits.len() == 14);
    Some(Existing {
        file: file.to_string(),
        stamp: Timestamp::parse(digits),
        quota_version,
    })
}

/// Writes the files of the versions the directory lacks; checks the ones it
/// has. Refuses, writing nothing, when a file of quota's differs from what
/// this build writes, a version is there twice, or one is missing below
/// another (its new file would sort after the later version's).
pub fn export(opts: &ExportOptions) -> Result<ExportReport> {
    let dir = &opts.dir;
    if !dir.is_dir() {
        return Err(error::usage(format!(
            "{} is not a directory; give the Supabase migrations directory (supabase/migrations, \
             created by `supabase init`)",
            dir.display()
        )));
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if let Some(e) = entry.file_name().to_str().and_then(existing) {
            found.push(e);
        }
    }
    found.sort_by(|a, b| a.file.cmp(&b.file));
    let migrations = embedded::migrations();
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for m in &migrations {
        let mine: Vec<&Existing> = found
            .iter()
            .filter(|e| e.quota_version == Some(m.version()))
            .collect();
        match mine.as_slice() {
            [] => missing.push(m),
            [one] => {
                check_same(dir, &one.file, m)?;
                files.push(exported(m, &one.file, FileState::Unchanged));
            }
            [first, second, ..] => {
                return Err(error::precondition(format!(
                    "{} holds V{} twice ({} and {}); delete one and export again",
                    dir.display(),
                    m.version(),
                    first.file,
                    second.file
                )))
            }
        }
    }
    let newest_quota = files.iter().map(|f| f.version).max().unwrap_or(0);
    if let Some(gap) = missing.iter().find(|m| m.version() < newest_quota) {
        return Err(error::precondition(format!(
            "{} has quota's V{newest_quota} but not V{}, whose new file would sort after it; \
             restore the deleted file (e.g. `git checkout`) or delete quota's later files and \
             export again",
            dir.display(),
            gap.version()
        )));
    }
    if !missing.is_empty() {
        let base = base(opts, &found, &files)?;
        let new: Vec<(String, &Migration)> = missing
            .iter()
            .enumerate()
            .map(|(i, m)| (file_name(base.plus(i as u32 + 1), m), *m))
            .collect();
        refuse_taken_versions(&new, &found)?;
        for (file, m) in new {
            write_new(&dir.join(&file), &render(m))?;
            files.push(exported(m, &file, FileState::Written));
        }
    }
    Ok(ExportReport {
        directory: dir.display().to_string(),
        files,
    })
}

/// Where new files are numbered from: `--after`, else the newest migration
/// in the directory; never before quota's own newest file.
fn base(opts: &ExportOptions, found: &[Existing], files: &[ExportedFile]) -> Result<Timestamp> {
    let stamp_of = |file: &str| found.iter().find(|e| e.file == file).and_then(|e| e.stamp);
    let quota_newest = files.iter().filter_map(|f| stamp_of(&f.file)).max();
    match opts.after {
        Some(after) if quota_newest.is_some_and(|q| after < q) => Err(error::usage(format!(
            "--after {after} is before quota's newest file here ({}); new versions must sort \
             after it: leave --after out or give a later timestamp",
            quota_newest.map(|q| q.to_string()).unwrap_or_default()
        ))),
        Some(after) => Ok(after),
        None => found.iter().filter_map(|e| e.stamp).max().ok_or_else(|| {
            error::usage(format!(
                "{} has no migrations to place quota's after; quota's files must come after the \
                 ones that create your tables: add those first, or pass --after YYYYMMDDHHMMSS",
                opts.dir.display()
            ))
        }),
    }
}

/// Supabase keys its history on the digits: a new file may not reuse
/// those of a migration already there (possible with `--after`).
fn refuse_taken_versions(new: &[(String, &Migration)], found: &[Existing]) -> Result<()> {
    let digits = |f: &str| f.split('_').next().unwrap_or_default().to_string();
    for (file, _) in new {
        if let Some(taken) = found.iter().find(|e| digits(&e.file) == digits(file)) {
            return Err(error::usage(format!(
                "{file} would have the version {} of {}; nothing was written: give --after a \
                 timestamp after your newest migration, or leave it out",
                digits(file),
                taken.file
            )));
        }
    }
    Ok(())
}

fn exported(m: &Migration, file: &str, state: FileState) -> ExportedFile {
    ExportedFile {
        version: m.version(),
        name: m.name().to_string(),
        file: file.to_string(),
        state,
    }
}

/// An existing file of quota's must be byte for byte what this build writes.
fn check_same(dir: &Path, file: &str, m: &Migration) -> Result<()> {
    let path = dir.join(file);
    let content = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    if content == render(m).as_bytes() {
        return Ok(());
    }
    Err(error::precondition(format!(
        "{} differs from what this build exports for V{}__{}; nothing was written: restore it \
         (e.g. `git checkout`), or delete it and export again",
        path.display(),
        m.version(),
        m.name()
    )))
}

/// Writes a file that must not exist yet, whole or not at all (a temporary
/// file renamed into place).
fn write_new(path: &Path, content: &str) -> Result<()> {
    let tmp = path.with_extension("sql.tmp");
    std::fs::write(&tmp, content).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_add_and_print() {
        let t = Timestamp::parse("20241231235959").unwrap();
        assert_eq!(t.plus(1).to_string(), "20250101000000");
        assert_eq!(Timestamp::parse("20240230000000"), None);
        assert_eq!(Timestamp::parse("2024010100000"), None);
        assert_eq!(Timestamp::parse("2024010100000x"), None);
    }

    #[test]
    fn a_file_depends_only_on_its_version() {
        for m in embedded::migrations() {
            let text = render(&m);
            assert!(m
                .name()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            assert!(text.contains(m.sql().unwrap().trim_end()));
            assert!(text.contains(&format!("'{}');", m.checksum())));
            for placeholder in [
                "{version}",
                "{name}",
                "{checksum}",
                "{lock_key}",
                "{migration}",
            ] {
                assert!(!text.contains(placeholder), "{placeholder}");
            }
            assert_eq!(text.matches("\nBEGIN;\n").count(), 1);
            assert!(text.ends_with("\nCOMMIT;\n"));
        }
    }

    #[test]
    fn existing_files_are_recognised() {
        let e = existing("20240101000001_quota_v2_increment_usage_if_allowed.sql").unwrap();
        assert_eq!(e.quota_version, Some(2));
        assert_eq!(existing("20240101_app.sql").unwrap().quota_version, None);
        assert!(existing("README.md").is_none());
        assert!(existing("init.sql").is_none());
    }
}
