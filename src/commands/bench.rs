//! `quota bench`.

use anyhow::Result;

use super::Context;
use crate::cli::BenchArgs;
use crate::interrupt::Interrupt;
use crate::load::bench::{self, BenchOptions};
use crate::output;

pub async fn run(ctx: &Context, args: BenchArgs) -> Result<()> {
    let meter = args.meter.clone();
    let mut opts = BenchOptions::from(args);
    if let Some(meter) = meter {
        opts.only = super::mapped::default_bench_meter(&meter)?;
    }
    let interrupt = Interrupt::install()?;
    let report = bench::run(&ctx.database, &opts, &ctx.ui, &interrupt).await?;
    output::print(&report, ctx.format)
}
