use super::Context;
use crate::cli::BenchArgs;
use anyhow::Result;
pub async fn run(_ctx: &Context, _a: BenchArgs) -> Result<()> {
    Ok(())
}
