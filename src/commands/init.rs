//! `quota init [--output PATH] [--force]`: guess a `quota.toml` from the
//! database's catalog.

use anyhow::Result;

use super::Context;
use crate::error;
use crate::init::{self, Destination, InitReport};
use crate::output::{self, Format};

pub async fn run(ctx: &Context, out: &std::path::Path, force: bool) -> Result<()> {
    if ctx.format == Format::Junit {
        // Refused before anything is written, not after.
        return Err(error::usage(
            "--format junit is only for `quota verify` and `quota check`",
        ));
    }
    let destination = Destination::parse(out);
    destination.check(force)?;
    let catalog = init::read(&ctx.database).await?;
    let guess = init::guess(&catalog);
    let text = init::render::render(&guess);
    if guess.subject.is_none() {
        ctx.ui.warn(
            "no table looked like the subject (a uuid primary key referencing auth.users, or a \
             table named users, profiles, accounts, teams or organizations): the file has TODOs \
             to fill in",
        );
    }
    match destination {
        Destination::Stdout => Ok(output::emit_raw(text.as_bytes())?),
        Destination::File(path) => {
            Destination::write_file(&path, &text, force)?;
            let report = InitReport::new(path.display().to_string(), &guess, &text);
            output::print(&report, ctx.format)
        }
    }
}
