//! The origin binary: read the configuration, bind, serve until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use origin::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    origin::telemetry::init();
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
    match origin::run(listener, config, shutdown_signal()).await {
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
