//! Heads: when a channel goes quiet, tell Fanout where it stands, so that no subscriber is left
//! without the end of a burst.
//!
//! A publish can fail to reach a subscriber with nothing after it to reveal the gap:
//! - Fanout/Pushpin queues at most 100 publishes for a stream it cannot write to yet (a slow
//!   reader) and drops the rest; when those are the end of a burst, no later `prev-id` shows it.
//! - The publisher drops or gives up an item ([`super::publish`]), or the origin dies between
//!   storing an entry and publishing it.
//! - The proxy drops WebSocket messages under load; it has no gap recovery for WebSockets.
//!
//! So once a channel has been quiet for a moment, the origin publishes a *head*: an item with no
//! entry whose `prev-id` is the channel's chain tail and whose `id` is the next link
//! ([`ChainId`](shared::publish::ChainId)). A stream in step moves one link on and gets a small `head` event (a held
//! long-poll is answered with an empty page); a stream that is behind sees the mismatch and the
//! proxy fetches its next link, where the origin replays what it missed. WebSocket clients
//! compare the head's `last_seq` with their own and `resume` (`shared::sequencer`).
//!
//! A head that reaches a stream still backed up is dropped like the rest, so heads follow a
//! channel's last publish on a [`SCHEDULE`], counted from when the proxy took the entry (not
//! from when it was stored: under load publishing lags, and heads queued behind a burst would
//! reach its slow readers while they are still backed up); one that could not be published
//! (the proxy is down) is retried until one goes out. The chain tail lives in the database
//! (`channels.heads`), so every origin's appends and holds agree on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::time::{DelayQueue, delay_queue};

use super::log::ChannelLocks;
use super::publish::{Kind, Publisher, head_item};
use crate::metrics::Metrics;
use crate::store::Store;

/// When heads follow a channel's last published entry. The first comes soon after a burst (a
/// reader whose backlog drained by then gets its tail within that time); later ones catch
/// readers that stay stalled longer. After the last, the proxy's own next-link refresh
/// (`stream::NEXT_LINK_TIMEOUT`) still checks every stream.
pub const SCHEDULE: [Duration; 5] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(3),
    Duration::from_secs(10),
    Duration::from_secs(30),
];

/// How far back, at start-up, to look for channels to announce: a previous origin may have
/// stored their last entry and died before publishing it.
const STARTUP_LOOKBACK: Duration = Duration::from_secs(600);

/// Which channel a head is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelKey {
    pub id: i64,
    /// The Fanout channel.
    pub name: String,
}

pub(crate) enum Event {
    /// The proxy took an entry: (re)start the channel's schedule.
    Published(ChannelKey),
    /// An entry's publish was lost: the same.
    LostEntry(ChannelKey),
    /// A head's publish was lost: keep announcing.
    LostHead(ChannelKey),
}

/// The handle appends and the publisher tell about channels; cheap to clone.
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

    /// The proxy took an entry of `channel`.
    pub fn published(&self, channel: ChannelKey) {
        // A closed inbox means the origin is shutting down: nothing left to announce.
        let _ = self.events.send(Event::Published(channel));
    }

    /// An entry of `channel` could not be published (see [`super::publish`]).
    pub fn lost_entry(&self, channel: ChannelKey) {
        let _ = self.events.send(Event::LostEntry(channel));
    }

    /// A head for `channel` could not be published.
    pub fn lost_head(&self, channel: ChannelKey) {
        let _ = self.events.send(Event::LostHead(channel));
    }
}

/// What the task needs to announce a channel.
pub struct Announcer {
    pub store: Store,
    pub locks: Arc<ChannelLocks>,
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
    /// Starts the task, first scheduling the channels that were active lately.
    pub fn spawn(self, inbox: HeadsInbox) -> Running {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(self.run(inbox.0, stopped));
        Running { stop, task }
    }

    async fn run(self, mut inbox: mpsc::UnboundedReceiver<Event>, mut stop: oneshot::Receiver<()>) {
        let mut schedule = Schedule::default();
        let since = crate::store::now_millis() - STARTUP_LOOKBACK.as_millis() as i64;
        match self.store.channels_active_since(since).await {
            Ok(channels) => {
                for (id, name) in channels {
                    schedule.restart(ChannelKey { id, name });
                }
            }
            Err(err) => tracing::warn!(error = %err, "could not list recently active channels"),
        }
        loop {
            tokio::select! {
                _ = &mut stop => return,
                Some(event) = inbox.recv() => match event {
                    Event::Published(channel) | Event::LostEntry(channel) => schedule.restart(channel),
                    // Not from the start: a proxy that refuses every head must not be asked
                    // four times a second.
                    Event::LostHead(channel) => schedule.keep(channel),
                },
                Some(due) = schedule.queue.next(), if !schedule.queue.is_empty() => {
                    let channel_id = due.into_inner();
                    if let Some(due) = schedule.channels.remove(&channel_id) {
                        let announced = self.announce(&due.channel).await;
                        schedule.next(due, announced);
                    }
                }
            }
        }
    }

    /// Publishes one head for `channel`, in order with its appends; false if it could not.
    async fn announce(&self, channel: &ChannelKey) -> bool {
        let _order = self.locks.lock(channel.id).await;
        match self.store.announce_head(channel.id).await {
            Ok(Some(head)) => {
                self.publisher
                    .publish(Kind::Head(channel.clone()), &head_item(&channel.name, head));
                self.metrics.heads.inc();
                true
            }
            // The channel is gone: nothing to announce, ever.
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(channel = %channel.name, error = %err, "could not announce a head");
                false
            }
        }
    }
}

/// Which channel is due for a head when.
#[derive(Default)]
struct Schedule {
    queue: DelayQueue<i64>,
    channels: HashMap<i64, Due>,
}

struct Due {
    channel: ChannelKey,
    key: delay_queue::Key,
    /// The index in [`SCHEDULE`] of the wait that ends at `key`.
    step: usize,
}

impl Schedule {
    /// From the first step: the channel just had news.
    fn restart(&mut self, channel: ChannelKey) {
        match self.channels.get_mut(&channel.id) {
            Some(due) => {
                due.step = 0;
                self.queue.reset(&due.key, SCHEDULE[0]);
            }
            None => self.insert(channel, 0),
        }
    }

    /// Leaves a scheduled channel as it is; schedules one whose schedule ended at its last step.
    fn keep(&mut self, channel: ChannelKey) {
        if !self.channels.contains_key(&channel.id) {
            self.insert(channel, SCHEDULE.len() - 1);
        }
    }

    /// After a head: the next step, or the last one again if the head did not go out.
    fn next(&mut self, due: Due, announced: bool) {
        let last = SCHEDULE.len() - 1;
        match due.step {
            step if step < last => self.insert(due.channel, step + 1),
            _ if !announced => self.insert(due.channel, last),
            _ => {}
        }
    }

    fn insert(&mut self, channel: ChannelKey, step: usize) {
        let key = self.queue.insert(channel.id, SCHEDULE[step]);
        self.channels.insert(channel.id, Due { channel, key, step });
    }
}
