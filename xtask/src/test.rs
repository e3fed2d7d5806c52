//! `cargo xtask test`: everything CI checks, in the order that fails fastest.
//!
//! Cheap checks (formatting, lints, the wasm build of `shared`) run before the tests, so a typo
//! costs seconds, not a full test run. All tests share one PostgreSQL cluster started here: each
//! test still gets its own database, but nobody pays for `initdb` more than once.

use std::time::Instant;

use anyhow::Context as _;
use e2e::postgres::{ADMIN_URL_ENV, Postgres};

use crate::cmd::{cargo, step};
use crate::tools;

pub async fn run() -> anyhow::Result<()> {
    tools::ensure()?;

    step("fmt", cargo(["fmt", "--all", "--", "--check"])).await?;
    step(
        "clippy",
        cargo([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )
    .await?;
    // `shared` is compiled into the edge (WASI) and the frontend (browser) as well: keep it
    // building for both, even before those crates exist.
    for target in ["wasm32-wasip1", "wasm32-unknown-unknown"] {
        step(
            &format!("check shared for {target}"),
            cargo(["check", "-p", "shared", "--target", target]),
        )
        .await?;
    }

    println!("\n==> [postgres] starting one PostgreSQL cluster for all tests");
    let started = Instant::now();
    let cluster = Postgres::start()
        .await
        .context("step `postgres`: start the shared test cluster")?;
    println!(
        "PostgreSQL ready at {} after {:.1?}",
        cluster.admin_url(),
        started.elapsed()
    );

    let mut tests = cargo(["test", "--workspace"]);
    tests.env(ADMIN_URL_ENV, cluster.admin_url());
    let result = step("test", tests).await;
    // Stopped on success and failure alike (and by the parent-death signal if we are killed).
    drop(cluster);
    result?;

    println!("\nAll checks and tests passed.");
    Ok(())
}
