//! Publishing to Fanout/Pushpin: every entry, and every head (see [`super::heads`]), goes out
//! from one background task that keeps order, batches and retries.
//!
//! The database is the truth and publishing is best effort on top of it: a publish never blocks
//! or fails the post that produced it. Every entry the proxy took is reported to
//! [`super::heads`], whose schedule of heads starts from there. What the publisher cannot
//! deliver (its queue is full, the publish API refused the item, or kept failing until the
//! publisher gave up) is counted and reported to [`super::heads`], which announces the
//! channel's position once publishing works again: every subscriber that missed something then
//! fetches it from the database (the proxy through the stream's next link, WebSocket clients by
//! `resume`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use std::time::Instant;

use serde::Serialize;
use shared::event::{ControlEvent, Entry, Page, ServerEvent};
use shared::publish::{Action, ChainId, Formats, HttpResponse, HttpStream, Item, WsMessage};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::heads::{ChannelKey, Heads};
use crate::config::{GripConfig, PublishAuth};
use crate::metrics::{DropReason, ItemKind, Metrics};

/// Items waiting to be published; beyond this, or beyond [`QUEUE_BYTES`], an item is dropped
/// (and its channel announced later) rather than queued without bound while the proxy is down.
const QUEUE_ITEMS: usize = 10_000;
/// Bytes of serialised items waiting: 10,000 items of 64 KiB would be 640 MiB.
const QUEUE_BYTES: usize = 32 * 1024 * 1024;
/// Most items in one publish request.
const BATCH_ITEMS: usize = 100;
/// Most bytes of items in one publish request (Pushpin refuses bodies over its
/// `push_in_http_max_body_size`; one item may reach Fanout's 64 KiB).
const BATCH_BYTES: usize = 512 * 1024;
/// Attempts for one request before its items are given up (about 7 s of retrying; `heads`
/// repairs what is given up).
const ATTEMPTS: u32 = 8;
/// The longest pause between two attempts: short, because a publish delayed is an entry late
/// for every subscriber of its channel, and everything queued behind it waits too.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);
/// How long one publish request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The publish item for an entry of `channel`: `id` is its seq, `prev-id` the chain link before
/// it ([`ChainId`]), so the proxy can tell when a stream missed one.
pub fn entry_item<E: Entry>(channel: &str, entry: &E, follows: ChainId) -> Item {
    let mut item = Item::for_event(
        channel,
        Some(ChainId::message(entry.seq()).to_string()),
        Some(follows.to_string()),
        &ServerEvent::Entry(entry.clone()),
    );
    // A held long-poll is answered with the same body an immediate answer would have.
    item.formats.http_response = Some(json_answer(200, &Page::of(vec![entry.clone()])));
    item
}

/// The publish item for a head of `channel`: its position, as the chain link `head`.
///
/// Streams in step move one link on and get a `head` event (SSE, WebSocket), or their held
/// long-poll is answered with an empty page; a stream behind sees that `prev-id` is not its
/// last id and fetches its next link.
pub fn head_item(channel: &str, head: ChainId) -> Item {
    let follows = ChainId {
        heads: head.heads - 1,
        ..head
    };
    let event = ControlEvent::Head { last_seq: head.seq };
    let mut item = Item::for_event(
        channel,
        Some(head.to_string()),
        Some(follows.to_string()),
        &event,
    );
    item.formats.http_response = Some(json_answer(200, &serde_json::json!({})));
    item
}

/// A long-poll's answer: `status` with `body` as JSON.
fn json_answer(status: u16, body: &impl Serialize) -> HttpResponse {
    HttpResponse {
        code: Some(status),
        headers: Some(BTreeMap::from([(
            "Content-Type".to_owned(),
            "application/json".to_owned(),
        )])),
        body: Some(serde_json::to_string(body).expect("a poll answer serialises")),
        action: None,
    }
}

/// The publish item for a signal (chat: presence, typing) on `channel`, a channel of signals
/// only: no `id` and no `prev-id`, so it is never part of a chain, and a held long-poll is
/// answered with `{"signals":[…]}` (the client polls again from the same cursor).
pub fn signal_item<E: Entry>(channel: &str, signal: &E::Signal) -> Item {
    let mut item = Item::for_event(
        channel,
        None,
        None,
        &ServerEvent::<E>::Signal(signal.clone()),
    );
    item.formats.http_response = Some(json_answer(200, &Page::<E>::signal(signal.clone())));
    item
}

/// What an item carries, which decides what happens when it is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An entry of the channel: `heads` announces the channel soon after it went out or was
    /// lost.
    Entry(ChannelKey),
    /// A head of the channel: `heads` keeps announcing it.
    Head(ChannelKey),
    /// An instruction to some streams (end them: a session signed out, a member removed).
    /// Lost, the streams end at their next-link refresh instead, which re-checks access.
    Control,
    /// A signal: lost, it is not sent again (what it said is said again in full soon).
    Signal,
}

impl Kind {
    /// How the metrics name it.
    fn label(&self) -> ItemKind {
        match self {
            Kind::Entry(_) => ItemKind::Entry,
            Kind::Head(_) => ItemKind::Head,
            Kind::Control => ItemKind::Control,
            Kind::Signal => ItemKind::Signal,
        }
    }
}

/// The items that end every stream subscribed to `channel`: an `error` event with `error`
/// (SSE, WebSocket), then the close; a held long-poll is answered with `error` itself.
pub fn closing_items(channel: &str, error: &crate::error::ApiError) -> [Item; 2] {
    let body = error.body();
    let event = ControlEvent::Error {
        code: body.error.code,
        message: body.error.message.clone(),
    };
    let mut notice = Item::for_event(channel, None, None, &event);
    notice.formats.http_response = Some(json_answer(error.status().as_u16(), &body));
    let close = Item {
        channel: channel.to_owned(),
        formats: Formats {
            http_stream: Some(HttpStream {
                content: None,
                action: Some(Action::Close),
            }),
            ws_message: Some(WsMessage {
                content: None,
                action: Some(Action::Close),
            }),
            http_response: None,
        },
        ..Item::default()
    };
    [notice, close]
}

/// The handle posts and `heads` publish through; cheap to clone. Dropping every handle stops
/// the task once it has sent what is queued.
#[derive(Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Queued>,
    bytes: Arc<Semaphore>,
    report: Report,
}

/// An item waiting in the queue.
struct Queued {
    kind: Kind,
    /// The item as JSON, serialised once.
    json: String,
    /// When it was queued: how long publishing took is a dashboard figure.
    queued_at: Instant,
    /// Its share of [`QUEUE_BYTES`], given back when it leaves the queue.
    _bytes: OwnedSemaphorePermit,
}

impl Publisher {
    /// Starts the publishing task; what it cannot deliver it reports to `heads`.
    pub fn spawn(
        grip: &GripConfig,
        metrics: Arc<Metrics>,
        heads: Heads,
    ) -> (Publisher, JoinHandle<()>) {
        Publisher::spawn_bounded(grip, metrics, heads, QUEUE_ITEMS, QUEUE_BYTES)
    }

    fn spawn_bounded(
        grip: &GripConfig,
        metrics: Arc<Metrics>,
        heads: Heads,
        items: usize,
        bytes: usize,
    ) -> (Publisher, JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(items);
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("a TLS backend is compiled in");
        let report = Report { metrics, heads };
        let task = PublishTask {
            client,
            url: grip.publish_url.clone(),
            auth: grip.publish_auth.clone(),
            report: report.clone(),
        };
        let publisher = Publisher {
            queue,
            bytes: Arc::new(Semaphore::new(bytes)),
            report,
        };
        (publisher, tokio::spawn(task.run(rx)))
    }

    /// Queues an item. Called in chain order per channel (see `log::ChannelLocks`), and the single
    /// task keeps that order on the wire, so the proxy only has to recover real losses.
    pub fn publish(&self, kind: Kind, item: &Item) {
        self.publish_json(
            kind,
            serde_json::to_string(item).expect("a publish item serialises"),
        );
    }

    /// [`Publisher::publish`] for an item already serialised.
    pub fn publish_json(&self, kind: Kind, json: String) {
        let size = u32::try_from(json.len()).unwrap_or(u32::MAX);
        let Ok(bytes) = self.bytes.clone().try_acquire_many_owned(size) else {
            return self.report.lost(kind, DropReason::QueueFull);
        };
        let queued = Queued {
            kind,
            json,
            queued_at: Instant::now(),
            _bytes: bytes,
        };
        if let Err(err) = self.queue.try_send(queued) {
            self.report
                .lost(err.into_inner().kind, DropReason::QueueFull);
        }
    }
}

/// Where deliveries and losses are counted and reported to `heads`. (The task holds
/// this, not a [`Publisher`], so that dropping the last handle still ends it.)
#[derive(Clone)]
struct Report {
    metrics: Arc<Metrics>,
    heads: Heads,
}

impl Report {
    fn sent(&self, batch: &[Queued]) {
        self.metrics.published.inc_by(batch.len() as u64);
        let mut entries = 0;
        // One event per channel, not per entry: a burst's batch is mostly one room.
        let mut channels: Vec<&ChannelKey> = Vec::new();
        for queued in batch {
            self.metrics
                .publish_latency
                .record(queued.queued_at.elapsed());
            if let Kind::Entry(channel) = &queued.kind {
                entries += 1;
                if !channels.contains(&channel) {
                    channels.push(channel);
                }
            }
        }
        self.metrics.published_entries.inc_by(entries);
        for channel in channels {
            self.heads.published(channel.clone());
        }
    }

    /// Counts a lost item and tells `heads`, which makes sure its channel gets announced.
    fn lost(&self, kind: Kind, reason: DropReason) {
        tracing::warn!(?kind, ?reason, "publish lost");
        self.metrics.dropped(reason, kind.label());
        match kind {
            Kind::Entry(channel) => self.heads.lost_entry(channel),
            Kind::Head(channel) => self.heads.lost_head(channel),
            Kind::Control | Kind::Signal => {}
        }
    }
}

struct PublishTask {
    client: reqwest::Client,
    url: url::Url,
    auth: Option<PublishAuth>,
    report: Report,
}

/// How a publish request ended, after its retries.
enum Outcome {
    Sent,
    /// A 4xx other than 429: this request will never be accepted as it is.
    Refused,
    /// Failed every attempt (the proxy is down, slow or erroring).
    GaveUp,
}

impl PublishTask {
    async fn run(self, mut rx: mpsc::Receiver<Queued>) {
        let mut received = Vec::with_capacity(BATCH_ITEMS);
        // `recv_many` waits for at least one item and takes whatever else is already queued:
        // batches grow under load and a lone entry goes out at once.
        while rx.recv_many(&mut received, BATCH_ITEMS).await > 0 {
            for batch in batches(std::mem::take(&mut received)) {
                self.deliver(batch).await;
            }
        }
    }

    /// Sends one batch; a batch the API refuses is sent again item by item, so that one bad
    /// item cannot take other channels' entries down with it.
    async fn deliver(&self, batch: Vec<Queued>) {
        match self.send_with_retry(&batch).await {
            Outcome::Refused if batch.len() > 1 => {
                for queued in batch {
                    let single = [queued];
                    let outcome = self.send_with_retry(&single).await;
                    let [queued] = single;
                    self.settle(outcome, vec![queued]);
                }
            }
            outcome => self.settle(outcome, batch),
        }
    }

    fn settle(&self, outcome: Outcome, batch: Vec<Queued>) {
        let reason = match outcome {
            Outcome::Sent => return self.report.sent(&batch),
            Outcome::Refused => DropReason::Refused,
            Outcome::GaveUp => DropReason::GaveUp,
        };
        for queued in batch {
            self.report.lost(queued.kind, reason);
        }
    }

    async fn send_with_retry(&self, batch: &[Queued]) -> Outcome {
        let body = request_body(batch);
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            match self.send(body.clone()).await {
                Ok(()) => return Outcome::Sent,
                Err(SendError::Permanent(reason)) => {
                    tracing::error!(%reason, items = batch.len(), "publish refused");
                    return Outcome::Refused;
                }
                Err(SendError::Transient(reason)) => {
                    tracing::warn!(%reason, attempt, "publish failed; retrying");
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
        tracing::error!(items = batch.len(), "publish given up");
        Outcome::GaveUp
    }

    async fn send(&self, body: String) -> Result<(), SendError> {
        let mut http = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        http = match &self.auth {
            Some(PublishAuth::FastlyKey(key)) => http.header("Fastly-Key", key),
            Some(PublishAuth::Bearer(key)) => http.bearer_auth(key),
            None => http,
        };
        let response = http
            .send()
            .await
            .map_err(|e| SendError::Transient(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            let body = response.text().await.unwrap_or_default();
            let reason = format!("{status}: {body}");
            // 4xx means the request itself is wrong (or the token is): sending it again won't help,
            // except for rate limiting.
            if status.is_client_error() && status.as_u16() != 429 {
                Err(SendError::Permanent(reason))
            } else {
                Err(SendError::Transient(reason))
            }
        }
    }
}

/// Splits what was received into requests of at most [`BATCH_BYTES`] (and at least one item).
fn batches(received: Vec<Queued>) -> Vec<Vec<Queued>> {
    let mut out: Vec<Vec<Queued>> = Vec::new();
    let mut size = 0;
    for queued in received {
        match out.last_mut() {
            Some(batch) if size + queued.json.len() <= BATCH_BYTES => {
                size += queued.json.len();
                batch.push(queued);
            }
            _ => {
                size = queued.json.len();
                out.push(vec![queued]);
            }
        }
    }
    out
}

/// `{"items":[…]}` from items already serialised.
fn request_body(batch: &[Queued]) -> String {
    let size = batch.iter().map(|q| q.json.len() + 1).sum::<usize>() + 12;
    let mut body = String::with_capacity(size);
    body.push_str(r#"{"items":["#);
    for (i, queued) in batch.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&queued.json);
    }
    body.push_str("]}");
    body
}

enum SendError {
    Transient(String),
    Permanent(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::heads::Event;
    use crate::metrics::DropLabels;

    /// A publish endpoint that accepts connections and never answers: the proxy hangs.
    async fn hanging_endpoint() -> (GripConfig, tokio::net::TcpListener) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let grip = GripConfig::parse(&url, Some("key"), Some("iss")).unwrap();
        (grip, listener)
    }

    #[tokio::test]
    async fn a_full_queue_drops_by_bytes_and_reports_each_loss() {
        let (grip, _listener) = hanging_endpoint().await;
        let metrics = Arc::new(Metrics::default());
        let (heads, mut inbox) = Heads::channel();
        // Room for many items by count, but only about ten of these by size.
        let (publisher, _task) =
            Publisher::spawn_bounded(&grip, metrics.clone(), heads, 1_000, 10_000);
        let room = ChannelKey {
            id: 1,
            name: "room-lobby".into(),
        };
        let mut item = head_item("room-lobby", ChainId { seq: 1, heads: 1 });
        item.formats.ws_message = Some(shared::publish::WsMessage::content("x".repeat(900)));
        for _ in 0..30 {
            publisher.publish(Kind::Entry(room.clone()), &item);
        }
        // Queued and in-flight items both hold their bytes until the proxy answers (never).
        let size = serde_json::to_string(&item).unwrap().len() as u64;
        let dropped = metrics
            .publish_dropped
            .get_or_create(&DropLabels {
                reason: DropReason::QueueFull,
                kind: ItemKind::Entry,
            })
            .get();
        assert_eq!(
            dropped,
            30 - 10_000 / size,
            "the byte bound, not the item bound, decides"
        );
        let mut reported = 0;
        while let Ok(event) = inbox.0.try_recv() {
            assert!(matches!(event, Event::LostEntry(ref r) if *r == room));
            reported += 1;
        }
        assert_eq!(reported, dropped, "every loss is reported to heads");
    }
}
