//! `quota report at-limit | near-limit | summary`.

use anyhow::Result;

use super::Context;
use crate::cli::ReportCommand;
use crate::{monitor, output};

/// `report` without a subcommand is `report summary`, with its `--threshold`.
pub async fn run(
    ctx: &Context,
    report: Option<ReportCommand>,
    threshold: Option<f64>,
) -> Result<()> {
    let threshold = threshold.unwrap_or(crate::meters::DEFAULT_NEAR_THRESHOLD);
    match report.unwrap_or(ReportCommand::Summary { threshold }) {
        ReportCommand::AtLimit => {
            output::print(&monitor::at_limit(&ctx.database).await?, ctx.format)
        }
        ReportCommand::NearLimit { threshold } => output::print(
            &monitor::near_limit(&ctx.database, threshold).await?,
            ctx.format,
        ),
        ReportCommand::Summary { threshold } => output::print(
            &monitor::summary(&ctx.database, threshold).await?,
            ctx.format,
        ),
    }
}
