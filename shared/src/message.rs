//! A chat message as stored by the origin and delivered to every subscriber.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

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
}

/// The Fanout channel of a room; a prefix keeps room channels apart from any
/// other channel the app may add later.
pub fn room_channel(slug: &str) -> String {
    format!("room-{slug}")
}

/// The channel of one session: every stream a signed-in client opens joins it, so that signing
/// out (or out everywhere) can end them at once.
pub fn session_channel(sid: &uuid::Uuid) -> String {
    format!("session-{sid}")
}

/// The channel of one member of a private room: every stream of theirs in that room joins it,
/// so that removing them from the room ends those streams.
pub fn member_channel(slug: &str, user: &uuid::Uuid) -> String {
    format!("member-{slug}-{user}")
}
