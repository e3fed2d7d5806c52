//! Heads: when a room goes quiet, tell Fanout where it stands, so that no subscriber is left
//! without the end of a burst.
//!
//! A publish can fail to reach a subscriber with nothing after it to reveal the gap:
//! - Fanout/Pushpin queues at most 100 publishes for a stream it cannot write to yet (a slow
//!   reader) and drops the rest; when those are the end of a burst, no later `prev-id` shows it.
//! - The publisher drops or gives up an item ([`crate::publish`]), or the origin dies between
//!   storing a message and publishing it.
//! - The proxy drops WebSocket messages under load; it has no gap recovery for WebSockets.
//!
//! So once a room has been quiet for a moment, the origin publishes a *head*: an item with no
//! message whose `prev-id` is the room's chain tail and whose `id` is the next link
//! ([`ChainId`](shared::publish::ChainId)). A stream in step moves one link on and gets a small `head` event (a held
//! long-poll is answered with no messages); a stream that is behind sees the mismatch and the
//! proxy fetches its next link, where the origin replays what it missed. WebSocket clients
//! compare the head's `last_seq` with their own and `resume` (`shared::sequencer`).
//!
//! A head that reaches a stream still backed up is dropped like the rest, so heads follow a
//! room's last post on a [`SCHEDULE`]; one that could not be published (the proxy is down) is
//! retried until one goes out. The chain tail lives in the database (`rooms.heads`), so every
//! origin's posts and holds agree on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::time::{DelayQueue, delay_queue};

use crate::metrics::Metrics;
use crate::post::RoomLocks;
use crate::publish::{Kind, Publisher, head_item};
use crate::store::Store;

/// When heads follow a room's last post. The first comes soon after a burst (a reader whose
/// backlog drained by then gets its tail within that time); later ones catch readers that stay
/// stalled longer. After the last, the proxy's own next-link refresh (`stream::NEXT_LINK_TIMEOUT`)
/// still checks every stream.
pub const SCHEDULE: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
    Duration::from_secs(30),
];

/// How far back, at start-up, to look for rooms to announce: a previous origin may have stored
/// their last message and died before publishing it.
const STARTUP_LOOKBACK: Duration = Duration::from_secs(600);

/// Which room a head is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoomKey {
    pub id: i64,
    pub slug: String,
}

pub(crate) enum Event {
    /// A message went out: (re)start the room's schedule.
    Posted(RoomKey),
    /// A message's publish was lost: the same.
    LostMessage(RoomKey),
    /// A head's publish was lost: keep announcing.
    LostHead(RoomKey),
}

/// The handle posts and the publisher tell about rooms; cheap to clone.
#[derive(Clone)]
pub struct Heads {
    events: mpsc::UnboundedSender<Event>,
}

/// The receiving side, until [`Announcer::spawn`] starts the task.
pub struct HeadsInbox(pub(crate) mpsc::UnboundedReceiver<Event>);

impl Heads {
    /// A handle and its inbox: the publisher needs the handle before the task can be given the
    /// publisher.
    pub fn channel() -> (Heads, HeadsInbox) {
        let (events, inbox) = mpsc::unbounded_channel();
        (Heads { events }, HeadsInbox(inbox))
    }

    /// A message for `room` was queued for publishing.
    pub fn posted(&self, room: RoomKey) {
        // A closed inbox means the origin is shutting down: nothing left to announce.
        let _ = self.events.send(Event::Posted(room));
    }

    /// A message for `room` could not be published (see [`crate::publish`]).
    pub fn lost_message(&self, room: RoomKey) {
        let _ = self.events.send(Event::LostMessage(room));
    }

    /// A head for `room` could not be published.
    pub fn lost_head(&self, room: RoomKey) {
        let _ = self.events.send(Event::LostHead(room));
    }
}

/// What the task needs to announce a room.
pub struct Announcer {
    pub store: Store,
    pub locks: Arc<RoomLocks>,
    pub publisher: Publisher,
    pub metrics: Arc<Metrics>,
}

/// A running announcer; [`Running::stop`] ends it.
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    /// Stops announcing (at shutdown) and waits for the task, which lets go of its publisher.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Announcer {
    /// Starts the task, first scheduling the rooms that were active lately.
    pub fn spawn(self, inbox: HeadsInbox) -> Running {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(self.run(inbox.0, stopped));
        Running { stop, task }
    }

    async fn run(self, mut inbox: mpsc::UnboundedReceiver<Event>, mut stop: oneshot::Receiver<()>) {
        let mut schedule = Schedule::default();
        let since = crate::store::now_millis() - STARTUP_LOOKBACK.as_millis() as i64;
        match self.store.rooms_active_since(since).await {
            Ok(rooms) => {
                for (id, slug) in rooms {
                    schedule.restart(RoomKey { id, slug });
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not list recently active rooms"),
        }
        loop {
            tokio::select! {
                _ = &mut stop => return,
                Some(event) = inbox.recv() => match event {
                    Event::Posted(room) | Event::LostMessage(room) => schedule.restart(room),
                    // Not from the start: a proxy that refuses every head must not be asked
                    // four times a second.
                    Event::LostHead(room) => schedule.keep(room),
                },
                Some(due) = schedule.queue.next(), if !schedule.queue.is_empty() => {
                    let room_id = due.into_inner();
                    if let Some(entry) = schedule.rooms.remove(&room_id) {
                        let announced = self.announce(&entry.room).await;
                        schedule.next(entry, announced);
                    }
                }
            }
        }
    }

    /// Publishes one head for `room`, in order with its posts; false if it could not.
    async fn announce(&self, room: &RoomKey) -> bool {
        let _order = self.locks.lock(room.id).await;
        match self.store.announce_head(room.id).await {
            Ok(Some(head)) => {
                self.publisher
                    .publish(Kind::Head(room.clone()), &head_item(&room.slug, head));
                self.metrics.heads.inc();
                true
            }
            // The room is gone: nothing to announce, ever.
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(room = %room.slug, error = %err, "could not announce a head");
                false
            }
        }
    }
}

/// Which room is due for a head when.
#[derive(Default)]
struct Schedule {
    queue: DelayQueue<i64>,
    rooms: HashMap<i64, Entry>,
}

struct Entry {
    room: RoomKey,
    key: delay_queue::Key,
    /// The index in [`SCHEDULE`] of the wait that ends at `key`.
    step: usize,
}

impl Schedule {
    /// From the first step: the room just had news.
    fn restart(&mut self, room: RoomKey) {
        match self.rooms.get_mut(&room.id) {
            Some(entry) => {
                entry.step = 0;
                self.queue.reset(&entry.key, SCHEDULE[0]);
            }
            None => self.insert(room, 0),
        }
    }

    /// Leaves a scheduled room as it is; schedules one whose schedule ended at its last step.
    fn keep(&mut self, room: RoomKey) {
        if !self.rooms.contains_key(&room.id) {
            self.insert(room, SCHEDULE.len() - 1);
        }
    }

    /// After a head: the next step, or the last one again if the head did not go out.
    fn next(&mut self, entry: Entry, announced: bool) {
        let last = SCHEDULE.len() - 1;
        match entry.step {
            step if step < last => self.insert(entry.room, step + 1),
            _ if !announced => self.insert(entry.room, last),
            _ => {}
        }
    }

    fn insert(&mut self, room: RoomKey, step: usize) {
        let key = self.queue.insert(room.id, SCHEDULE[step]);
        self.rooms.insert(room.id, Entry { room, key, step });
    }
}
