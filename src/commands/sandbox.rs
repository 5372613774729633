use super::Context;
use crate::cli::SandboxArgs;
use anyhow::Result;
pub async fn run(_ctx: &Context, _a: SandboxArgs) -> Result<()> {
    Ok(())
}
