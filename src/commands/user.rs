//! `quota call`, `quota user`, `quota users`, `quota reset-user`.

use anyhow::Result;
use uuid::Uuid;

use super::Context;
use crate::error;
use crate::output;
use crate::users::reset::{self, Counters};
use crate::users::{call as test_call, list as user_list, view};

pub async fn call(ctx: &Context, user: Uuid, commit: bool) -> Result<()> {
    let report = test_call::call(&ctx.database, user, commit).await?;
    output::print(&report, ctx.format)
}

pub async fn show(ctx: &Context, user: Uuid) -> Result<()> {
    let report = view::show(&ctx.database, user).await?;
    output::print(&report, ctx.format)
}

pub async fn list(ctx: &Context, under_limit: bool, limit: i64) -> Result<()> {
    let report = user_list::list(&ctx.database, under_limit, limit).await?;
    output::print(&report, ctx.format)
}

pub async fn reset(ctx: &Context, user: Uuid, counters: Counters, yes: bool) -> Result<()> {
    let mut db = ctx.database.connect().await?;
    // Unknown user: an error before any question, with nothing changed.
    reset::require_user(&mut db, user).await?;
    // Users are named by id only: no e-mail in output.
    let question = format!(
        "Reset {} of user {} on {}?",
        counters.describe(),
        user,
        ctx.database.describe()
    );
    if !ctx.ui.confirm(&question, yes)? {
        return Err(error::usage("reset cancelled; nothing was changed"));
    }
    let report = reset::reset(&mut db, user, counters).await?;
    output::print(&report, ctx.format)
}
