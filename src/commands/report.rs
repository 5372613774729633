//! `quota report at-limit | near-limit | summary`.

use anyhow::Result;

use super::Context;
use crate::cli::ReportCommand;
use crate::{monitor, output};

pub async fn run(ctx: &Context, report: Option<ReportCommand>) -> Result<()> {
    match report.unwrap_or(ReportCommand::Summary { threshold: 0.9 }) {
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
