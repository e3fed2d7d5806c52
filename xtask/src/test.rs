//! `cargo xtask test`: everything CI checks, in the order that fails fastest.
//!
//! Cheap checks (formatting, lints, the wasm build of `shared`) run before the tests, so a typo
//! costs seconds, not a full test run. All tests share one PostgreSQL cluster started here: each
//! test still gets its own database, but nobody pays for `initdb` more than once.

use std::time::Instant;

use anyhow::Context as _;
use e2e::postgres::{ADMIN_URL_ENV, Postgres};

use crate::cmd::{build_edge, build_frontend, cargo, in_viceroy, step};
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
    // `shared` is compiled into the edge (WASI) without the origin's features: keep that
    // building on its own. The frontend is lint-checked for the browser, its real target.
    step(
        "check shared for wasm32-wasip1",
        cargo(["check", "-p", "shared", "--target", "wasm32-wasip1"]),
    )
    .await?;
    step(
        "clippy frontend for wasm32-unknown-unknown",
        cargo([
            "clippy",
            "-p",
            "frontend",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]),
    )
    .await?;
    // The edge is Compute code: lint and build it for its real target (the host build above
    // only sees its pure logic).
    step(
        "clippy edge for wasm32-wasip1",
        cargo([
            "clippy",
            "-p",
            "edge",
            "--target",
            "wasm32-wasip1",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )
    .await?;
    step("build edge wasm", build_edge()).await?;
    // The browser tests load the release build, as users do.
    step("build frontend", build_frontend()).await?;

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

    // The edge's Compute glue is tested where it runs: its wasm test binary inside Viceroy.
    let edge_tests = in_viceroy(cargo(["test", "-p", "edge", "--target", "wasm32-wasip1"]));
    let mut tests = cargo(["test", "--workspace"]);
    tests.env(ADMIN_URL_ENV, cluster.admin_url());
    let result = run_tests([edge_tests, tests]).await;
    // Stopped on success and failure alike (and by the parent-death signal if we are killed).
    drop(cluster);
    // The totals line printed by `run_tests` stays the last line: CI reads it.
    result
}

/// Runs each `cargo test` (all of them, even after a failure), passing their output through,
/// and ends with one line that totals every test binary's "test result:" line, so the log
/// closes on the whole count.
async fn run_tests(
    commands: impl IntoIterator<Item = std::process::Command>,
) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt as _;

    let (mut passed, mut failed) = (0u64, 0u64);
    let mut failures = Vec::new();
    for cmd in commands {
        let shown = crate::cmd::show(&cmd);
        println!("\n==> [test] {shown}");
        let mut child = tokio::process::Command::from(cmd)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("step `test`: could not run {shown}"))?;
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let failed_before = failed;
        while let Some(line) = lines.next_line().await? {
            println!("{line}");
            if let Some((p, f)) = parse_result(&line) {
                passed += p;
                failed += f;
            }
        }
        let status = child.wait().await?;
        if !status.success() {
            // A panic in a wasm test aborts its whole binary before any summary line (wasm has
            // no unwinding): still count a failure, so the totals never say "0 failed" then.
            if failed == failed_before {
                failed += 1;
            }
            failures.push(format!("{shown} ended with {status}"));
        }
    }
    println!("\ntests: {passed} passed, {failed} failed");
    anyhow::ensure!(
        failures.is_empty(),
        "step `test` failed: {}",
        failures.join("; ")
    );
    Ok(())
}

/// `test result: ok. 12 passed; 0 failed; …` → (12, 0).
fn parse_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("test result: ")?;
    let count = |word: &str| -> Option<u64> {
        rest.split(';')
            .find_map(|part| {
                part.trim()
                    .trim_start_matches("ok.")
                    .trim_start_matches("FAILED.")
                    .trim()
                    .strip_suffix(word)
            })
            .and_then(|n| n.trim().parse().ok())
    };
    Some((count(" passed")?, count(" failed")?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_cargo_test_summaries() {
        let ok = "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.08s";
        assert_eq!(super::parse_result(ok), Some((12, 0)));
        let failed =
            "test result: FAILED. 5 passed; 5 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(super::parse_result(failed), Some((5, 5)));
        assert_eq!(super::parse_result("running 3 tests"), None);
    }
}
