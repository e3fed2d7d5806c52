//! `cargo xtask test`: everything CI checks, in the order that fails fastest.
//!
//! Cheap checks (formatting, lints, the wasm build of `shared`) run before the tests, so a typo
//! costs seconds, not a full test run. All tests share one PostgreSQL cluster (`stack
//! with-postgres`): each test still gets its own database, but nobody pays for `initdb` more than
//! once.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use toolchain::Task;

use crate::builds::{self, in_viceroy};
use crate::steps::{Result, Step, Timings, cargo, cargo_program, human, show};

pub fn run() -> Result {
    println!(
        "cargo xtask test: tools for test, then fmt, clippy (host, wasm32-wasip1, \
         wasm32-unknown-unknown), the edge and frontend builds, then every test (edge in Viceroy; \
         the workspace on SQLite and PostgreSQL)"
    );
    let started = Instant::now();
    let mut timings = Timings::load();
    crate::tools::ensure(Task::Test, &mut timings)?;

    timings.run(Step::new("fmt", cargo(["fmt", "--all", "--", "--check"])))?;
    timings.run(
        Step::new(
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
        .usually("usually 8–12 min the first time: it compiles every dependency"),
    )?;
    // `shared` is compiled into the edge (WASI) without the origin's features: keep that
    // building on its own. The frontend is lint-checked for the browser, its real target.
    timings.run(Step::new(
        "check shared for wasm32-wasip1",
        cargo(["check", "-p", "shared", "--target", "wasm32-wasip1"]),
    ))?;
    timings.run(
        Step::new(
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
        .usually("usually 1–2 min the first time"),
    )?;
    // The edge is Compute code: lint and build it for its real target (the host build above
    // only sees its pure logic).
    timings.run(Step::new(
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
    ))?;
    timings.run(builds::edge())?;
    // The browser tests load the release build, as users do.
    timings.run(builds::frontend(true))?;
    timings.run(builds::tests(&["test", "--workspace"]))?;

    // The edge's Compute glue is tested where it runs: its wasm test binary inside Viceroy.
    let edge_tests = in_viceroy(cargo(["test", "-p", "edge", "--target", "wasm32-wasip1"]));
    let mut workspace_tests = builds::stack("debug", &["with-postgres"]);
    workspace_tests
        .arg(cargo_program())
        .args(["test", "--workspace", "--no-fail-fast"]);
    run_tests(&mut timings, started, [edge_tests, workspace_tests])
}

/// Runs each test command (all of them, even after a failure), passing their output through,
/// and ends with one line that totals every test binary's "test result:" line, so the log
/// closes on the whole count.
fn run_tests(
    timings: &mut Timings,
    whole_run: Instant,
    commands: impl IntoIterator<Item = Command>,
) -> Result {
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut failures = Vec::new();
    let started = Instant::now();
    for mut cmd in commands {
        let shown = show(&cmd);
        println!("\n==> test\n    $ {shown}");
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("step `test`: could not run {shown}: {err}"))?;
        let failed_before = failed;
        for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
            let line = line.map_err(|err| format!("step `test`: reading {shown}: {err}"))?;
            println!("{line}");
            if let Some((p, f)) = parse_result(&line) {
                passed += p;
                failed += f;
            }
        }
        let status = child
            .wait()
            .map_err(|err| format!("step `test`: {shown}: {err}"))?;
        if !status.success() {
            // A panic in a wasm test aborts its whole binary before any summary line (wasm has
            // no unwinding): still count a failure, so the totals never say "0 failed" then.
            if failed == failed_before {
                failed += 1;
            }
            failures.push(format!("{shown} ended with {status}"));
        }
    }
    timings.done("test", started);
    println!("\ncargo xtask test took {}", human(whole_run.elapsed()));
    // The last line: CI reads it.
    println!("tests: {passed} passed, {failed} failed");
    match failures.is_empty() {
        true => Ok(()),
        false => Err(format!("step `test` failed: {}", failures.join("; "))),
    }
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
