//! The origin as a program: read the configuration, bind, serve until Ctrl-C or SIGTERM.
//!
//! `src/main.rs` is only this; so is the copy the e2e harness builds for the tests that
//! `kill -9` an origin (`e2e/src/bin/e2e-origin.rs`).

use std::process::ExitCode;

use crate::config::Config;

/// Runs the origin from its environment (and flags) until it is told to stop.
pub async fn main() -> ExitCode {
    crate::telemetry::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("origin: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.bind_addr).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!(
                "origin: cannot listen on {} (set BIND_ADDR): {err}",
                config.bind_addr
            );
            return ExitCode::FAILURE;
        }
    };
    match crate::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("origin: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM from a process manager.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
