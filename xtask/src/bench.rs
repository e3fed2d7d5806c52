//! `cargo xtask bench`: the benchmarks, in release mode, against one PostgreSQL cluster.
//!
//! Kept out of `cargo xtask test` on purpose: figures are measured and written down
//! (docs/BENCHMARKS.md), never asserted, and they would cost CI minutes for nothing.

use anyhow::Context as _;
use e2e::postgres::{ADMIN_URL_ENV, Postgres};

use crate::cmd::{build_edge, build_frontend, cargo, in_viceroy, step, workspace_root};
use crate::tools;

pub async fn run() -> anyhow::Result<()> {
    tools::ensure()?;
    // The edge-hop benchmark runs the release wasm in Viceroy.
    step("build edge wasm", build_edge()).await?;
    step("build frontend", build_frontend()).await?;
    crate::size::report(&workspace_root())?;
    // The edge's own CPU time per request, measured inside Viceroy.
    step(
        "bench edge CPU",
        in_viceroy(cargo([
            "bench",
            "-p",
            "edge",
            "--bench",
            "edge_cpu",
            "--target",
            "wasm32-wasip1",
        ])),
    )
    .await?;
    let cluster = Postgres::start()
        .await
        .context("step `postgres`: start the benchmark cluster")?;
    let mut bench = cargo(["bench", "-p", "e2e", "--bench", "stack"]);
    bench.env(ADMIN_URL_ENV, cluster.admin_url());
    let result = step("bench", bench).await;
    drop(cluster);
    result
}
