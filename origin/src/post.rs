//! Posting a message: the one path every message takes, from an HTTP POST or a WebSocket `send`:
//! check its published size, store it (assigning seq), then queue its publish.

use std::hash::{DefaultHasher, Hash, Hasher};

use shared::api::{PostMessage, User};
use shared::message::Message;
use shared::publish::MAX_ITEM_BYTES;
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use shared::publish::ChainId;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::heads::RoomKey;
use crate::limits::Action;
use crate::publish::{Kind, message_item};
use crate::store::{NewMessage, RoomRow};

/// Per-room publish order within this process.
///
/// The store hands out seqs (and head links) in order, but two posts to one room finish in any
/// order, and the later seq could be queued for publishing first. Holding a room's lock from
/// before the insert until its publish is queued makes this process publish each room in chain
/// order; `heads` takes the same lock. Posts to a room serialise on the database row anyway, so
/// the lock costs nothing extra. Stripes (not a
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

    pub async fn lock(&self, room_id: i64) -> MutexGuard<'_, ()> {
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
    state.limits.check(Action::Post(author.id))?;
    check_published_size(room, author, post)?;
    let _order = state.room_locks.lock(room.id).await;
    let appended = state
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
    let created = appended.is_new();
    if let Some(follows) = appended.follows {
        state.metrics.posts.inc();
        let key = RoomKey {
            id: room.id,
            slug: room.room.slug.clone(),
        };
        let item = message_item(&appended.message, follows);
        state.publisher.publish(Kind::Message(key.clone()), &item);
        state.heads.posted(key);
    }
    Ok((appended.message, created))
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
    // The longest ids a chain can have.
    let follows = ChainId {
        seq: u64::MAX,
        heads: u32::MAX,
    };
    let size = serde_json::to_vec(&message_item(&draft, follows))
        .map_err(|e| ApiError::Internal(e.into()))?
        .len();
    if size > MAX_ITEM_BYTES {
        return Err(ApiError::MessageTooLarge(size));
    }
    Ok(())
}
