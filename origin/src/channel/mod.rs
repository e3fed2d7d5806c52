//! The reliable-channel core: everything that makes "every entry once, in order, nothing lost"
//! true, for any kind of entry.
//!
//! A channel is a gapless, numbered log of entries of one type ([`shared::event::Entry`]),
//! stored in the database and published on the Fanout channel of the same name. Chat rooms are
//! channels of messages (`crate::chat`); dashboards are channels of samples
//! (`crate::dashboard`). A kind of channel plugs in by implementing [`Feed`]: which channel a
//! key names and who may follow it, and what its WebSocket clients may send besides `resume`.
//!
//! - [`log`]: append (seq, store, publish, in that order); [`group`]: the group commit that
//!   appends arriving together share.
//! - [`history`]: pages of entries for clients that scroll back.
//! - [`publish`]: the batching, retrying publisher, and the items it sends.
//! - [`heads`]: a quiet channel's position, so no subscriber keeps a stale tail.
//! - [`stream`]: the three ways to follow a channel (SSE, WebSocket-over-HTTP, long-poll),
//!   generic over the [`Feed`].
//! - [`replay`]: cursors (`Last-Event-ID`, `Grip-Last`) and what a subscriber missed.

pub mod group;
pub mod heads;
pub mod history;
pub mod log;
pub mod publish;
pub mod replay;
pub mod stream;

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::Invalid;
use shared::event::{Entry, ServerEvent};
use shared::paths::Streams;
use uuid::Uuid;

use crate::auth::Session;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::Channel;

pub use log::{Appended, Channels};

/// One kind of channel, as the stream endpoints see it. Implemented by `chat::Chat` and
/// `dashboard::Dashboard`; a fork adds its own (docs/FORKING.md).
pub trait Feed: Send + Sync + 'static {
    /// What the channel carries.
    type Entry: Entry + Send + Sync;
    /// What its WebSocket clients may send besides `resume` (`shared::event::NoCommands` for
    /// none).
    type Command: Serialize + DeserializeOwned + Send;
    /// Its stream paths, with one placeholder: the key (a room's slug, a dashboard's name).
    const STREAMS: Streams;

    /// Checks a key from a path (slug rules, name rules), before anything is looked up.
    fn validate_key(key: &str) -> Result<(), Invalid>;

    /// The Fanout channel of `key` (`room-lobby`).
    fn channel(key: &str) -> String;

    /// The channel `key` names, if `user` may follow it: 404 otherwise, for a channel that does
    /// not exist and one the user may not see alike.
    fn open(
        state: &AppState,
        key: &str,
        user: Uuid,
    ) -> impl Future<Output = ApiResult<Target>> + Send;

    /// Runs a command of the channel's own from a WebSocket client following `key`; returns the
    /// events that answer it on that socket. Mistakes are errors (sent back as `error` events).
    fn command(
        state: &AppState,
        key: &str,
        target: &Target,
        session: &Session,
        command: Self::Command,
    ) -> impl Future<Output = ApiResult<Vec<ServerEvent<Self::Entry>>>> + Send;
}

/// What a stream follows: the channel, the channel of its signals if it has any (chat:
/// presence and typing), and the channels that can end the stream besides the session's
/// (chat: a private room's member channel, `crate::revoke`).
#[derive(Debug, Clone)]
pub struct Target {
    pub channel: Channel,
    pub signals: Option<String>,
    pub ends_with: Vec<String>,
}
