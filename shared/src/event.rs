//! What a subscriber receives and what a WebSocket client sends, for any kind of channel.
//!
//! The core of the app is payload-agnostic: a channel carries *entries* of one type (chat
//! messages, dashboard samples, …), numbered 1, 2, 3, … by `seq` without gaps, and the same
//! handful of control events (`reset`, `synced`, `head`, `ack`, `error`) around them. An entry
//! type says its event name and its seq by implementing [`Entry`]; everything else (SSE and
//! WebSocket encoding, the subscriber's [`crate::sequencer::Sequencer`], publish items, the
//! origin's replay) works on any `E: Entry`.
//!
//! On the wire an entry of kind `K` is an SSE event `event: K` with `id: <seq>` and the entry's
//! JSON as data, or a WebSocket text frame `{"type": "K", "K": {...}}`. Control events carry no
//! SSE id, so they never move a client's `Last-Event-ID`.
//!
//! Besides entries, a channel may carry *signals* ([`Entry::Signal`]: chat's presence and
//! typing): ephemeral events, published without ids on a Fanout channel of their own, never
//! stored, never replayed, never counted in seq. A lost signal is not recovered: what it said
//! is said again in full soon enough (chat: every presence heartbeat is answered with who is
//! online). On the wire a signal is `{"type": "S", ...}`, or the SSE event `S` without an id.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::ErrorCode;
use crate::sse::SseEvent;

/// What a channel carries: one entry per seq.
pub trait Entry: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned + 'static {
    /// The event name of an entry: its SSE `event:` and its WebSocket `type` ("message").
    const KIND: &'static str;

    /// The name of a list of entries in a [`Page`] ("messages").
    const PLURAL: &'static str;

    /// The channel's ephemeral events: a serde enum tagged by `type`, with tags none of the
    /// control events use (chat: `presence`, `typing`); [`NoSignals`] for none.
    type Signal: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned + Send + 'static;

    /// The `type`s of [`Entry::Signal`]: a browser's `EventSource` hears only the SSE events it
    /// names.
    const SIGNALS: &'static [&'static str] = &[];

    /// Its place in the channel: 1, 2, 3, … without gaps.
    fn seq(&self) -> u64;

    /// The text people search for and count as unread (chat: a message's body). `None` for
    /// entries that are not read as text: samples, amendments, tombstones.
    fn text(&self) -> Option<&str> {
        None
    }
}

/// The signals of a channel that has none (a dashboard): no value of this type exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoSignals {}

/// The `type`s of the control events, which signals may not use.
const CONTROL_TYPES: [&str; 5] = ["ack", "reset", "synced", "head", "error"];

/// An event pushed to a subscriber of a channel of `E`s.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent<E: Entry> {
    /// A new (or replayed) entry.
    Entry(E),
    /// An ephemeral signal (no seq, never replayed).
    Signal(E::Signal),
    /// Reply to a WebSocket command that appended an entry: it got this `seq`.
    Ack {
        client_id: String,
        seq: u64,
    },
    /// The client's cursor is ahead of the channel (e.g. the database was reset), or behind what
    /// the channel still keeps: it must drop what it has and start over.
    Reset {
        last_seq: u64,
    },
    /// Reply to [`ClientCommand::Resume`] (and to a WebSocket's opening) once its replay has
    /// been sent: where the channel stands.
    Synced {
        last_seq: u64,
    },
    /// Published to the channel when it goes quiet: where it stands. A subscriber behind it
    /// missed the end of a burst and resumes (the proxy does so by itself for SSE and long-poll).
    Head {
        last_seq: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// The control events as serde sees them: `{"type": "synced", "last_seq": 9}`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Ack { client_id: String, seq: u64 },
    Reset { last_seq: u64 },
    Synced { last_seq: u64 },
    Head { last_seq: u64 },
    Error { code: ErrorCode, message: String },
}

/// An event that is not what this channel sends.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("data of SSE event {0:?} is not a JSON object")]
    NotAnObject(String),
}

impl<E: Entry> ServerEvent<E> {
    /// The event as a WebSocket text frame, `type` first: `{"type":"message","message":{…}}`.
    pub fn to_json(&self) -> String {
        match self.control() {
            Ok(control) => serde_json::to_string(&control),
            Err(Payload::Entry(entry)) => serde_json::to_string(entry)
                .map(|entry| format!(r#"{{"type":"{kind}","{kind}":{entry}}}"#, kind = E::KIND)),
            Err(Payload::Signal(signal)) => serde_json::to_string(signal),
        }
        .expect("an event serializes to JSON")
    }

    /// The event as a control event, or its entry or signal.
    fn control(&self) -> Result<Control, Payload<'_, E>> {
        Ok(match self {
            Self::Entry(entry) => return Err(Payload::Entry(entry)),
            Self::Signal(signal) => return Err(Payload::Signal(signal)),
            Self::Ack { client_id, seq } => Control::Ack {
                client_id: client_id.clone(),
                seq: *seq,
            },
            &Self::Reset { last_seq } => Control::Reset { last_seq },
            &Self::Synced { last_seq } => Control::Synced { last_seq },
            &Self::Head { last_seq } => Control::Head { last_seq },
            Self::Error { code, message } => Control::Error {
                code: *code,
                message: message.clone(),
            },
        })
    }

    /// Reads a WebSocket text frame written by [`ServerEvent::to_json`].
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        Self::from_value(serde_json::from_str(text)?)
    }

    fn from_value(mut value: Value) -> Result<Self, DecodeError> {
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind == E::KIND {
            let entry = value.get_mut(E::KIND).map(Value::take).unwrap_or_default();
            return Ok(Self::Entry(serde_json::from_value(entry)?));
        }
        if !CONTROL_TYPES.contains(&kind) {
            return Ok(Self::Signal(serde_json::from_value(value)?));
        }
        Ok(match serde_json::from_value(value)? {
            Control::Ack { client_id, seq } => Self::Ack { client_id, seq },
            Control::Reset { last_seq } => Self::Reset { last_seq },
            Control::Synced { last_seq } => Self::Synced { last_seq },
            Control::Head { last_seq } => Self::Head { last_seq },
            Control::Error { code, message } => Self::Error { code, message },
        })
    }

    /// The event as an SSE event: an entry carries its `seq` as id and its bare JSON as data
    /// (the event name already says what it is); other events carry no id, and their data is
    /// the JSON of their fields without `type`.
    pub fn to_sse(&self) -> SseEvent {
        let mut value = match self.control() {
            Err(Payload::Entry(entry)) => {
                return SseEvent {
                    id: Some(entry.seq().to_string()),
                    event: Some(E::KIND.to_owned()),
                    data: serde_json::to_string(entry).expect("an entry serializes to JSON"),
                };
            }
            Err(Payload::Signal(signal)) => serde_json::to_value(signal),
            Ok(control) => serde_json::to_value(control),
        }
        .expect("an event serializes to JSON");
        let fields = value
            .as_object_mut()
            .expect("events are tagged JSON objects");
        let event = match fields.remove("type") {
            Some(Value::String(name)) => name,
            other => unreachable!("events are tagged by a string `type`, not {other:?}"),
        };
        SseEvent {
            id: None,
            event: Some(event),
            data: value.to_string(),
        }
    }

    /// Reads back an event written by [`ServerEvent::to_sse`]. An event without a name is a
    /// `message`, as in the SSE specification.
    pub fn from_sse(sse: &SseEvent) -> Result<Self, DecodeError> {
        let name = sse.event.as_deref().unwrap_or("message");
        if name == E::KIND {
            return Ok(Self::Entry(serde_json::from_str(&sse.data)?));
        }
        let mut value: Value = serde_json::from_str(&sse.data)?;
        let Some(fields) = value.as_object_mut() else {
            return Err(DecodeError::NotAnObject(name.to_owned()));
        };
        fields.insert("type".to_owned(), Value::from(name));
        Self::from_value(value)
    }
}

/// What [`ServerEvent::control`] hands back when the event is not a control event.
enum Payload<'a, E: Entry> {
    Entry(&'a E),
    Signal(&'a E::Signal),
}

/// A command a WebSocket client sends, as a JSON text frame: `resume` is the core's, every
/// other `type` is the channel's own (`C`: a serde enum tagged by `type`, such as chat's `send`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand<C> {
    /// Replay every entry with `seq > after`, then answer [`ServerEvent::Synced`].
    Resume { after: u64 },
    /// A command of the channel's own.
    Own(C),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum CoreCommand {
    Resume { after: u64 },
}

/// The commands of a channel that takes none but `resume` (a dashboard): no value of this type
/// exists, so any other command fails to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoCommands {}

impl<C: Serialize + DeserializeOwned> ClientCommand<C> {
    /// The command as a WebSocket text frame.
    pub fn to_json(&self) -> String {
        match self {
            Self::Resume { after } => serde_json::to_string(&CoreCommand::Resume { after: *after }),
            Self::Own(command) => serde_json::to_string(command),
        }
        .expect("a command serializes to JSON")
    }

    /// Reads a command; a JSON error says what is wrong with it (unknown type, missing field).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_str(text)?;
        if value.get("type").and_then(Value::as_str) == Some("resume") {
            let CoreCommand::Resume { after } = serde_json::from_value(value)?;
            return Ok(Self::Resume { after });
        }
        serde_json::from_value(value).map(Self::Own)
    }
}

/// Entries in seq order, as history pages and long-poll answers carry them:
/// `{"messages": [...]}` for chat (the field is [`Entry::PLURAL`]), with `"reset": true` when the
/// caller's cursor was unknown and these are the latest entries to start over from. A held
/// long-poll may instead be answered by a signal: `{"signals": [...]}`, and no entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<E: Entry> {
    pub entries: Vec<E>,
    pub reset: bool,
    pub signals: Vec<E::Signal>,
}

impl<E: Entry> Default for Page<E> {
    fn default() -> Self {
        Page {
            entries: Vec::new(),
            reset: false,
            signals: Vec::new(),
        }
    }
}

impl<E: Entry> Page<E> {
    pub fn of(entries: Vec<E>) -> Self {
        Page {
            entries,
            ..Page::default()
        }
    }

    pub fn signal(signal: E::Signal) -> Self {
        Page {
            signals: vec![signal],
            ..Page::default()
        }
    }
}

impl<E: Entry> Serialize for Page<E> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        if self.signals.is_empty() {
            map.serialize_entry(E::PLURAL, &self.entries)?;
        } else {
            map.serialize_entry("signals", &self.signals)?;
        }
        if self.reset {
            map.serialize_entry("reset", &true)?;
        }
        map.end()
    }
}

impl<'de, E: Entry> Deserialize<'de> for Page<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut fields = Map::deserialize(deserializer)?;
        // `{}` is an empty page: what a held long-poll gets when its channel only announced its
        // position (`head`), whatever the channel carries.
        let entries = match fields.remove(E::PLURAL) {
            Some(entries) => serde_json::from_value(entries).map_err(D::Error::custom)?,
            None => Vec::new(),
        };
        let reset = match fields.remove("reset") {
            Some(reset) => serde_json::from_value(reset).map_err(D::Error::custom)?,
            None => false,
        };
        let signals = match fields.remove("signals") {
            Some(signals) => serde_json::from_value(signals).map_err(D::Error::custom)?,
            None => Vec::new(),
        };
        Ok(Page {
            entries,
            reset,
            signals,
        })
    }
}

/// The entry type of no channel: [`ControlEvent`]s carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoEntry {}

impl Entry for NoEntry {
    const KIND: &'static str = "none";
    const PLURAL: &'static str = "none";
    type Signal = NoSignals;

    fn seq(&self) -> u64 {
        match *self {}
    }
}

/// An event that carries no entry (`head`, `error`, …): the same on every kind of channel, for
/// the code that publishes it to any of them.
pub type ControlEvent = ServerEvent<NoEntry>;
