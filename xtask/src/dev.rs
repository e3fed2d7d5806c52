//! `cargo xtask dev`: install what dev needs, build, then hand over to `stack dev`, which runs
//! Pushpin, the origin and the edge until Ctrl-C.
//!
//! Only what dev needs: a debug build of the frontend (no wasm-opt), SQLite (no PostgreSQL), no
//! browser. The size-optimised frontend and Chromium belong to `test`, `bench` and `size`.

use std::os::unix::process::CommandExt as _;

use toolchain::Task;

use crate::builds;
use crate::steps::{Result, Timings, show};

pub fn run(stack_args: Vec<std::ffi::OsString>) -> Result {
    println!(
        "cargo xtask dev: tools for dev, then build the origin, the edge (wasm) and the frontend, \
         then run the stack on http://127.0.0.1:7676/ until Ctrl-C"
    );
    let mut timings = Timings::load();
    crate::tools::ensure(Task::Dev, &mut timings)?;
    timings.run(builds::stack_and_origin())?;
    timings.run(builds::edge())?;
    timings.run(builds::frontend(false))?;

    let mut stack = builds::stack("debug", &["dev"]);
    stack.args(stack_args);
    println!("\n==> run\n    $ {}", show(&stack));
    // Replaces this process: Ctrl-C reaches the stack alone, which stops every part in order.
    let err = stack.exec();
    Err(format!("could not run `{}`: {err}", show(&stack)))
}
