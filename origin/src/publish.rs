//! Publishing to Fanout/Pushpin: every stored message goes out in all three formats from one
//! background task that keeps order, batches and retries.
//!
//! The database is the truth and publishing is best effort on top of it: if a publish is lost
//! for good, subscribers still get the message, because each item carries `id`/`prev-id` and the
//! proxy, seeing the gap at the next publish, fetches the stream's next link (see `stream::events`),
//! and WebSocket clients resume from their last seq. So a failed publish is retried for a while,
//! then dropped with a log line; it never blocks or fails the post that produced it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shared::api::MessagesResponse;
use shared::event::ServerEvent;
use shared::message::{Message, room_channel};
use shared::publish::{HttpResponse, Item, PublishRequest};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{GripConfig, PublishAuth};
use crate::metrics::Metrics;

/// Items waiting to be published; beyond this a post drops its publish (replay recovers it)
/// rather than queueing without bound while the proxy is down.
const QUEUE: usize = 10_000;
/// Most items in one publish request.
const BATCH: usize = 100;
/// Attempts for one batch before it is given up.
const ATTEMPTS: u32 = 8;

/// The publish item for a message: one per room channel, `id` = seq and `prev-id` = seq - 1 so
/// the proxy can tell when it missed one.
pub fn message_item(message: &Message) -> Item {
    let event = ServerEvent::Message {
        message: message.clone(),
    };
    let mut item = Item::for_event(
        room_channel(&message.room),
        Some(message.seq.to_string()),
        Some((message.seq - 1).to_string()),
        &event,
    );
    // A held long-poll is answered with the same body an immediate answer would have.
    let poll_body = serde_json::to_string(&MessagesResponse {
        messages: vec![message.clone()],
    })
    .expect("a message serialises");
    item.formats.http_response = Some(HttpResponse {
        code: Some(200),
        headers: Some(BTreeMap::from([(
            "Content-Type".to_owned(),
            "application/json".to_owned(),
        )])),
        body: Some(poll_body),
        action: None,
    });
    item
}

/// The handle posts use to publish; cheap to clone. Dropping every handle stops the task once
/// it has sent what is queued.
#[derive(Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Item>,
    metrics: Arc<Metrics>,
}

impl Publisher {
    /// Starts the publishing task.
    pub fn spawn(grip: &GripConfig, metrics: Arc<Metrics>) -> (Publisher, JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a TLS backend is compiled in");
        let task = PublishTask {
            client,
            url: grip.publish_url.clone(),
            auth: grip.publish_auth.clone(),
            metrics: metrics.clone(),
        };
        (Publisher { queue, metrics }, tokio::spawn(task.run(rx)))
    }

    /// Queues an item. Called in seq order per room (see `post`), and the single task keeps
    /// that order on the wire, so the proxy only has to recover real losses.
    pub fn publish(&self, item: Item) {
        if self.queue.try_send(item).is_err() {
            self.metrics.publish_dropped.inc();
            tracing::warn!("publish queue full; subscribers will recover the message by replay");
        }
    }
}

struct PublishTask {
    client: reqwest::Client,
    url: url::Url,
    auth: Option<PublishAuth>,
    metrics: Arc<Metrics>,
}

impl PublishTask {
    async fn run(self, mut rx: mpsc::Receiver<Item>) {
        let mut batch = Vec::with_capacity(BATCH);
        // `recv_many` waits for at least one item and takes whatever else is already queued:
        // batches grow under load and a lone message goes out at once.
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            let count = batch.len() as u64;
            let request = PublishRequest {
                items: std::mem::take(&mut batch),
            };
            if self.send_with_retry(&request).await {
                self.metrics.published.inc_by(count);
            } else {
                self.metrics.publish_dropped.inc_by(count);
            }
        }
    }

    async fn send_with_retry(&self, request: &PublishRequest) -> bool {
        let mut delay = Duration::from_millis(100);
        for attempt in 1..=ATTEMPTS {
            match self.send(request).await {
                Ok(()) => return true,
                Err(SendError::Permanent(reason)) => {
                    tracing::error!(%reason, "publish refused; not retrying");
                    return false;
                }
                Err(SendError::Transient(reason)) => {
                    tracing::warn!(%reason, attempt, "publish failed; retrying");
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        tracing::error!(
            items = request.items.len(),
            "publish given up; subscribers will recover by replay"
        );
        false
    }

    async fn send(&self, request: &PublishRequest) -> Result<(), SendError> {
        let mut http = self.client.post(self.url.clone()).json(request);
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

enum SendError {
    Transient(String),
    Permanent(String),
}
