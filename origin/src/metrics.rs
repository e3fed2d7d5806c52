//! Counters in Prometheus' text format at `GET /metrics`: what operators graph, and what tests
//! wait on ("the origin has answered a hold") instead of sleeping.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Which kind of subscriber a hold was answered for.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Transport {
    Sse,
    Ws,
    Poll,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: Transport,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: DropReason,
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
    /// Items lost by the publisher, by reason; their rooms are announced (`heads`).
    pub publish_dropped: Family<ReasonLabel, Counter>,
    /// Heads published: a quiet room's position (`heads`).
    pub heads: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("chat");
        let requests = Counter::default();
        let holds = Family::<TransportLabel, Counter>::default();
        let recoveries = Family::<TransportLabel, Counter>::default();
        let posts = Counter::default();
        let published = Counter::default();
        let publish_dropped = Family::<ReasonLabel, Counter>::default();
        let heads = Counter::default();
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
            "publish_dropped_items",
            "Items the publisher lost; their rooms are announced",
            publish_dropped.clone(),
        );
        registry.register("heads", "Heads published", heads.clone());
        Metrics {
            registry,
            requests,
            holds,
            recoveries,
            posts,
            published,
            publish_dropped,
            heads,
        }
    }
}

impl Metrics {
    pub fn hold(&self, transport: Transport) {
        self.holds
            .get_or_create(&TransportLabel { transport })
            .inc();
    }

    pub fn recovery(&self, transport: Transport) {
        self.recoveries
            .get_or_create(&TransportLabel { transport })
            .inc();
    }

    pub fn dropped(&self, reason: DropReason) {
        self.publish_dropped
            .get_or_create(&ReasonLabel { reason })
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
