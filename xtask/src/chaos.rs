//! `cargo xtask chaos`: the chaos suite's full profile (`e2e/src/chaos.rs`) on both databases.
//! `cargo xtask test` runs its short profile with the other tests.

use anyhow::Context as _;
use clap::Args;
use e2e::postgres::{ADMIN_URL_ENV, Postgres};

use crate::cmd::{build_edge, cargo, step};
use crate::tools;

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// `full` (three rounds of every fault, more clients, publish outages past the publisher's
    /// retries) or `short` (what `cargo xtask test` runs).
    #[arg(long, default_value = "full")]
    profile: String,
    /// Replays a run's schedule of faults (the seed is printed at the start of each run).
    #[arg(long)]
    seed: Option<u64>,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    db: String,
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    tools::ensure()?;
    step("build edge wasm", build_edge()).await?;
    let cluster = Postgres::start()
        .await
        .context("step `postgres`: start a PostgreSQL cluster")?;
    let mut chaos = cargo(["test", "-p", "e2e", "--test", "chaos"]);
    chaos
        .env(ADMIN_URL_ENV, cluster.admin_url())
        .env("CHAOS_PROFILE", &args.profile)
        .env("CHAOS_DB", &args.db);
    if let Some(seed) = args.seed {
        chaos.env("CHAOS_SEED", seed.to_string());
    }
    let result = step("chaos", chaos).await;
    drop(cluster);
    result
}
