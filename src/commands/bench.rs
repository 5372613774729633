//! `quota bench`.

use anyhow::Result;

use super::Context;
use crate::cli::BenchArgs;
use crate::interrupt::Interrupt;
use crate::load::bench::{self, BenchOptions};
use crate::output;

pub async fn run(ctx: &Context, args: BenchArgs) -> Result<()> {
    let interrupt = Interrupt::install()?;
    let opts = BenchOptions {
        clients: args.clients as usize,
        seconds: args.seconds,
        warmup: args.warmup,
        rounds: args.rounds,
        only: args.only,
    };
    let report = bench::run(&ctx.database, &opts, &ctx.ui, &interrupt).await?;
    output::print(&report, ctx.format)
}
