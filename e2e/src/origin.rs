//! The origin under test, run one of two ways from the same settings (`origin::config::Args`,
//! what the binary reads from its environment):
//!
//! - in this process, through `origin::run` exactly as the binary calls it, so a test can stop
//!   it gracefully and reach its database;
//! - as a process of its own (the `e2e-origin` binary), so a test can `kill -9` it and start it
//!   again on the same port and database: a crash, not a shutdown.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use origin::config::{Args, Config};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{ChildGuard, Output};

/// How long a started origin may take to answer `/healthz` (it migrates its database first).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the origin runs.
#[derive(Debug, Clone, Default)]
pub enum OriginMode {
    #[default]
    InProcess,
    /// The binary at this path (tests pass `env!("CARGO_BIN_EXE_e2e-origin")`).
    Process(PathBuf),
}

/// A running origin; dropping it stops it.
pub struct Origin {
    args: Args,
    run: Running,
}

enum Running {
    InProcess {
        shutdown: Option<oneshot::Sender<()>>,
        task: Option<JoinHandle<anyhow::Result<()>>>,
    },
    Process {
        binary: PathBuf,
        child: Option<ChildGuard>,
        /// Holds the log, which outlives restarts (one file, appended to).
        dir: TempDir,
    },
}

impl Origin {
    /// Starts an origin with `args`; returns once it listens (in process) or answers
    /// `/healthz` (a process).
    pub async fn start(mode: OriginMode, args: Args) -> anyhow::Result<Origin> {
        let run = match mode {
            OriginMode::InProcess => {
                let listener = tokio::net::TcpListener::bind(args.bind_addr).await?;
                let config = Config::from_args(args.clone())?;
                let (shutdown, stop) = oneshot::channel::<()>();
                let task = tokio::spawn(origin::run(listener, config, async {
                    let _ = stop.await;
                }));
                Running::InProcess {
                    shutdown: Some(shutdown),
                    task: Some(task),
                }
            }
            OriginMode::Process(binary) => Running::Process {
                binary,
                child: None,
                dir: tempfile::Builder::new().prefix("e2e-origin-").tempdir()?,
            },
        };
        let mut origin = Origin { args, run };
        if matches!(origin.run, Running::Process { .. }) {
            origin.restart().await?;
        }
        Ok(origin)
    }

    /// Fails with how it ended if the origin has stopped on its own (an in-process origin
    /// that could not start, say), so that a wait for it can stop at once.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match &mut self.run {
            Running::InProcess { task, .. } => match task.take() {
                Some(running) if running.is_finished() => {
                    let ended = futures_util::FutureExt::now_or_never(running)
                        .expect("a finished task is ready");
                    match ended {
                        Ok(Ok(())) => anyhow::bail!("the origin stopped"),
                        Ok(Err(err)) => Err(err.context("the origin stopped")),
                        Err(panic) => anyhow::bail!("the origin panicked: {panic}"),
                    }
                }
                running => {
                    *task = running;
                    Ok(())
                }
            },
            Running::Process { child, .. } => match child {
                Some(child) => child.ensure_running(),
                None => anyhow::bail!("the origin was killed"),
            },
        }
    }

    /// The process id of a process origin (`None` in process, or while it is down): for
    /// benchmarks that read its memory from `/proc`.
    pub fn pid(&self) -> Option<u32> {
        match &self.run {
            Running::Process { child, .. } => child.as_ref().map(ChildGuard::pid),
            Running::InProcess { .. } => None,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.args.bind_addr)
    }

    /// The value of one series of this origin's `/metrics`, e.g.
    /// `chat_stream_holds_total{transport="Poll"}` (0 when it has not been counted yet).
    pub async fn counter(&self, series: &str) -> anyhow::Result<u64> {
        let text = reqwest::get(format!("{}/metrics", self.url()))
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0))
    }

    /// `kill -9` (a process origin only): everything it had not yet published is lost, what it
    /// committed is not.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        match &mut self.run {
            Running::Process { child, .. } => {
                if let Some(mut child) = child.take() {
                    child.kill();
                }
                Ok(())
            }
            Running::InProcess { .. } => anyhow::bail!("an in-process origin cannot be killed"),
        }
    }

    /// Starts a killed process origin again, on the same port and database; returns once it
    /// answers `/healthz`.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let health = format!("{}/healthz", self.url());
        let Running::Process { binary, child, dir } = &mut self.run else {
            anyhow::bail!("an in-process origin cannot be restarted");
        };
        anyhow::ensure!(child.is_none(), "the origin is still running");
        let mut cmd = std::process::Command::new(&*binary);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("info".into()),
            )
            .envs(environment(&self.args));
        let started = ChildGuard::spawn("origin", cmd, Output::File(dir.path().join("origin.log")))
            .with_context(|| format!("start {}", binary.display()))?;
        started.wait_until_serving(&health, READY_TIMEOUT).await?;
        *child = Some(started);
        Ok(())
    }

    /// The log of a process origin (all its runs), for failure messages.
    pub fn log_tail(&self) -> String {
        match &self.run {
            Running::Process { dir, .. } => {
                crate::process::log_tail(&dir.path().join("origin.log"), 60)
            }
            Running::InProcess { .. } => "(the origin runs in the test process)".to_owned(),
        }
    }

    /// Stops the origin gracefully and returns how it ended.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        match &mut self.run {
            Running::InProcess { shutdown, task } => {
                if let Some(shutdown) = shutdown.take() {
                    let _ = shutdown.send(());
                }
                match task.take() {
                    Some(task) => task.await?,
                    None => Ok(()),
                }
            }
            Running::Process { child, .. } => {
                if let Some(mut child) = child.take() {
                    child.stop();
                }
                Ok(())
            }
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Running::InProcess { shutdown, task } = &mut self.run {
            if let Some(shutdown) = shutdown.take() {
                let _ = shutdown.send(());
            }
            if let Some(task) = task.take() {
                task.abort();
            }
        }
        // A process origin is stopped by its `ChildGuard`.
    }
}

/// The environment the binary reads `args` from (the names in `origin::config::Args`). `args`
/// is taken apart field by field, so that a new setting cannot be forgotten here: the binary
/// would silently take its default instead (a process origin once took another front door's
/// `PUBLIC_URL`, and refused its pages' writes as cross-site).
fn environment(args: &Args) -> Vec<(&'static str, String)> {
    let Args {
        database_url,
        grip_url,
        grip_verify_key,
        grip_verify_iss,
        session_secret,
        bind_addr,
        poll_timeout_secs,
        presence_ttl_secs,
        replay_page,
        frontend_dir,
        public_url,
        allowed_origins,
        dashboard_interval_ms,
        origin_name,
    } = args.clone();
    let mut env = vec![
        ("DATABASE_URL", database_url),
        ("GRIP_URL", grip_url),
        ("SESSION_SECRET", session_secret),
        ("BIND_ADDR", bind_addr.to_string()),
        ("POLL_TIMEOUT_SECS", poll_timeout_secs.to_string()),
        ("PRESENCE_TTL_SECS", presence_ttl_secs.to_string()),
        ("REPLAY_PAGE", replay_page.to_string()),
        ("PUBLIC_URL", public_url),
        ("ALLOWED_ORIGINS", allowed_origins),
        ("DASHBOARD_INTERVAL_MS", dashboard_interval_ms.to_string()),
    ];
    let optional = [
        ("GRIP_VERIFY_KEY", grip_verify_key),
        ("GRIP_VERIFY_ISS", grip_verify_iss),
        (
            "FRONTEND_DIR",
            frontend_dir.map(|dir| dir.display().to_string()),
        ),
        ("ORIGIN_NAME", origin_name),
    ];
    env.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    );
    env
}
