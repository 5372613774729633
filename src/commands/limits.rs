//! `quota limits` and `quota limits set`.

use anyhow::Result;

use super::Context;
use crate::cli::{LimitsArgs, LimitsCommand};
use crate::meters::{self, limits, Meter};
use crate::{error, output};

pub async fn run(ctx: &Context, args: LimitsArgs) -> Result<()> {
    match args.set {
        None => {
            let meter = args.meter.as_deref().map(Meter::named).transpose()?;
            output::print(&limits::list(&ctx.database, meter).await?, ctx.format)
        }
        Some(LimitsCommand::Set {
            tier,
            limit,
            meter,
            create,
            yes,
        }) => {
            let meter = meter.as_deref().map_or(Ok(Meter::Clips), Meter::named)?;
            set(ctx, meter, &tier, limit, create, yes).await
        }
    }
}

async fn set(
    ctx: &Context,
    meter: Meter,
    tier: &str,
    limit: i64,
    create: bool,
    yes: bool,
) -> Result<()> {
    let limit = i32::try_from(limit).map_err(|_| error::usage("the limit is too large"))?;
    if create && meter == Meter::Scrapes {
        return Err(error::usage(
            "--create is for clip tiers: a scrape limit is users.plan_limits_scrapes of each \
             user row, so a scrape tier exists when users are on it",
        ));
    }
    let mut db = ctx.database.connect().await?;
    // Read first: an unknown tier (scrapes; clips without --create) is an
    // error before any question.
    let now = limits::current(&mut db, meter, tier, create).await?;
    let before = if now.limits.is_empty() && now.subjects > 0 {
        "none of its own: the free limit applies".to_string()
    } else if now.limits.is_empty() {
        "none: a new tier".to_string()
    } else {
        let shown: Vec<String> = now.limits.iter().map(|l| output::or_missing(*l)).collect();
        format!("now {}", shown.join(", "))
    };
    let action = format!(
        "set the {meter} limit of tier '{tier}' to {limit} ({before}; {} user(s) on it) on {}",
        now.subjects,
        ctx.database.describe()
    );
    if !ctx.ui.confirm(&action, yes)? {
        return Err(error::usage("limits set cancelled; nothing was changed"));
    }
    let mut report = limits::set(&mut db, meter, tier, limit).await?;
    if meter == Meter::Clips {
        report.subjects = now.subjects;
        let similar = meters::did_you_mean(now.similar.as_deref());
        match (report.created, now.subjects) {
            (false, _) => {}
            (true, 0) => ctx.ui.info(&format!(
                "note: created tier '{tier}' (--create), which no user is on yet{similar}"
            )),
            (true, n) => ctx.ui.info(&format!(
                "note: created a limit for tier '{tier}', which {n} user(s) are on without a \
                 row of their own: they had the free limit until now{similar}"
            )),
        }
    } else {
        ctx.ui.info(
            "note: scrape limits are users.plan_limits_scrapes of each user row: users who join \
             the tier later get what your application writes there",
        );
    }
    if let Some(warning) = limits::zero_limit_warning(meter, tier, report.after, now.subjects) {
        ctx.ui.warn(&warning);
    }
    output::print(&report, ctx.format)
}
