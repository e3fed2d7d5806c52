//! The chat **origin**: the one component with state, which lives entirely in the database.
//!
//! Where it sits in the data flow:
//!
//! ```text
//! composer ──POST /messages──▶ edge ─▶ origin: store (seq) ─▶ publish ─▶ Fanout/Pushpin ─▶ subscribers
//! subscriber ──GET /events──▶ edge ─handoff─▶ Fanout ─▶ origin: replay + GRIP hold ─┘
//! ```
//!
//! It answers the JSON API, answers the proxy's stream requests with GRIP instructions (which
//! channel to join, the replay the subscriber missed), speaks WebSocket-over-HTTP, and publishes
//! every new message. It holds no connection: Fanout does. Any number of origins can run side
//! by side against one Postgres.
//!
//! # Layout
//! - [`config`]: settings from the environment, checked at start-up.
//! - [`app`]: shared state and the router; [`routes`]: the JSON API; [`stream`]: SSE,
//!   WebSocket-over-HTTP and long-poll.
//! - [`store`]: SQLite or Postgres through sqlx; [`post`]: store-then-publish, in order;
//!   [`publish`]: the batching, retrying publisher; [`heads`]: a quiet room's position, so no
//!   subscriber keeps a stale tail; [`replay`]: what a subscriber missed.
//! - [`auth`]: passwords, sessions and their tokens; [`access`]: who may see a room; [`grip`]:
//!   proof a request came through the proxy; [`capability`]: the proxy's authority to fetch
//!   one stream's next link; [`revoke`]: ending streams when access ends; [`limits`]: rate
//!   limits and how many password hashes run at once.
//! - [`error`]: every failure and its HTTP answer; [`extract`]: extractors that fail with it.
//! - [`metrics`]: counters at `GET /metrics`; [`frontend`]: the browser app's files.
//! - [`binary`]: the program around [`run`] (environment, signals); [`server`]: the accept
//!   loop, with its timeouts and connection limit.

pub mod access;
pub mod app;
pub mod auth;
pub mod binary;
pub mod capability;
pub mod config;
pub mod error;
pub mod extract;
pub mod frontend;
pub mod grip;
pub mod heads;
pub mod limits;
pub mod metrics;
pub mod post;
pub mod publish;
pub mod replay;
pub mod revoke;
pub mod routes;
pub mod server;
pub mod store;
pub mod stream;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::AppState;
use crate::config::Config;
use crate::heads::{Announcer, Heads};
use crate::publish::Publisher;
use crate::store::Store;

/// Serves the origin on `listener` until `shutdown` completes, then finishes in-flight requests,
/// sends what is still queued for publishing, and closes the database.
///
/// The binary passes a bound port and Ctrl-C; tests bind port 0 and pass their own signal.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url).await?;
    let metrics = Arc::new(metrics::Metrics::default());
    let room_locks = Arc::new(post::RoomLocks::new(64));
    let (heads, inbox) = Heads::channel();
    let (publisher, publishing) = Publisher::spawn(&config.grip, metrics.clone(), heads.clone());
    let announcing = Announcer {
        store: store.clone(),
        locks: room_locks.clone(),
        publisher: publisher.clone(),
        metrics: metrics.clone(),
    }
    .spawn(inbox);
    let limits = limits::Limits::default();
    let sweeping = tokio::spawn({
        let limits = limits.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.sweep();
            }
        }
    });
    let state = AppState {
        metrics,
        store: store.clone(),
        sessions: auth::Sessions::new(&config.session_secret, config.site.https),
        capabilities: capability::Capabilities::new(&config.session_secret),
        grip: grip::GripVerifier::new(&config.grip),
        publisher,
        heads,
        room_locks,
        limits,
        allowed_origins: config.site.allowed_origins.clone().into(),
        poll_timeout: config.poll_timeout,
        replay_page: config.replay_page,
    };
    tracing::info!(addr = %listener.local_addr()?, backend = ?store.backend(), "origin listening");
    server::serve(
        listener,
        app::router(state, config.frontend_dir.as_deref()),
        shutdown,
    )
    .await;
    sweeping.abort();
    // The router is gone; once the announcer is too, so is the last publisher handle, and the
    // publishing task drains its queue and ends.
    announcing.stop().await;
    if tokio::time::timeout(Duration::from_secs(10), publishing)
        .await
        .is_err()
    {
        tracing::warn!("publisher still busy at shutdown; replay covers what it did not send");
    }
    store.close().await;
    tracing::info!("origin stopped");
    Ok(())
}
