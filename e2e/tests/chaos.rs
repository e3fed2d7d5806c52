//! The chaos suite (see `e2e::chaos`): every message counted while Pushpin and the origin are
//! killed, publishing refuses or hangs, and clients are cut off, through the edge, on SQLite and
//! on Postgres.
//!
//! `cargo test` runs the short profile with a fresh random seed; `cargo xtask chaos` the full
//! one. Settings come from the environment: `CHAOS_PROFILE=short|full`, `CHAOS_SEED=<n>` (replays
//! a run's schedule of faults), `CHAOS_DB=sqlite|postgres|both`. The last line is a `test result:`
//! line like libtest's, which `cargo xtask test` adds to its totals.

use std::process::ExitCode;

use e2e::Db;
use e2e::chaos::{Profile, Settings};

const NAME: &str = "chaos";

fn main() -> ExitCode {
    // `cargo test <filter>` passes the filter to every test binary, flags too: run only when the
    // filter (if any) matches this suite's name, as libtest would.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if std::env::args().any(|arg| arg == "--list") {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    if filter.is_some_and(|filter| !NAME.contains(&filter)) {
        println!("test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 1 filtered out");
        return ExitCode::SUCCESS;
    }
    let settings = match settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("chaos: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (mut passed, mut failed) = (0, 0);
    for settings in settings {
        println!(
            "\nchaos: {:?}, profile {}, seed {} (replay with CHAOS_SEED={} CHAOS_DB={} CHAOS_PROFILE={})",
            settings.db,
            settings.profile.name,
            settings.seed,
            settings.seed,
            db_name(settings.db),
            settings.profile.name
        );
        match runtime.block_on(e2e::chaos::run(settings)) {
            Ok(report) => {
                println!("{report}");
                if report.clean() {
                    passed += 1;
                } else {
                    println!("chaos: FAILED: a follower lost, repeated or reordered messages");
                    failed += 1;
                }
            }
            Err(err) => {
                println!("chaos: FAILED: {err:#}");
                failed += 1;
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out"
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One run per database asked for, with the profile and seed from the environment.
fn settings() -> anyhow::Result<Vec<Settings>> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let profile = Profile::named(env("CHAOS_PROFILE").as_deref().unwrap_or("short"))?;
    let seed = match env("CHAOS_SEED") {
        Some(seed) => seed
            .parse()
            .map_err(|_| anyhow::anyhow!("CHAOS_SEED must be a whole number, got {seed:?}"))?,
        None => rand::random(),
    };
    let dbs = match env("CHAOS_DB").as_deref().unwrap_or("both") {
        "sqlite" => vec![Db::Sqlite],
        "postgres" => vec![Db::Postgres],
        "both" => vec![Db::Sqlite, Db::Postgres],
        other => anyhow::bail!("CHAOS_DB must be sqlite, postgres or both, got {other:?}"),
    };
    Ok(dbs
        .into_iter()
        .map(|db| Settings {
            profile,
            seed,
            db,
            origin_binary: env!("CARGO_BIN_EXE_e2e-origin").into(),
        })
        .collect())
}

fn db_name(db: Db) -> &'static str {
    match db {
        Db::Sqlite => "sqlite",
        Db::Postgres => "postgres",
    }
}
