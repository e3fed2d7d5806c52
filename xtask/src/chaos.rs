//! `cargo xtask chaos`: the chaos suite's full profile (`e2e/src/chaos.rs`) on both databases.
//! `cargo xtask test` runs its short profile with the other tests.

use toolchain::Task;

use crate::builds;
use crate::steps::{Result, Step, Timings, cargo_program};

pub struct Args {
    /// `full` (three rounds of every fault, more clients, publish outages past the publisher's
    /// retries) or `short` (what `cargo xtask test` runs).
    profile: String,
    /// Replays a run's schedule of faults (the seed is printed at the start of each run).
    seed: Option<u64>,
    /// `sqlite`, `postgres` or `both`.
    db: String,
}

impl Args {
    pub fn parse(mut args: pico_args::Arguments) -> Result<Args> {
        let bad = |err: pico_args::Error| format!("{err} (see `cargo xtask --help`)");
        let parsed = Args {
            profile: args
                .opt_value_from_str("--profile")
                .map_err(bad)?
                .unwrap_or_else(|| "full".into()),
            seed: args.opt_value_from_str("--seed").map_err(bad)?,
            db: args
                .opt_value_from_str("--db")
                .map_err(bad)?
                .unwrap_or_else(|| "both".into()),
        };
        let rest = args.finish();
        if !rest.is_empty() {
            return Err(format!(
                "unexpected arguments {rest:?} (see `cargo xtask --help`)"
            ));
        }
        if !["full", "short"].contains(&parsed.profile.as_str()) {
            return Err(format!(
                "--profile must be full or short, not {:?}",
                parsed.profile
            ));
        }
        if !["sqlite", "postgres", "both"].contains(&parsed.db.as_str()) {
            return Err(format!(
                "--db must be sqlite, postgres or both, not {:?}",
                parsed.db
            ));
        }
        Ok(parsed)
    }
}

pub fn run(args: Args) -> Result {
    println!(
        "cargo xtask chaos: tools, the edge build, then the chaos suite ({} profile, {})",
        args.profile, args.db
    );
    let mut timings = Timings::load();
    crate::tools::ensure(Task::Chaos, &mut timings)?;
    timings.run(builds::edge())?;
    timings.run(builds::tests(&["test", "-p", "e2e", "--test", "chaos"]))?;
    let mut chaos = builds::stack("debug", &["with-postgres"]);
    chaos
        .arg(cargo_program())
        .args(["test", "-p", "e2e", "--test", "chaos"])
        .env("CHAOS_PROFILE", &args.profile)
        .env("CHAOS_DB", &args.db);
    if let Some(seed) = args.seed {
        chaos.env("CHAOS_SEED", seed.to_string());
    }
    timings.run(Step::new("chaos", chaos).usually("usually 15–25 min for the full profile"))
}
