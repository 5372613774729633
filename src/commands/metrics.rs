//! `quota metrics [--listen ADDR]`.

use anyhow::Result;

use super::Context;
use crate::cli::MetricsArgs;
use crate::error;
use crate::metrics::{self, serve, ScrapeOptions};
use crate::output::{self, Format};

pub async fn run(ctx: &Context, args: MetricsArgs) -> Result<()> {
    let opts = ScrapeOptions::from(&args);
    let Some(addr) = args.listen else {
        return output::print(&metrics::scrape(&ctx.database, opts).await?, ctx.format);
    };
    if ctx.format != Format::Table {
        return Err(error::usage(
            "--listen serves OpenMetrics text; leave out --format",
        ));
    }
    // A failed scrape's reason goes to the scraper and stderr: said as the
    // error line is, one line and without the password.
    let secrets = ctx.database.secrets();
    let scrape = async || match metrics::scrape(&ctx.database, opts).await {
        Ok(m) => Ok(output::metrics::render(&m)),
        Err(e) => Err(anyhow::anyhow!(error::line::shown(&e, &secrets))),
    };
    serve::serve(addr, &ctx.ui, scrape).await
}
