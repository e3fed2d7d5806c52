//! What handlers can reach: [`AppState`], made of parts a handler (or domain function) can take
//! on its own, through Axum's `State<Part>` ([`FromRef`]) or by reference (`&Store`), so that
//! each says what it uses.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;

use crate::auth::Sessions;
use crate::capability::Capabilities;
use crate::channel::Channels;
use crate::chat::activity::RoomActivity;
use crate::grip::GripVerifier;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::store::Store;

/// Everything the origin shares between requests, behind one `Arc`: Axum clones the state for
/// each handler and middleware a request passes through, and a clone of the parts themselves
/// copied keys and validation rules every time (`AppState::clone` stood out in a profile of the
/// hold answer, docs/BENCHMARKS.md). Nothing in here is per-connection state.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub store: Store,
    /// Appending to channels, and publishing what is appended.
    pub channels: Channels,
    pub auth: Auth,
    pub grip: GripVerifier,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub site: SiteState,
    pub streams: StreamSettings,
    /// How long a device stays online after its last presence heartbeat.
    pub presence_ttl: Duration,
    /// News of new messages for open room lists.
    pub activity: RoomActivity,
}

/// Sessions and the capabilities derived from them.
#[derive(Clone)]
pub struct Auth {
    pub sessions: Sessions,
    pub capabilities: Capabilities,
}

/// Where the site is.
#[derive(Clone)]
pub struct SiteState {
    /// Origins whose pages may write to the API (`config::Site`).
    pub allowed_origins: Arc<[String]>,
}

/// How streams are answered.
#[derive(Clone, Copy)]
pub struct StreamSettings {
    /// How long a long-poll is held before it answers with nothing.
    pub poll_timeout: Duration,
    /// Most entries one stream answer replays.
    pub replay_page: u32,
}

macro_rules! parts {
    ($($field:ident: $part:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.$field.clone()
            }
        })*
    };
}

parts! {
    store: Store,
    channels: Channels,
    auth: Auth,
    grip: GripVerifier,
    limits: Limits,
    metrics: Arc<Metrics>,
    site: SiteState,
    streams: StreamSettings,
}
