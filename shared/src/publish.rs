//! Items for the GRIP publish API (`POST /publish/` with `{"items":[...]}`).
//!
//! Each item delivers one event to one channel, in the formats its
//! subscribers need (SSE streams, WebSockets, long-polls).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::{Entry, ServerEvent};

/// Fanout rejects a published item larger than this.
pub const MAX_ITEM_BYTES: usize = 65_536;

/// A link of a channel's publish chain: the `id` of a published item, and so the `prev-id` the
/// next item names.
///
/// Every item published to a room's channel is one link of a chain: message `seq` is the link
/// `"seq"`, and each *head* published after it while the room is quiet (see
/// [`crate::event::ServerEvent::Head`]) is `"seq.1"`, `"seq.2"`, …. A head needs an id of its
/// own, because the proxy drops an item whose id it saw recently, and it needs one at all,
/// because a stream's position becomes the id of the last item it delivered: an item without an
/// id would switch the stream's gap detection off. Subscribers only ever see `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChainId {
    pub seq: u64,
    /// Heads published since message `seq` (0: the message itself).
    pub heads: u32,
}

impl ChainId {
    /// The link of message `seq` (0: the empty room).
    pub fn message(seq: u64) -> ChainId {
        ChainId { seq, heads: 0 }
    }

    /// The link of the next head after this one.
    pub fn next_head(self) -> ChainId {
        ChainId {
            seq: self.seq,
            heads: self.heads + 1,
        }
    }

    /// Reads `"12"` or `"12.3"` back; `None` for anything else (a malformed `Grip-Last`),
    /// leading zeros included: every id has one spelling.
    pub fn parse(id: &str) -> Option<ChainId> {
        let digits = |s: &str| {
            !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit())
                && (s == "0" || !s.starts_with('0'))
        };
        let (seq, heads) = match id.split_once('.') {
            None => (id, None),
            Some((seq, heads)) => (seq, Some(heads)),
        };
        if !digits(seq) {
            return None;
        }
        let heads = match heads {
            None => 0,
            Some(h) if digits(h) => h.parse().ok().filter(|&h| h > 0)?,
            Some(_) => return None,
        };
        Some(ChainId {
            seq: seq.parse().ok()?,
            heads,
        })
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.heads {
            0 => write!(f, "{}", self.seq),
            heads => write!(f, "{}.{heads}", self.seq),
        }
    }
}

/// Body of `POST /publish/`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublishRequest {
    pub items: Vec<Item>,
}

/// One item: what to deliver on `channel`.
///
/// `id` and `prev-id` let the proxy notice a gap: if `prev-id` is not the id
/// it delivered last on the channel, it does not deliver the item and instead
/// asks the origin (via `Grip-Link`) for what was missed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "prev-id", default, skip_serializing_if = "Option::is_none")]
    pub prev_id: Option<String>,
    pub formats: Formats,
}

impl Item {
    /// An item carrying `event` to SSE streams and WebSockets on `channel`:
    /// the stream gets [`ServerEvent::to_sse`] encoded, the socket gets
    /// [`ServerEvent::to_json`].
    pub fn for_event<E: Entry>(
        channel: impl Into<String>,
        id: Option<String>,
        prev_id: Option<String>,
        event: &ServerEvent<E>,
    ) -> Self {
        Self {
            channel: channel.into(),
            id,
            prev_id,
            formats: Formats {
                http_stream: Some(HttpStream::content(event.to_sse().encode())),
                ws_message: Some(WsMessage::content(event.to_json())),
                http_response: None,
            },
        }
    }
}

/// The item in each transport's format; a subscriber gets only its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Formats {
    #[serde(
        rename = "http-stream",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_stream: Option<HttpStream>,
    #[serde(
        rename = "ws-message",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ws_message: Option<WsMessage>,
    #[serde(
        rename = "http-response",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http_response: Option<HttpResponse>,
}

/// Bytes appended to held streams (for SSE: encoded events).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpStream {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

impl HttpStream {
    pub fn content(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            action: None,
        }
    }
}

/// A text frame sent to subscribed WebSockets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WsMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

impl WsMessage {
    pub fn content(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            action: None,
        }
    }
}

/// The response that completes held long-polls.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

/// What the proxy does with the format, instead of (or besides) sending content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Deliver the content (the default).
    Send,
    /// Close the subscribers' connections.
    Close,
    /// Tell subscribers to fetch the content themselves (reliable streams).
    Hint,
}
