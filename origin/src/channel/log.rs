//! Appending to a channel: the one path every entry takes, a chat message from an HTTP POST or a
//! WebSocket `send` as much as a dashboard sample: join the channel's group commit (`group`),
//! take the channel's next seq, build the entry and its publish item, store it; once the group
//! has committed, its driver queues the item. Amending an entry (a chat edit or delete) takes
//! the channel's lock and a transaction of its own: its amendment is an entry like any other.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use shared::event::Entry;
use shared::publish::MAX_ITEM_BYTES;
use tokio::sync::{Mutex, MutexGuard};

use super::group::Groups;
use super::heads::ChannelKey;
use super::publish::{Kind, Publisher, entry_item};
use crate::error::{ApiError, ApiResult};
use crate::store::{Channel, Slot, Store, StoreError, Stored};

/// Lock stripes: channels share them, so memory stays fixed however many channels there are.
const STRIPES: usize = 64;

/// Per-channel publish order within this process.
///
/// The store hands out seqs (and head links) in order, but two transactions on one channel
/// finish in any order, and the later seq could be queued for publishing first. Holding a
/// channel's lock from before its transaction begins until its publishes are queued makes this
/// process publish each channel in chain order: a group commit's driver holds it (`group`), as
/// do an amendment and `heads`. Writes to a channel serialise on its database row anyway, so
/// the lock costs nothing extra. Across several origins order is not guaranteed, and it need
/// not be: the proxy recovers from out-of-order ids through the next link, only more slowly.
pub struct ChannelLocks {
    stripes: Box<[Mutex<()>]>,
}

impl Default for ChannelLocks {
    fn default() -> Self {
        ChannelLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl ChannelLocks {
    pub async fn lock(&self, channel_id: i64) -> MutexGuard<'_, ()> {
        let mut hasher = DefaultHasher::new();
        channel_id.hash(&mut hasher);
        let stripe = (hasher.finish() % self.stripes.len() as u64) as usize;
        self.stripes[stripe].lock().await
    }
}

/// What [`Channels::append`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended<E> {
    pub entry: E,
    /// `false`: the dedupe key was taken, and `entry` is the one appended then (a retry is
    /// answered with the first entry and not published again).
    pub new: bool,
}

/// Appends to channels and publishes what was appended; cheap to clone.
#[derive(Clone)]
pub struct Channels {
    pub store: Store,
    pub locks: Arc<ChannelLocks>,
    pub groups: Arc<Groups>,
    pub publisher: Publisher,
}

impl Channels {
    /// Appends the entry `make` builds for the channel's next seq, unless `dedupe` names one
    /// appended before. Refused, before anything is written, when its publish item would exceed
    /// Fanout's limit.
    pub async fn append<E: Entry>(
        &self,
        channel: &Channel,
        dedupe: Option<&str>,
        make: impl FnOnce(u64) -> E,
    ) -> ApiResult<Appended<E>> {
        let mut member = self.join_group(channel).await?;
        let stored = Store::append_in(member.tx(), channel.id, dedupe, |slot| {
            let entry = make(slot.seq);
            let item = publish_item(channel, &entry, slot)?;
            Ok((entry, item))
        })
        .await?;
        let (appended, item) = match stored {
            Stored::New { entry, with } => (Appended { entry, new: true }, Some(with)),
            Stored::Existing(entry) => (Appended { entry, new: false }, None),
        };
        member.commit(item).await?;
        Ok(appended)
    }

    /// Amends entry `target`: `make` gets it as stored now and returns its new state, or
    /// refuses (nothing is written). The new state replaces the stored entry, and its
    /// amendment (`amendment(new state, seq)`) is appended and published at the channel's next
    /// seq. `None` if there is no entry `target`.
    pub async fn amend<E: Entry>(
        &self,
        channel: &Channel,
        target: u64,
        make: impl FnOnce(E) -> ApiResult<E>,
        amendment: impl FnOnce(&E, u64) -> E,
    ) -> ApiResult<Option<E>> {
        let _order = self.locks.lock(channel.id).await;
        let amended = self
            .store
            .amend(channel.id, target, |slot, current| {
                let now = make(current)?;
                let amendment = amendment(&now, slot.seq);
                let item = publish_item(channel, &amendment, slot)?;
                Ok::<_, ApiError>((now, amendment, item))
            })
            .await?;
        let Some((amendment, item)) = amended else {
            return Ok(None);
        };
        self.queue(channel, item);
        Ok(Some(amendment))
    }

    /// Queues a stored entry's publish item; the publisher tells `heads` when it went out, and
    /// the channel's head follows once it goes quiet.
    pub(super) fn queue(&self, channel: &Channel, item: String) {
        let key = ChannelKey {
            id: channel.id,
            name: channel.name.clone(),
        };
        self.publisher.publish_json(Kind::Entry(key), item);
    }
}

/// The publish item of `entry` in `slot`, built once: its size is checked here, and the same
/// bytes are published. Refused when it exceeds Fanout's limit.
fn publish_item<E: Entry>(channel: &Channel, entry: &E, slot: &Slot) -> Result<String, StoreError> {
    let item = entry_item(&channel.name, entry, slot.follows);
    let item = serde_json::to_string(&item).expect("a publish item serialises");
    match item.len() {
        len if len > MAX_ITEM_BYTES => Err(StoreError::TooLarge(len)),
        _ => Ok(item),
    }
}
