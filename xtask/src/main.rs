//! `cargo xtask`: the project's commands, written in Rust so that a fresh clone needs nothing but
//! a Rust toolchain (`.cargo/config.toml` maps `cargo xtask` to `cargo run -p xtask --`).
//!
//! - `cargo xtask dev` installs what is missing, builds, and runs the whole local stack.
//! - `cargo xtask test` installs what is missing and runs every check and test, as CI does.
//! - `cargo xtask bench` runs the benchmarks and prints their figures.
//! - `cargo xtask chaos` runs the chaos suite's full profile (its short one is part of `test`).
//! - `cargo xtask fuzz` runs the fuzzing properties with many cases (a few are part of `test`).
//! - `cargo xtask size` builds the frontend and prints its download size (part of `bench`).
//!
//! Starting Pushpin and PostgreSQL is shared with the tests: both use the `e2e` harness crate, so
//! the stack a developer clicks through is the stack the tests ran against.

mod bench;
mod chaos;
mod cmd;
mod dev;
mod fuzz;
mod size;
mod test;
mod tools;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The chat app's development commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what is missing, build, and run the edge, Pushpin and the origin until Ctrl-C.
    Dev(dev::DevArgs),
    /// Install what is missing, then run formatting, lints, wasm checks and all tests.
    Test,
    /// Install what is missing, then run the benchmarks (release build; see docs/BENCHMARKS.md).
    Bench,
    /// Build the frontend and print its download size (raw, gzip, brotli).
    Size,
    /// Run the chaos suite: every message counted while Pushpin and the origin are killed,
    /// publishing fails and clients are cut off (full profile by default).
    Chaos(chaos::ChaosArgs),
    /// Fuzz the decoders and API bodies with many generated cases (nothing may panic or hang).
    Fuzz(fuzz::FuzzArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Test => test::run().await,
        Command::Bench => bench::run().await,
        Command::Size => size::run().await,
        Command::Chaos(args) => chaos::run(args).await,
        Command::Fuzz(args) => fuzz::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("\nxtask failed: {err:#}");
            ExitCode::FAILURE
        }
    }
}
