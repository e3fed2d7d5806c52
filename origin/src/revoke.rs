//! Ending streams when access ends: a session signed out (or out everywhere), a member removed
//! from a private room. Each stream joins a channel for its session and, in a private room, one
//! for its member (`channel::stream::Access::subscribe`); publishing the closing items there ends every
//! such stream at once, whatever transport holds it. Should that publish be lost, each stream
//! still ends at its next-link refresh, which checks the session and the membership again.

use shared::chat::member_channel;
use shared::session::session_channel;
use uuid::Uuid;

use crate::capability::Capabilities;
use crate::channel::publish::{Kind, Publisher, closing_items};
use crate::error::ApiError;

/// Ends every stream opened in session `sid`. Streams with next links gave the session
/// channel the session's mark as its `prev-id` (`capability`), so the closing items carry it
/// too, or Pushpin would take them for a gap.
pub fn end_session_streams(publisher: &Publisher, capabilities: &Capabilities, sid: &Uuid) {
    let mark = capabilities.session_mark(sid);
    for mut item in closing_items(&session_channel(sid), &ApiError::SessionEnded) {
        item.prev_id = Some(mark.clone());
        publisher.publish(Kind::Control, &item);
    }
}

/// Ends every stream `user` holds in the private room `slug`.
pub fn end_member_streams(publisher: &Publisher, slug: &str, user: &Uuid) {
    end(
        publisher,
        &member_channel(slug, user),
        &ApiError::NotFound("room"),
    );
}

fn end(publisher: &Publisher, channel: &str, error: &ApiError) {
    for item in closing_items(channel, error) {
        publisher.publish(Kind::Control, &item);
    }
}
