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
//! - [`channel`]: **the core**, for any kind of entry: append (seq, store, publish in order),
//!   replay, heads, the publisher, and the SSE / WebSocket-over-HTTP / long-poll endpoints.
//! - [`chat`]: rooms and messages, one feature on the core; [`dashboard`]: live figures of the
//!   origin itself, another, built as a fork would build it.
//! - [`config`]: settings from the environment, checked at start-up; [`state`]: what handlers
//!   share; [`app`]: the router and its layers; [`routes`]: accounts, health, metrics.
//! - [`store`]: SQLite or Postgres through sqlx.
//! - [`auth`]: passwords, sessions and their tokens; [`grip`]: proof a request came through the
//!   proxy, and the instructions that answer it; [`capability`]: the proxy's authority to fetch
//!   one stream's next link; [`revoke`]: ending streams when access ends; [`limits`]: rate
//!   limits and how many password hashes run at once.
//! - [`error`]: every failure and its HTTP answer; [`extract`]: extractors that fail with it.
//! - [`metrics`]: counters at `GET /metrics`; [`frontend`]: the browser app's files.
//! - [`binary`]: the program around [`run`] (environment, signals); [`server`]: the accept
//!   loop, with its timeouts and connection limit.

pub mod app;
pub mod auth;
pub mod binary;
pub mod capability;
pub mod channel;
pub mod chat;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod frontend;
pub mod grip;
pub mod limits;
pub mod metrics;
pub mod revoke;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::channel::Channels;
use crate::channel::group::Groups;
use crate::channel::heads::{Announcer, Heads};
use crate::channel::publish::Publisher;
use crate::config::Config;
use crate::state::{AppState, Auth, Shared, SiteState, StreamSettings};
use crate::store::Store;

/// mimalloc, for every program the origin runs in (its binaries, and the tests and benches that
/// run it in process). Profiled under a storm of hold answers, glibc's malloc and free were a
/// fifth of the CPU time (docs/BENCHMARKS.md, *The hold answer*). Not in the origin's own unit
/// tests: they link a second copy of the origin (through `e2e`), which brings it.
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How often the rate limiters forget clients that went quiet.
const LIMITS_SWEEP: Duration = Duration::from_secs(60);

/// How long, at shutdown, what is still queued may take to publish.
const PUBLISH_DRAIN: Duration = Duration::from_secs(10);

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
    let (heads, inbox) = Heads::channel();
    let (publisher, publishing) = Publisher::spawn(&config.grip, metrics.clone(), heads);
    let channels = Channels {
        store: store.clone(),
        locks: Arc::default(),
        groups: Arc::new(Groups::new(metrics.append_commits.clone())),
        publisher,
    };
    let announcing = Announcer {
        store: store.clone(),
        locks: channels.locks.clone(),
        publisher: channels.publisher.clone(),
        metrics: metrics.clone(),
    }
    .spawn(inbox);
    let limits = limits::Limits::default();
    let sweeping = tokio::spawn({
        let limits = limits.clone();
        async move {
            let mut every = tokio::time::interval(LIMITS_SWEEP);
            loop {
                every.tick().await;
                limits.sweep();
            }
        }
    });
    let sweeping_presence = chat::presence::Sweeper {
        store: store.clone(),
        publisher: channels.publisher.clone(),
        ttl: config.presence_ttl,
    }
    .spawn();
    let sampling = config.dashboard.clone().map(|(interval, origin)| {
        dashboard::Sampler {
            channels: channels.clone(),
            metrics: metrics.clone(),
            interval,
            origin,
        }
        .spawn()
    });
    let activity = chat::activity::RoomActivity::new(channels.publisher.clone());
    let state = AppState::new(Shared {
        store: store.clone(),
        channels,
        auth: Auth {
            sessions: auth::Sessions::new(&config.session_secret, config.site.https),
            capabilities: capability::Capabilities::new(&config.session_secret),
        },
        grip: grip::GripVerifier::new(&config.grip),
        limits,
        metrics,
        site: SiteState {
            allowed_origins: config.site.allowed_origins.clone().into(),
        },
        streams: StreamSettings {
            poll_timeout: config.poll_timeout,
            replay_page: config.replay_page,
        },
        presence_ttl: config.presence_ttl,
        activity,
    });
    // The features: chat, and the dashboard beside it.
    let features = chat::routes(&state.grip).merge(dashboard::routes(&state.grip));
    tracing::info!(addr = %listener.local_addr()?, backend = ?store.backend(), "origin listening");
    server::serve(
        listener,
        app::router(state, features, config.frontend_dir.as_deref()),
        shutdown,
    )
    .await;
    sweeping.abort();
    sweeping_presence.abort();
    if let Some(sampling) = sampling {
        sampling.abort();
    }
    // The router and the sampler are gone; once the announcer is too, so is the last publisher
    // handle, and the publishing task drains its queue and ends.
    announcing.stop().await;
    if tokio::time::timeout(PUBLISH_DRAIN, publishing)
        .await
        .is_err()
    {
        tracing::warn!("publisher still busy at shutdown; replay covers what it did not send");
    }
    store.close().await;
    tracing::info!("origin stopped");
    Ok(())
}
