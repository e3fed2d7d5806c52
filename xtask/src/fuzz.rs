//! `cargo xtask fuzz`: every fuzzing property of `shared` (the SSE, WebSocket-over-HTTP and
//! `Grip-Last` readers, API bodies, WebSocket commands, chain ids, session headers) with many
//! generated cases, in release mode, within a time limit: nothing may panic, nothing may hang.
//! `cargo xtask test` runs the same properties with proptest's default count.

use std::time::Duration;

use clap::Args;

use crate::cmd::cargo;

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Generated cases per property.
    #[arg(long, default_value_t = 100_000)]
    cases: u32,
    /// The whole run's time limit, in minutes: a decoder that loops forever fails it.
    #[arg(long, default_value_t = 20)]
    minutes: u64,
}

pub async fn run(args: FuzzArgs) -> anyhow::Result<()> {
    let mut fuzz = cargo([
        "test",
        "-p",
        "shared",
        "--release",
        "--test",
        "fuzz",
        "--test",
        "sse",
        "--test",
        "wsoh",
        "--test",
        "grip",
    ]);
    fuzz.env("PROPTEST_CASES", args.cases.to_string());
    let shown = crate::cmd::show(&fuzz);
    println!("\n==> [fuzz] PROPTEST_CASES={} {shown}", args.cases);
    let mut child = tokio::process::Command::from(fuzz)
        .kill_on_drop(true)
        .spawn()?;
    let limit = Duration::from_secs(args.minutes * 60);
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => {
            let status = status?;
            anyhow::ensure!(
                status.success(),
                "step `fuzz` failed: {shown} ended with {status}"
            );
            Ok(())
        }
        Err(_) => anyhow::bail!("step `fuzz`: still running after {limit:?}: something hangs"),
    }
}
