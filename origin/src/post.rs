//! Posting a message: the one path every message takes, from an HTTP POST or a WebSocket `send`:
//! check its published size, store it (assigning seq), then queue its publish.

use std::hash::{DefaultHasher, Hash, Hasher};

use shared::api::{PostMessage, User};
use shared::message::Message;
use shared::publish::MAX_ITEM_BYTES;
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::publish::message_item;
use crate::store::{NewMessage, RoomRow};

/// Per-room publish order within this process.
///
/// The store hands out seqs in order, but two posts to one room finish in any order, and the
/// later seq could be queued for publishing first. Holding a room's lock from before the insert
/// until its publish is queued makes this process publish each room in seq order. Posts to a
/// room serialise on the database row anyway, so the lock costs nothing extra. Stripes (not a
/// map of rooms) keep memory fixed. Across several origins order is not guaranteed, and it need
/// not be: the proxy recovers from out-of-order ids through the next link, only more slowly.
pub struct RoomLocks {
    stripes: Box<[Mutex<()>]>,
}

impl RoomLocks {
    pub fn new(stripes: usize) -> RoomLocks {
        RoomLocks {
            stripes: (0..stripes).map(|_| Mutex::new(())).collect(),
        }
    }

    async fn lock(&self, room_id: i64) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        room_id.hash(&mut hasher);
        let stripe = (hasher.finish() % self.stripes.len() as u64) as usize;
        self.stripes[stripe].lock().await
    }
}

/// Stores and publishes a message; returns it and whether it is new (`false`: a retry of a
/// `client_id` this author already used, answered with the stored message and not published again).
pub async fn post_message(
    state: &AppState,
    room: &RoomRow,
    author: &User,
    post: &PostMessage,
) -> ApiResult<(Message, bool)> {
    check_published_size(room, author, post)?;
    let _order = state.room_locks.lock(room.id).await;
    let (message, created) = state
        .store
        .append_message(
            room,
            NewMessage {
                author,
                body: &post.body,
                client_id: &post.client_id,
            },
        )
        .await?;
    if created {
        state.metrics.posts.inc();
        state.publisher.publish(message_item(&message));
    }
    Ok((message, created))
}

/// Refuses, before anything is written, a message whose publish item would exceed Fanout's
/// limit (a 4,000-character body can grow past it once escaped three times over).
fn check_published_size(room: &RoomRow, author: &User, post: &PostMessage) -> ApiResult<()> {
    let draft = Message {
        room: room.room.slug.clone(),
        seq: u64::MAX,
        id: Uuid::nil(),
        author: author.name.clone(),
        body: post.body.clone(),
        sent_at: time::OffsetDateTime::now_utc(),
        client_id: post.client_id.clone(),
    };
    let size = serde_json::to_vec(&message_item(&draft))
        .map_err(|e| ApiError::Internal(e.into()))?
        .len();
    if size > MAX_ITEM_BYTES {
        return Err(ApiError::MessageTooLarge(size));
    }
    Ok(())
}
