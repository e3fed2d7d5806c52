//! `stack dev` (run by `cargo xtask dev`, which builds everything first): the whole chat stack
//! on this machine, until Ctrl-C.
//!
//! Start order follows the request path backwards (Pushpin, the origin behind it, then the edge
//! in Viceroy in front of both) and each step waits until its process really answers, so the URL
//! printed at the end works the moment it appears.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use e2e::{ChildGuard, Output, Pushpin, PushpinOptions, Viceroy};

use crate::workspace_root;

/// The issuer Pushpin puts into `Grip-Sig`, and the origin expects.
const SIG_ISS: &str = "pushpin";

/// How long the origin may take to answer `/healthz` through Pushpin (it migrates its database
/// first).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Ports of the local stack (defaults from the project contract).
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// The edge's port (Viceroy): the one address users need.
    #[arg(long, env = "EDGE_PORT", default_value_t = 7676)]
    edge_port: u16,
    /// Pushpin's client port (where the edge hands off).
    #[arg(long, env = "PUSHPIN_PORT", default_value_t = 7677)]
    pushpin_port: u16,
    /// Pushpin's publish API port (the origin's GRIP_URL).
    #[arg(long, env = "PUBLISH_PORT", default_value_t = 5561)]
    publish_port: u16,
    /// The origin's port.
    #[arg(long, env = "ORIGIN_PORT", default_value_t = 8080)]
    origin_port: u16,
}

/// The running processes. Dropping stops them in field order: the entry point first, so no new
/// request reaches a process that is already going away.
struct Stack {
    edge: Viceroy,
    pushpin: Pushpin,
    origin: ChildGuard,
}

impl Stack {
    /// Resolves when any process of the stack exits, saying which.
    async fn any_exited(&self) -> String {
        tokio::select! {
            status = self.edge.exited() => format!(
                "Viceroy exited ({status}); last log lines:\n{}", self.edge.log_tail()),
            status = self.pushpin.exited() => format!(
                "Pushpin exited ({status}); last log lines:\n{}", self.pushpin.log_tail()),
            status = self.origin.exited() => format!("the origin exited ({status})"),
        }
    }
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let data = root.join("data");
    std::fs::create_dir_all(&data).context("create data/")?;
    let session_secret = persisted_secret(&data.join("session_secret"))?;
    let grip_key = persisted_secret(&data.join("grip_key"))?;

    for (port, what, flag) in [
        (args.edge_port, "the edge's port", "--edge-port"),
        (args.pushpin_port, "Pushpin's client port", "--pushpin-port"),
        (
            args.publish_port,
            "Pushpin's publish port",
            "--publish-port",
        ),
        (args.origin_port, "the origin's port", "--origin-port"),
    ] {
        // Clearer than Pushpin's or the origin's own bind error, and before anything started.
        TcpListener::bind(("127.0.0.1", port)).with_context(|| {
            format!(
                "{what} {port} is in use (another `cargo xtask dev`?); pick another with {flag}"
            )
        })?;
    }

    println!("\n==> [pushpin] starting on {}", args.pushpin_port);
    let origin_addr = SocketAddr::from(([127, 0, 0, 1], args.origin_port));
    let pushpin = Pushpin::start(PushpinOptions {
        origin: origin_addr,
        fallback_origins: Vec::new(),
        http_port: args.pushpin_port,
        publish_port: args.publish_port,
        sig_key: grip_key.clone(),
        sig_iss: SIG_ISS.to_owned(),
        log_level: 2,
    })
    .await
    .context("step `pushpin`")?;
    println!("Pushpin log: {}", pushpin.log_path().display());

    println!("\n==> [origin] starting on {origin_addr}");
    let public_url = format!("http://127.0.0.1:{}", args.edge_port);
    let origin = start_origin(
        &root,
        &pushpin,
        origin_addr,
        &grip_key,
        &session_secret,
        &public_url,
    )?;
    let health = format!("{}/healthz", pushpin.client_url());
    wait_healthy(&pushpin, &origin, &health).await?;

    println!("\n==> [edge] starting Viceroy on {}", args.edge_port);
    let edge = Viceroy::start(
        args.edge_port,
        origin_addr,
        args.pushpin_port,
        &session_secret,
    )
    .await
    .context("step `edge`")?;
    let stack = Stack {
        edge,
        pushpin,
        origin,
    };

    println!(
        "\nChat is running: open {}/  (Fanout/Pushpin {}, origin http://{origin_addr}, publish {}) — Ctrl-C stops everything",
        stack.edge.url(),
        stack.pushpin.client_url(),
        stack.pushpin.publish_url(),
    );
    // Ctrl-C in the terminal, or SIGTERM from whatever supervises us (a container, `timeout`).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listen for SIGTERM")?;
    let outcome = tokio::select! {
        signal = tokio::signal::ctrl_c() => {
            signal.context("listen for Ctrl-C")?;
            println!("\nStopping …");
            Ok(())
        }
        _ = terminate.recv() => {
            println!("\nTerminated; stopping …");
            Ok(())
        }
        why = stack.any_exited() => Err(anyhow::anyhow!("{why}; stopping everything")),
    };
    drop(stack);
    outcome
}

/// Starts `target/debug/origin` wired to this Pushpin. Its logs go to the terminal.
fn start_origin(
    root: &Path,
    pushpin: &Pushpin,
    addr: SocketAddr,
    grip_key: &str,
    session_secret: &str,
    public_url: &str,
) -> anyhow::Result<ChildGuard> {
    let binary: PathBuf = root.join("target/debug/origin");
    let mut cmd = Command::new(&binary);
    // Relative paths such as sqlite://data/chat.db are relative to the workspace root.
    cmd.current_dir(root)
        .env("GRIP_URL", pushpin.publish_url())
        .env("GRIP_VERIFY_KEY", grip_key)
        .env("GRIP_VERIFY_ISS", pushpin.sig_iss())
        .env("SESSION_SECRET", session_secret)
        .env("BIND_ADDR", addr.to_string())
        .env("PUBLIC_URL", public_url)
        .env("FRONTEND_DIR", root.join("frontend/dist"));
    // A developer's own choice of database or log level wins.
    if std::env::var_os("DATABASE_URL").is_none() {
        cmd.env("DATABASE_URL", "sqlite://data/chat.db?mode=rwc");
    }
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    ChildGuard::spawn("origin", cmd, Output::Inherit)
}

/// Waits until `url` (the origin's health check, through Pushpin) answers 200.
async fn wait_healthy(pushpin: &Pushpin, origin: &ChildGuard, url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()?;
    let http = &http;
    e2e::wait_until(
        &format!("{url} to answer 200"),
        READY_TIMEOUT,
        move || async move {
            origin.ensure_running()?;
            pushpin.ensure_running()?;
            let ok = http
                .get(url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            Ok(ok)
        },
    )
    .await
    .map_err(|err| {
        if origin.status().is_some() {
            // The origin's own message (printed above) says why; Pushpin's log would only add 502s.
            anyhow::anyhow!("step `health`: {err:#}")
        } else {
            anyhow::anyhow!(
                "step `health`: {err:#}\nPushpin's last log lines:\n{}",
                pushpin.log_tail()
            )
        }
    })
}

/// A random 64-hex-character secret, generated on first use and kept in `path` (mode 0600), so
/// sessions and signatures stay valid across restarts of `cargo xtask dev`.
fn persisted_secret(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(existing) if !existing.trim().is_empty() => return Ok(existing.trim().to_owned()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("read {}", path.display())),
    }
    let secret = e2e::random_hex(32);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    writeln!(file, "{secret}")?;
    Ok(secret)
}
