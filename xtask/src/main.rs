//! `cargo xtask`: the project's commands, written in Rust so that a fresh clone needs nothing but
//! a Rust toolchain (`.cargo/config.toml` maps `cargo xtask` to `cargo run -p xtask --`).
//!
//! This crate is deliberately small: it depends only on [`toolchain`] (no dependencies) and
//! `pico-args`, so on a fresh clone it compiles in seconds and says what it is about to do before
//! anything heavy builds. Each command is a list of named, timed steps ([`steps`]); the steps that
//! need the e2e harness (starting the stack, a PostgreSQL cluster for the tests) run the `stack`
//! binary of the `e2e` crate, which an earlier step builds.

mod bench;
mod builds;
mod chaos;
mod dev;
mod fastly;
mod fuzz;
mod steps;
mod test;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "\
cargo xtask COMMAND

Commands:
  dev      install what is missing, build, run the edge, Pushpin and the origin until Ctrl-C
           (--edge-port, --pushpin-port, --publish-port, --origin-port; default 7676 …)
  test     install what is missing, then every check and test, as CI runs them
  bench    the benchmarks, release builds (see docs/BENCHMARKS.md)
  chaos    the chaos suite's full profile (--profile full|short, --seed N, --db sqlite|postgres|both)
  fuzz     the fuzzing properties with many cases (--cases N, --minutes N)
  size     build the frontend and print its download size
  doctor   which tools are installed, which are missing, what installing them costs
  fastly   the Fastly CLI offline: `fastly compute build`, then `fastly compute serve` with the
           pinned Viceroy and Pushpin, a few requests, stop (docs/DEPLOY.md)
";

fn main() -> ExitCode {
    let mut args = pico_args::Arguments::from_env();
    if args.contains(["-h", "--help"]) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(command) = args.subcommand().unwrap_or(None) else {
        eprint!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let result = match command.as_str() {
        "dev" => dev::run(args.finish()),
        "test" => no_args(args).and_then(|()| test::run()),
        "bench" => no_args(args).and_then(|()| bench::run()),
        "size" => no_args(args).and_then(|()| bench::size()),
        "doctor" => no_args(args).and_then(|()| tools::doctor()),
        "fastly" => no_args(args).and_then(|()| fastly::run()),
        "chaos" => chaos::Args::parse(args).and_then(chaos::run),
        "fuzz" => fuzz::Args::parse(args).and_then(fuzz::run),
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\ncargo xtask {command} failed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn no_args(args: pico_args::Arguments) -> steps::Result {
    let rest = args.finish();
    match rest.is_empty() {
        true => Ok(()),
        false => Err(format!("unexpected arguments {rest:?}\n\n{USAGE}")),
    }
}
