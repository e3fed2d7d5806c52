//! Chat, as one application of the core: its entry type ([`Message`]), its WebSocket commands
//! (`send`, `edit`, `delete`), and the Fanout channels of its rooms.
//!
//! Edits and deletes are entries too. A room's log only grows, so changing message 5 appends
//! an *amendment* (say seq 9) that carries message 5's new state; the origin also rewrites
//! message 5 where it is stored. Whatever a subscriber missed, its replay therefore yields the
//! current state: message 5 as it is now (never the old version), then amendment 9, which
//! changes nothing any more. A deleted message stays as a tombstone, so its seq is never
//! reused and a replay can never bring it back. Every transport applies an amendment the same
//! way: [`Message::change`].
//!
//! Everything else a room's stream needs (events, sequencing, SSE and WebSocket encoding, publish
//! items) is the payload-agnostic core in [`crate::event`], [`crate::sequencer`] and
//! [`crate::publish`], used here with `E = Message`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::event::{ClientCommand, Entry, ServerEvent};

/// One message in a room.
///
/// `seq` numbers the room's messages 1, 2, 3, … without gaps; it is the SSE
/// event id and the GRIP `prev-id`/`id`, so a reconnecting subscriber resumes
/// exactly where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Slug of the room.
    pub room: String,
    pub seq: u64,
    pub id: Uuid,
    /// Name of the author.
    pub author: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// Chosen by the composer to recognise its own message when it comes back.
    pub client_id: String,
    /// When the author last edited it (`body` is the edited text).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub edited_at: Option<OffsetDateTime>,
    /// The author deleted it: `body` is empty, and the message stays as a tombstone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Set on an amendment: this entry is the new state of message `amends`, not a message of
    /// its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends: Option<u64>,
}

/// What an entry of a room does to the messages shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new message, shown after the others.
    New(Message),
    /// The message with this seq is now `Message` (its own seq): replace it where it is shown;
    /// if it is not (an older page not loaded), there is nothing to do.
    Amend(Message),
}

impl Message {
    /// The message with `body` as its new text, edited `at`.
    pub fn edited(self, body: &str, at: OffsetDateTime) -> Message {
        Message {
            body: body.to_owned(),
            edited_at: Some(at),
            ..self
        }
    }

    /// The message's tombstone: who wrote it and when stay, the text goes.
    pub fn deleted(self) -> Message {
        Message {
            body: String::new(),
            deleted: true,
            ..self
        }
    }

    /// The amendment at `seq` that carries this message's new state.
    pub fn amendment(&self, seq: u64) -> Message {
        Message {
            seq,
            amends: Some(self.seq),
            ..self.clone()
        }
    }

    /// What this entry does to the messages shown.
    pub fn change(self) -> Change {
        match self.amends {
            None => Change::New(self),
            Some(of) => Change::Amend(Message {
                seq: of,
                amends: None,
                ..self
            }),
        }
    }
}

impl Entry for Message {
    const KIND: &'static str = "message";
    const PLURAL: &'static str = "messages";
    type Signal = RoomSignal;
    const SIGNALS: &'static [&'static str] = &["joined", "left", "typing"];

    fn seq(&self) -> u64 {
        self.seq
    }

    /// A message's body, unless it is an amendment (its target is searched, not it) or a
    /// tombstone.
    fn text(&self) -> Option<&str> {
        (self.amends.is_none() && !self.deleted).then_some(self.body.as_str())
    }
}

/// What a room's subscribers hear besides messages: who is here, who is typing. Signals are
/// never stored or replayed (`shared::event`); what they say is repaired by the next heartbeat
/// answer ([`crate::api::Presence`]) and by [`TYPING_SHOWN`] running out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RoomSignal {
    /// `user` came online in the room (the first heartbeat of their first device).
    Joined { user: String },
    /// `user` went away: their last device left, or its heartbeats stopped.
    Left { user: String },
    /// `user` is typing.
    Typing { user: String },
}

/// How often an open room sends its presence heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// A device whose last heartbeat is older than this is gone: two heartbeats missed, and some.
pub const PRESENCE_TTL: Duration = Duration::from_secs(40);

/// How long "… is typing" shows after a `typing` signal, unless another comes.
pub const TYPING_SHOWN: Duration = Duration::from_secs(4);

/// How often a composer says its author is typing, at most (the origin refuses more).
pub const TYPING_EVERY: Duration = Duration::from_secs(2);

/// What a room's subscribers receive.
pub type ChatEvent = ServerEvent<Message>;

/// What a room's WebSocket clients send: `resume`, or chat's own [`Command`].
pub type ChatCommand = ClientCommand<Command>;

/// Chat's own WebSocket commands. An edit or a delete is answered by its amendment, which
/// comes like any entry; a mistake by an `error` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Post a message, like `POST /api/rooms/{slug}/messages`.
    Send { body: String, client_id: String },
    /// Edit one's own message, like `PATCH /api/rooms/{slug}/messages/{seq}`.
    Edit { seq: u64, body: String },
    /// Delete one's own message, like `DELETE /api/rooms/{slug}/messages/{seq}`.
    Delete { seq: u64 },
    /// Say one is typing, like `POST /api/rooms/{slug}/typing`.
    Typing,
}

/// The Fanout channel of a room; a prefix keeps room channels apart from other channels.
pub fn room_channel(slug: &str) -> String {
    format!("room-{slug}")
}

/// The Fanout channel of a room's signals (presence, typing): apart from the room's channel,
/// whose items are numbered, so that they never touch its chain.
pub fn signals_channel(slug: &str) -> String {
    format!("signals-{slug}")
}

/// The channel of a room's [`Activity`]: one item per new message, for the room lists of
/// everyone who may read the room (not numbered: a list that missed one refetches anyway).
pub fn activity_channel(slug: &str) -> String {
    format!("activity-{slug}")
}

/// The channel of one user's own [`Activity`] (rooms read in another browser, rooms joined).
pub fn user_activity_channel(user: &Uuid) -> String {
    format!("user-activity-{user}")
}

/// The channel where the creation of a public room is announced to every room list.
pub const ROOMS_CHANNEL: &str = "rooms";

/// The SSE event name of [`Activity`] on `GET /api/activity`.
pub const ACTIVITY_EVENT: &str = "activity";

/// What changes a room list while it is open: it refetches the list (the counts come from the
/// database, so a missed event costs nothing but a late badge), and on [`Activity::Rooms`] also
/// reopens its stream, whose channels are the rooms it may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Activity {
    /// The stream is open: whatever happened before is in the list fetched now.
    Ready,
    /// `author` posted message `seq` in `room`.
    Message {
        room: String,
        seq: u64,
        author: String,
    },
    /// The user read `room` up to `seq` (in any browser).
    Read { room: String, seq: u64 },
    /// The rooms the user may see changed: a public room was created, or they were added to
    /// a private one.
    Rooms,
}

/// The channel of one member of a private room: every stream of theirs in that room joins it,
/// so that removing them from the room ends those streams.
pub fn member_channel(slug: &str, user: &Uuid) -> String {
    format!("member-{slug}-{user}")
}
