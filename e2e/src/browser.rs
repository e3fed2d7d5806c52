//! A real Chromium, driven over WebDriver: Debian's `chromedriver` as a child process and
//! `fantoccini` as the client. Each [`Browser::session`] is a separate headless Chromium with
//! its own profile, so two sessions are two people (separate cookies, separate storage).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use fantoccini::{Client, ClientBuilder};
use tempfile::TempDir;

use crate::free_port;
use crate::process::{ChildGuard, Output};

/// The built browser app (`trunk build --release`, run by `cargo xtask test`).
pub fn frontend_dist() -> anyhow::Result<PathBuf> {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist");
    anyhow::ensure!(
        dist.join("index.html").is_file(),
        "{} has no index.html: build the app with `trunk build --release --offline` in frontend/ \
         (`cargo xtask test` does)",
        dist.display()
    );
    Ok(dist.canonicalize()?)
}

/// Where tests leave screenshots: `target/e2e-artifacts/`.
pub fn artifacts_dir() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("e2e-artifacts");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A running chromedriver. Dropping it stops it (and the browsers it started).
pub struct Browser {
    driver: ChildGuard,
    url: String,
    dir: TempDir,
}

/// One headless Chromium; its profile directory lives as long as it does.
pub struct Session {
    pub client: Client,
    _profile: TempDir,
}

impl Browser {
    pub async fn start() -> anyhow::Result<Browser> {
        let port = free_port();
        let dir = tempfile::Builder::new()
            .prefix("e2e-chromedriver-")
            .tempdir()?;
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"));
        let driver = ChildGuard::spawn(
            "chromedriver",
            cmd,
            Output::File(dir.path().join("chromedriver.log")),
        )
        .context("start chromedriver (is it installed? `cargo xtask test` installs it)")?;
        let browser = Browser {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        browser
            .driver
            .wait_until_serving(&format!("{}/status", browser.url), Duration::from_secs(30))
            .await?;
        Ok(browser)
    }

    /// A new headless Chromium with an empty profile, `width`×`height` CSS pixels.
    pub async fn session(&self, width: u32, height: u32) -> anyhow::Result<Session> {
        let profile = tempfile::Builder::new()
            .prefix("profile-")
            .tempdir_in(self.dir.path())?;
        // The flags keep a headless Chromium from calling home (the machine has no internet).
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .with_context(|| format!("chromedriver log:\n{}", self.driver.log_tail()))?;
        Ok(Session {
            client,
            _profile: profile,
        })
    }
}
