//! Test support for the chat app: starts the real moving parts (Pushpin, PostgreSQL) as child
//! processes in throwaway directories, waits until each one really answers, and stops them again.
//!
//! Nothing here is mocked. A test that passes against this harness passed against the same
//! Pushpin and the same PostgreSQL a developer runs with `cargo xtask dev`:
//!
//! - [`ports`] picks free TCP ports so many tests can run side by side.
//! - [`process`] owns a child process: its own process group, a log file, and a clean stop.
//! - [`pushpin`] generates a Pushpin config (1.36 from Debian or >= 1.40) and runs it.
//! - [`postgres`] runs a private PostgreSQL cluster and hands out fresh databases.
//! - [`viceroy`] runs the edge's wasm; [`browser`] runs headless Chromium through chromedriver.
//! - [`origin`] runs the origin in this process or as one of its own (to `kill -9` it);
//!   [`faults`] is a publish endpoint that refuses or hangs on demand.
//! - [`follower`] is a subscriber that reconnects and resumes like the browser app; [`chaos`]
//!   runs many of them through a stack under faults and counts every message.
//! - [`stack`] puts them together: Pushpin in front of the origin, on SQLite or Postgres;
//!   [`client`] talks to it as the frontend does (JSON, SSE, WebSocket, long-poll).
//!
//! `cargo xtask test` also uses this crate: it starts one PostgreSQL cluster for the whole run and
//! tells the tests about it through `E2E_POSTGRES_ADMIN_URL`.

pub mod browser;
pub mod chaos;
pub mod client;
pub mod faults;
pub mod follower;
pub mod origin;
pub mod ports;
pub mod postgres;
pub mod process;
pub mod pushpin;
pub mod seed;
pub mod stack;
pub mod viceroy;

#[cfg(test)]
mod pushpin_tests;

pub use origin::{Origin, OriginMode};
pub use ports::free_port;
pub use postgres::{Postgres, create_database, test_postgres_url};
pub use process::{ChildGuard, Output};
pub use pushpin::{Pushpin, PushpinOptions};
pub use stack::{Db, Stack, StackOptions, TestDatabase};
pub use viceroy::Viceroy;

use std::future::Future;
use std::time::{Duration, Instant};

/// How often readiness checks look again. Short, because every test start pays for it.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Calls `check` until it returns `Ok(true)` or `deadline` passes.
///
/// This is the one way the harness waits: by asking the real thing whether it is ready, never by
/// sleeping a guessed amount of time. `check` returns `Err` to give up at once (for example when
/// the process being waited for has already exited); the error of the last `Ok(false)` round is not
/// kept, so `what` should say what was being waited for.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The clock a follower feeds [`shared::subscription::Subscription::on_tick`] with: every
/// [`shared::subscription::TICK`], however busy the connection (`tokio::select!` it against the
/// connection's next event).
pub fn ticks() -> tokio::time::Interval {
    let mut ticks = tokio::time::interval(shared::subscription::TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

/// Random lowercase hex string of `bytes * 2` characters, for keys and database names.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
