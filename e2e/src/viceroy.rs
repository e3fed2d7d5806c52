//! Viceroy, Fastly's local Compute runtime, running the edge's wasm in front of Pushpin: the
//! production path (Compute → Fanout → origin) on one machine.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use tempfile::TempDir;

use crate::{ChildGuard, Output};

/// A running `viceroy serve`; dropping it stops it.
pub struct Viceroy {
    child: ChildGuard,
    port: u16,
    _dir: TempDir,
}

/// The edge wasm `cargo build -p edge --profile edge --target wasm32-wasip1` produces.
pub fn edge_wasm() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let wasm = target.join("wasm32-wasip1/edge/edge.wasm");
    anyhow::ensure!(
        wasm.exists(),
        "{} is missing: build it with `cargo build -p edge --profile edge --target wasm32-wasip1` \
         (`cargo xtask test` does)",
        wasm.display()
    );
    Ok(wasm)
}

impl Viceroy {
    /// Serves the edge on `port`, with `origin` as its backend, handing streams off to
    /// Pushpin's client port, and `session_secret` in its secret store.
    pub async fn start(
        port: u16,
        origin: SocketAddr,
        pushpin_port: u16,
        session_secret: &str,
    ) -> anyhow::Result<Viceroy> {
        let wasm = edge_wasm()?;
        let dir = tempfile::Builder::new().prefix("e2e-viceroy-").tempdir()?;
        let manifest = dir.path().join("fastly.toml");
        // The project's fastly.toml, with this test's origin address.
        std::fs::write(
            &manifest,
            format!(
                "manifest_version = 3\nname = \"edge-under-test\"\nlanguage = \"rust\"\n\
                 [local_server.backends.origin]\nurl = \"http://{origin}\"\n\
                 [local_server.secret_stores]\n\
                 edge_secrets = [{{ key = \"session_secret\", env = \"SESSION_SECRET\" }}]\n"
            ),
        )?;
        let mut cmd = Command::new("viceroy");
        cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}"), "-C"])
            .arg(&manifest)
            .args(["--local-pushpin-proxy-port", &pushpin_port.to_string()])
            .arg(&wasm)
            .env("SESSION_SECRET", session_secret);
        let child = ChildGuard::spawn("viceroy", cmd, Output::File(dir.path().join("viceroy.log")))
            .context("start viceroy (is it installed? `cargo xtask test` installs it)")?;
        let viceroy = Viceroy {
            child,
            port,
            _dir: dir,
        };
        // The origin's health check, through the edge: both are up.
        viceroy
            .child
            .wait_until_serving(
                &format!("{}/healthz", viceroy.url()),
                Duration::from_secs(30),
            )
            .await?;
        Ok(viceroy)
    }

    /// Resolves when Viceroy exits.
    pub async fn exited(&self) -> std::process::ExitStatus {
        self.child.exited().await
    }

    /// Viceroy's log so far, for error messages.
    pub fn log_tail(&self) -> String {
        self.child.log_tail()
    }

    /// `http://127.0.0.1:{port}`: where clients connect.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
