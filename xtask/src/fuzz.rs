//! `cargo xtask fuzz`: every fuzzing property of `shared` (the SSE, WebSocket-over-HTTP and
//! `Grip-Last` readers, API bodies, WebSocket commands, chain ids, session headers) with many
//! generated cases, in release mode, within a time limit: nothing may panic, nothing may hang.
//! `cargo xtask test` runs the same properties with proptest's default count.

use std::process::Command;

use crate::steps::{Result, Step, Timings, cargo_program};

pub struct Args {
    /// Generated cases per property.
    cases: u32,
    /// The whole run's time limit, in minutes: a decoder that loops forever fails it.
    minutes: u64,
}

impl Args {
    pub fn parse(mut args: pico_args::Arguments) -> Result<Args> {
        let bad = |err: pico_args::Error| format!("{err} (see `cargo xtask --help`)");
        let parsed = Args {
            cases: args
                .opt_value_from_str("--cases")
                .map_err(bad)?
                .unwrap_or(100_000),
            minutes: args
                .opt_value_from_str("--minutes")
                .map_err(bad)?
                .unwrap_or(20),
        };
        let rest = args.finish();
        match rest.is_empty() {
            true => Ok(parsed),
            false => Err(format!(
                "unexpected arguments {rest:?} (see `cargo xtask --help`)"
            )),
        }
    }
}

pub fn run(args: Args) -> Result {
    println!(
        "cargo xtask fuzz: {} cases per property, at most {} min",
        args.cases, args.minutes
    );
    // coreutils' `timeout` ends the run (and, after a grace period, kills it) when something
    // hangs; its exit code 124 says so.
    let mut fuzz = Command::new("timeout");
    fuzz.args(["--kill-after=30s", &format!("{}m", args.minutes)])
        .arg(cargo_program())
        .args([
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
        ])
        .current_dir(crate::steps::workspace_root())
        .env("PROPTEST_CASES", args.cases.to_string());
    Timings::load().run(Step::new("fuzz", fuzz)).map_err(|err| {
        match err.contains("exit status: 124") {
            true => format!(
                "still running after {} min: something hangs ({err})",
                args.minutes
            ),
            false => err,
        }
    })
}
