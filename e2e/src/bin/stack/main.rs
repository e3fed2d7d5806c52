//! `stack`: the parts of `cargo xtask` that need the e2e harness, in a binary of their own so
//! that `cargo xtask` itself stays small and speaks at once on a fresh clone (it builds this
//! binary as one of its steps, then runs it).
//!
//! - `stack dev` runs the local stack (Pushpin, the origin, the edge in Viceroy) until Ctrl-C.
//! - `stack with-postgres PROGRAM ARGS…` starts one throwaway PostgreSQL cluster, runs the program
//!   with `E2E_POSTGRES_ADMIN_URL` pointing at it, and stops the cluster again: every test of a
//!   `cargo xtask test` run shares one cluster instead of paying for `initdb` each.
//! - `stack size` prints the download size of `frontend/dist`.

mod dev;
mod size;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use e2e::postgres::{ADMIN_URL_ENV, Postgres};

#[derive(Debug, Parser)]
#[command(
    name = "stack",
    about = "The local stack and test infrastructure behind `cargo xtask`"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Pushpin, the origin and the edge in Viceroy until Ctrl-C (everything already built).
    Dev(dev::DevArgs),
    /// Run a program with a throwaway PostgreSQL cluster (`E2E_POSTGRES_ADMIN_URL`).
    WithPostgres {
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print the download size of `frontend/dist` (raw, gzip, brotli).
    Size,
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Dev(args) => dev::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::WithPostgres { command } => with_postgres(&command).await,
        Command::Size => size::report(&workspace_root()).map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|err| {
        eprintln!("\nstack failed: {err:#}");
        ExitCode::FAILURE
    })
}

/// The workspace root: this crate lives in `<root>/e2e`.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("e2e sits inside the workspace")
        .to_path_buf()
}

/// Runs `command` with a PostgreSQL cluster, passing its output through and returning its exit
/// code. The cluster stops on success and failure alike (and by the parent-death signal if we
/// are killed).
async fn with_postgres(command: &[String]) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let cluster = Postgres::start()
        .await
        .context("start a PostgreSQL cluster")?;
    println!(
        "PostgreSQL ready at {} after {:.1?}",
        cluster.admin_url(),
        started.elapsed()
    );
    let (program, args) = command.split_first().expect("clap requires a command");
    let status = tokio::process::Command::new(program)
        .args(args)
        .env(ADMIN_URL_ENV, cluster.admin_url())
        .status()
        .await
        .with_context(|| format!("could not run `{program}`"))?;
    drop(cluster);
    Ok(match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}
