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

/// By id, or by e-mail address (found, then shown by id like everywhere else).
pub async fn show(ctx: &Context, user: Option<Uuid>, email: Option<String>) -> Result<()> {
    let report = match (user, email) {
        (Some(user), _) => view::show(&ctx.database, user).await?,
        (None, Some(email)) => view::show_by_email(&ctx.database, &email).await?,
        (None, None) => return Err(error::usage("give a user id or --email ADDRESS")),
    };
    output::print(&report, ctx.format)
}

pub async fn list(ctx: &Context, under_limit: bool, limit: i64) -> Result<()> {
    let report = user_list::list(&ctx.database, under_limit, limit).await?;
    output::print(&report, ctx.format)
}

pub async fn reset(
    ctx: &Context,
    user: Uuid,
    counters: Counters,
    to: i64,
    yes: bool,
) -> Result<()> {
    let to = i32::try_from(to).map_err(|_| error::usage("--to is too large"))?;
    let mut db = ctx.database.connect().await?;
    // Unknown user: an error before any question, with nothing changed.
    reset::require_user(&mut db, user).await?;
    // Users are named by id only: no e-mail in output.
    let action = format!(
        "set {} of user {} to {to} on {}",
        counters.describe(),
        user,
        ctx.database.describe()
    );
    if !ctx.ui.confirm(&action, yes)? {
        return Err(error::usage("reset cancelled; nothing was changed"));
    }
    let report = reset::reset(&mut db, user, counters, to).await?;
    output::print(&report, ctx.format)
}
