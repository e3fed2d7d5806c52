//! `cargo xtask bench` and `cargo xtask size`: the benchmarks, in release mode, against one
//! PostgreSQL cluster, and the frontend's download size.
//!
//! Kept out of `cargo xtask test` on purpose: figures are measured and written down
//! (docs/BENCHMARKS.md), never asserted, and they would cost CI minutes for nothing.

use toolchain::Task;

use crate::builds::{self, in_viceroy};
use crate::steps::{Result, Step, Timings, cargo, cargo_program};

pub fn run() -> Result {
    println!(
        "cargo xtask bench: tools, the release builds of the edge and the frontend, then the \
         frontend's size, the edge's CPU time in Viceroy and the stack benchmarks"
    );
    let mut timings = Timings::load();
    crate::tools::ensure(Task::Bench, &mut timings)?;
    // The edge-hop benchmark runs the release wasm in Viceroy.
    timings.run(builds::edge())?;
    timings.run(builds::frontend(true))?;
    timings.run(builds::tests(&["bench", "-p", "e2e", "--bench", "stack"]))?;
    timings.run(Step::new("size", builds::stack("release", &["size"])))?;
    // The edge's own CPU time per request, measured inside Viceroy.
    timings.run(Step::new(
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
    ))?;
    let mut bench = builds::stack("release", &["with-postgres"]);
    bench
        .arg(cargo_program())
        .args(["bench", "-p", "e2e", "--bench", "stack"]);
    timings.run(Step::new("bench", bench).usually("usually 10–15 min"))
}

pub fn size() -> Result {
    println!("cargo xtask size: the release build of the frontend, then its download size");
    let mut timings = Timings::load();
    crate::tools::ensure(Task::Size, &mut timings)?;
    timings.run(builds::frontend(true))?;
    let stack = cargo(["build", "-p", "e2e", "--bin", "stack"]);
    timings.run(Step::new("build stack", stack))?;
    timings.run(Step::new("size", builds::stack("debug", &["size"])))
}
