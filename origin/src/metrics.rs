//! Counters in Prometheus' text format at `GET /metrics`: what operators graph, and what tests
//! wait on ("the origin has answered a hold") instead of sleeping. The dashboard's sampler reads
//! them too, with two windows of its own that Prometheus has no good shape for: posts per room
//! (rooms are too many for labels) and publish latency.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use shared::subscription::Transport;

/// Which kind of subscriber a hold was answered for (`shared::subscription::Transport`, as a
/// label).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum TransportValue {
    Sse,
    Ws,
    Poll,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: TransportValue,
}

impl From<Transport> for TransportLabel {
    fn from(transport: Transport) -> Self {
        let transport = match transport {
            Transport::EventSource => TransportValue::Sse,
            Transport::WebSocket => TransportValue::Ws,
            Transport::LongPoll => TransportValue::Poll,
        };
        TransportLabel { transport }
    }
}

/// Why the publisher lost an item (see `publish`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum DropReason {
    /// The queue was full (by items or bytes) while the proxy was slow or down.
    QueueFull,
    /// The publish API answered 4xx for the item on its own.
    Refused,
    /// Every attempt failed.
    GaveUp,
}

/// What a lost item carried (`publish::Kind` without its channel): losing an entry or a head
/// makes the origin announce its channel; losing a signal costs nothing lasting.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ItemKind {
    Entry,
    Head,
    Control,
    Signal,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub reason: DropReason,
    pub kind: ItemKind,
}

/// The origin's counters. Counters are shared handles: cloning one counts into the same value.
pub struct Metrics {
    registry: Registry,
    /// Every HTTP request the origin answered.
    pub requests: Counter,
    /// Subscriptions handed to the proxy (a GRIP hold, or a WebSocket OPEN accepted).
    pub holds: Family<TransportLabel, Counter>,
    /// Next-link fetches by which the proxy repairs a held stream (they carry `Grip-Last`).
    pub recoveries: Family<TransportLabel, Counter>,
    /// Messages stored (retries of a `client_id` not counted).
    pub posts: Counter,
    /// Items the publish API accepted.
    pub published: Counter,
    /// Of those, the entries: each channel's numbered items, the ones a subscriber must get.
    pub published_entries: Counter,
    /// Items lost by the publisher, by reason and kind; their rooms are announced (`heads`).
    pub publish_dropped: Family<DropLabels, Counter>,
    /// Heads published: a quiet channel's position (`heads`).
    pub heads: Counter,
    /// Group commits of appends (`channel::group`): fewer than the appends when appends to a
    /// channel arrive together and share a commit.
    pub append_commits: Counter,
    /// Posts per room since the sampler last looked.
    pub room_posts: Mutex<HashMap<String, u64>>,
    /// Publish latency since the sampler last looked.
    pub publish_latency: LatencyWindow,
}

/// Durations recorded since the last [`LatencyWindow::take`].
#[derive(Default)]
pub struct LatencyWindow(Mutex<Latency>);

/// What a [`LatencyWindow`] saw.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub total: Duration,
    pub max: Duration,
}

impl LatencyWindow {
    pub fn record(&self, took: Duration) {
        let mut window = self.0.lock().expect("latency lock");
        window.count += 1;
        window.total += took;
        window.max = window.max.max(took);
    }

    /// What was recorded, and a fresh start.
    pub fn take(&self) -> Latency {
        std::mem::take(&mut *self.0.lock().expect("latency lock"))
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("chat");
        let requests = Counter::default();
        let holds = Family::<TransportLabel, Counter>::default();
        let recoveries = Family::<TransportLabel, Counter>::default();
        let posts = Counter::default();
        let published = Counter::default();
        let published_entries = Counter::default();
        let publish_dropped = Family::<DropLabels, Counter>::default();
        let heads = Counter::default();
        let append_commits = Counter::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "stream_holds",
            "Subscriptions handed to the proxy",
            holds.clone(),
        );
        registry.register(
            "stream_recoveries",
            "Next-link fetches repairing a held stream",
            recoveries.clone(),
        );
        registry.register("messages_posted", "Messages stored", posts.clone());
        registry.register(
            "publish_items",
            "Items accepted by the publish API",
            published.clone(),
        );
        registry.register(
            "publish_entries",
            "Entries among the items accepted by the publish API",
            published_entries.clone(),
        );
        registry.register(
            "publish_dropped_items",
            "Items the publisher lost; their rooms are announced",
            publish_dropped.clone(),
        );
        registry.register("heads", "Heads published", heads.clone());
        registry.register(
            "append_commits",
            "Commits of appends, each shared by the appends to a channel that arrived together",
            append_commits.clone(),
        );
        Metrics {
            registry,
            requests,
            holds,
            recoveries,
            posts,
            published,
            published_entries,
            publish_dropped,
            heads,
            append_commits,
            room_posts: Mutex::default(),
            publish_latency: LatencyWindow::default(),
        }
    }
}

impl Metrics {
    pub fn hold(&self, transport: Transport) {
        self.holds.get_or_create(&transport.into()).inc();
    }

    pub fn recovery(&self, transport: Transport) {
        self.recoveries.get_or_create(&transport.into()).inc();
    }

    /// A message was posted to room `slug`.
    pub fn posted(&self, slug: &str) {
        self.posts.inc();
        let mut rooms = self.room_posts.lock().expect("room posts lock");
        match rooms.get_mut(slug) {
            Some(count) => *count += 1,
            None => {
                rooms.insert(slug.to_owned(), 1);
            }
        }
    }

    /// Posts per room since the last call.
    pub fn take_room_posts(&self) -> HashMap<String, u64> {
        std::mem::take(&mut *self.room_posts.lock().expect("room posts lock"))
    }

    /// Total holds, all transports.
    pub fn holds_total(&self) -> u64 {
        Transport::ALL
            .into_iter()
            .map(|t| self.holds.get_or_create(&t.into()).get())
            .sum()
    }

    /// Total recoveries, all transports.
    pub fn recoveries_total(&self) -> u64 {
        Transport::ALL
            .into_iter()
            .map(|t| self.recoveries.get_or_create(&t.into()).get())
            .sum()
    }

    pub fn dropped(&self, reason: DropReason, kind: ItemKind) {
        self.publish_dropped
            .get_or_create(&DropLabels { reason, kind })
            .inc();
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}
