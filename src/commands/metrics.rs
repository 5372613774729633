//! `quota metrics [--listen ADDR]`.

use std::time::Duration;

use anyhow::Result;

use super::Context;
use crate::cli::MetricsArgs;
use crate::metrics::{self, serve, ScrapeOptions};
use crate::output::{self, Format};

pub async fn run(ctx: &Context, args: MetricsArgs) -> Result<()> {
    let opts = ScrapeOptions {
        threshold: args.threshold,
        statement_timeout: Duration::from_millis(args.statement_timeout),
        verify: args.verify,
    };
    let Some(addr) = args.listen else {
        return output::print(&metrics::scrape(&ctx.database, opts).await?, ctx.format);
    };
    if ctx.format != Format::Table {
        return Err(crate::error::usage(
            "--listen serves OpenMetrics text; leave out --format",
        ));
    }
    let scrape = async || {
        let m = metrics::scrape(&ctx.database, opts).await?;
        Ok(output::metrics::render(&m))
    };
    serve::serve(addr, &ctx.ui, scrape).await
}
