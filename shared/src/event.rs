//! What a subscriber receives and what a WebSocket client sends.
//!
//! WebSocket clients get [`ServerEvent`] as JSON text frames; SSE clients get
//! the same events as [`SseEvent`]s (see [`ServerEvent::to_sse`]), where a
//! message's `seq` becomes the SSE id so `Last-Event-ID` resumes the stream.

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::sse::SseEvent;

/// An event pushed to a subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// A new (or replayed) message: `{"type":"message","message":{...}}`.
    Message {
        message: Message,
    },
    /// Reply to a WebSocket [`ClientCommand::Send`]: the message got this `seq`.
    Ack {
        client_id: String,
        seq: u64,
    },
    /// The client's cursor is ahead of the room (e.g. the database was reset):
    /// it must drop what it has and reload.
    Reset {
        last_seq: u64,
    },
    /// Reply to [`ClientCommand::Resume`] once its replay has been sent.
    Synced {
        last_seq: u64,
    },
    /// Published to the room when it goes quiet: where the room stands. A subscriber behind it
    /// missed the end of a burst and resumes (the proxy does so by itself for SSE and long-poll).
    Head {
        last_seq: u64,
    },
    Error {
        code: String,
        message: String,
    },
}

/// A command a WebSocket client sends, as a JSON text frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientCommand {
    /// Post a message, like `POST /api/rooms/{slug}/messages`.
    Send { body: String, client_id: String },
    /// Replay every message with `seq > after`, then answer [`ServerEvent::Synced`].
    Resume { after: u64 },
}

impl ServerEvent {
    /// The event's `type`, which is also its SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Message { .. } => "message",
            Self::Ack { .. } => "ack",
            Self::Reset { .. } => "reset",
            Self::Synced { .. } => "synced",
            Self::Head { .. } => "head",
            Self::Error { .. } => "error",
        }
    }

    /// The event as a WebSocket text frame.
    pub fn to_json(&self) -> String {
        // Only strings, integers and rfc3339 dates inside: serializing cannot fail.
        serde_json::to_string(self).expect("ServerEvent serializes to JSON")
    }

    /// The event as an SSE event.
    ///
    /// A message carries its `seq` as id and the bare [`Message`] JSON as data
    /// (the SSE event name already says what it is). Other events carry no id,
    /// so they never move the client's `Last-Event-ID`, and their data is the
    /// JSON of their fields without `type`.
    pub fn to_sse(&self) -> SseEvent {
        let event = Some(self.name().to_owned());
        match self {
            Self::Message { message } => SseEvent {
                id: Some(message.seq.to_string()),
                event,
                data: serde_json::to_string(message).expect("Message serializes to JSON"),
            },
            _ => {
                let mut value = serde_json::to_value(self).expect("ServerEvent serializes to JSON");
                if let Some(fields) = value.as_object_mut() {
                    fields.remove("type");
                }
                SseEvent {
                    id: None,
                    event,
                    data: value.to_string(),
                }
            }
        }
    }

    /// Reads back an event written by [`ServerEvent::to_sse`]; for SSE clients
    /// (the frontend and the end-to-end tests). An event without a name is a
    /// `message`, as in the SSE specification.
    pub fn from_sse(sse: &SseEvent) -> Result<Self, serde_json::Error> {
        let name = sse.event.as_deref().unwrap_or("message");
        if name == "message" {
            let message = serde_json::from_str(&sse.data)?;
            return Ok(Self::Message { message });
        }
        let mut value: serde_json::Value = serde_json::from_str(&sse.data)?;
        let Some(fields) = value.as_object_mut() else {
            return Err(serde::de::Error::custom(format!(
                "data of SSE event {name:?} is not a JSON object"
            )));
        };
        fields.insert("type".to_owned(), serde_json::Value::from(name));
        serde_json::from_value(value)
    }
}

impl ClientCommand {
    /// The command as a WebSocket text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ClientCommand serializes to JSON")
    }
}
