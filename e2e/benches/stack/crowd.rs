//! Many subscribers at once, cheaply: the client side of the fan-out, storm and idle
//! benchmarks. One reqwest client (one connection per stream, no per-subscriber client state)
//! for SSE, tungstenite for WebSocket, and the `shared` decoders the app uses, so Pushpin and
//! the bare baseline server are read by exactly the same code.
//!
//! A subscriber records each entry it receives with the instant it arrived, nothing else: the
//! figures (latency, loss, repeats, order) are computed afterwards, off the hot path.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use shared::chat::{ChatCommand, ChatEvent};
use shared::event::ServerEvent;
use shared::sse::SseDecoder;
use shared::subscription::{Backoff, Subscription, TICK, Transport};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

/// Where subscribers connect: a base URL and the SSE and WebSocket paths of one channel.
#[derive(Clone)]
pub struct Target {
    pub base: String,
    pub sse_path: String,
    pub ws_path: String,
}

impl Target {
    /// A room's streams through `base` (Pushpin's client port, or the edge).
    pub fn room(base: &str, slug: &str) -> Target {
        let streams = shared::paths::ROOM_STREAMS;
        Target {
            base: base.to_owned(),
            sse_path: streams.events.to(&[slug]),
            ws_path: streams.ws.to(&[slug]),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sse,
    Ws,
}

/// Subscriber `i` of a half-SSE, half-WebSocket crowd.
pub fn kind_of(i: usize) -> Kind {
    if i.is_multiple_of(2) {
        Kind::Sse
    } else {
        Kind::Ws
    }
}

/// One reqwest client for a whole crowd: no pool limits (each stream holds its connection for
/// its lifetime anyway), no proxy from the environment.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a plain HTTP client")
}

/// Why a connection attempt failed: the status the server answered, or a transport error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Refused {
    /// The status and the first line of the answer's body.
    Status(u16, String),
    Transport(String),
    /// No answer within [`shared::subscription::HANDSHAKE_TIMEOUT`]; the app gives such an
    /// attempt up and connects afresh.
    NoAnswer,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Status(status, body) => write!(f, "HTTP {status} {body}"),
            Refused::Transport(what) => write!(f, "{what}"),
            Refused::NoAnswer => write!(f, "no answer in time"),
        }
    }
}

/// An open stream.
pub enum Stream {
    Sse {
        body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        decoder: SseDecoder,
        /// Events decoded from the last chunk and not yet taken.
        pending: std::collections::VecDeque<shared::sse::SseEvent>,
    },
    Ws(
        Box<
            tokio_tungstenite::WebSocketStream<
                tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
            >,
        >,
    ),
}

/// Opens one stream of `kind` at `target`, with `token` as the session if given. SSE is open
/// once the answer's headers say 200; a WebSocket once its handshake is done (the replay and
/// `synced` come after, and [`Stream::follow`] reads them).
pub async fn open(
    http: &reqwest::Client,
    target: &Target,
    kind: Kind,
    token: Option<&str>,
) -> Result<Stream, Refused> {
    let attempt = async {
        match kind {
            Kind::Sse => {
                let mut request = http
                    .get(format!("{}{}", target.base, target.sse_path))
                    .header("accept", "text/event-stream");
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| Refused::Transport(transport_error(&e)))?;
                if response.status() != reqwest::StatusCode::OK {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    return Err(Refused::Status(status, first_line(&body)));
                }
                Ok(Stream::Sse {
                    body: response.bytes_stream().boxed(),
                    decoder: SseDecoder::new(),
                    pending: Default::default(),
                })
            }
            Kind::Ws => {
                let url = format!(
                    "{}{}",
                    target.base.replacen("http", "ws", 1),
                    target.ws_path
                );
                let mut request = url
                    .into_client_request()
                    .map_err(|e| Refused::Transport(e.to_string()))?;
                if let Some(token) = token {
                    let value = format!("Bearer {token}").parse().expect("a header value");
                    request.headers_mut().insert("authorization", value);
                }
                match tokio_tungstenite::connect_async(request).await {
                    Ok((socket, _)) => Ok(Stream::Ws(Box::new(socket))),
                    Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                        let body = response.body().as_deref().unwrap_or_default();
                        let body = first_line(&String::from_utf8_lossy(body));
                        Err(Refused::Status(response.status().as_u16(), body))
                    }
                    Err(e) => Err(Refused::Transport(e.to_string())),
                }
            }
        }
    };
    tokio::time::timeout(shared::subscription::HANDSHAKE_TIMEOUT, attempt)
        .await
        .unwrap_or(Err(Refused::NoAnswer))
}

/// The first line of an error answer, shortened: enough to tell Pushpin's reasons apart.
fn first_line(body: &str) -> String {
    body.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect()
}

/// A transport error by its kind (the whole chain names the port, which differs per run).
fn transport_error(err: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut last = String::new();
    while let Some(e) = source {
        last = e.to_string();
        source = e.source();
    }
    if err.is_connect() {
        format!("connect: {last}")
    } else {
        last
    }
}

/// Opens a stream like the app does: on a refusal, waits [`Backoff::APP`] (as
/// `shared::subscription` says) and tries again, until `patience` has passed. With `jitter`,
/// each pause is drawn between half and one and a half times the app's (a policy the storm
/// benchmark compares with the app's). Returns the
/// stream, or the last refusal, with every refusal met on the way.
pub async fn open_with_retries(
    http: &reqwest::Client,
    target: &Target,
    kind: Kind,
    token: Option<&str>,
    patience: Duration,
    jitter: bool,
) -> (Result<Stream, Refused>, Vec<Refused>) {
    let started = Instant::now();
    let mut subscription =
        Subscription::<shared::chat::Message>::new(transport_of(kind), 0, Backoff::APP);
    let mut refusals = Vec::new();
    loop {
        match open(http, target, kind, token).await {
            Ok(stream) => return (Ok(stream), refusals),
            Err(refused) => {
                let mut delay = subscription.ended().delay;
                if jitter {
                    // The same mean pause, spread out: clients refused together no longer all
                    // come back in the same instant.
                    use rand::Rng as _;
                    delay = delay.mul_f64(rand::thread_rng().gen_range(0.5..1.5));
                }
                refusals.push(refused.clone());
                if started.elapsed() + delay > patience {
                    return (Err(refused), refusals);
                }
                tokio::time::sleep(delay).await;
            }
        }
    }
}

fn transport_of(kind: Kind) -> Transport {
    match kind {
        Kind::Sse => Transport::EventSource,
        Kind::Ws => Transport::WebSocket,
    }
}

/// One entry as it arrived.
pub type Arrival = (u64, Instant);

impl Stream {
    /// Reads until the entry `last` has arrived or `stop` completes, recording every entry
    /// (repeats and out-of-order ones included: judging them is the caller's job). A WebSocket
    /// is driven by `subscription` ([`Stream::subscription`]) as the app drives it: it asks to
    /// `resume` on a gap, or when a `synced` or `head` says it is behind, since Pushpin has no
    /// gap repair for it; a stream followed in steps keeps its subscription between them.
    /// Returns what arrived, and why the stream ended if it did before `last` (the bench does
    /// not reconnect: a subscriber cut off is counted as such, and what it missed as lost).
    pub async fn follow(
        &mut self,
        subscription: &mut Subscription<shared::chat::Message>,
        last: u64,
        stop: impl Future<Output = ()>,
    ) -> (Vec<Arrival>, Option<String>) {
        tokio::pin!(stop);
        let mut arrivals = Vec::new();
        let mut ticks = tokio::time::interval(TICK);
        let mut highest = subscription.cursor();
        while highest < last {
            let event = tokio::select! {
                event = self.next_event() => event,
                _ = ticks.tick(), if matches!(self, Stream::Ws(_)) => {
                    if let Some(after) = subscription.on_tick(false).resume_after {
                        let _ = self.resume(after).await;
                    }
                    continue;
                }
                () = &mut stop => break,
            };
            let event = match event {
                Ok(event) => event,
                Err(err) => return (arrivals, Some(format!("{err:#}"))),
            };
            let now = Instant::now();
            if let ServerEvent::Entry(message) = &event {
                arrivals.push((message.seq, now));
                highest = highest.max(message.seq);
            }
            if let Stream::Ws(_) = self
                && let Some(after) = subscription.on_event(event).resume_after
            {
                let _ = self.resume(after).await;
            }
        }
        (arrivals, None)
    }

    /// What drives a stream just opened: its handshake is done; the opening's replay and
    /// `synced` are still to come.
    pub fn subscription() -> Subscription<shared::chat::Message> {
        let mut subscription = Subscription::new(Transport::WebSocket, 0, Backoff::APP);
        subscription.connecting();
        subscription.opened();
        subscription
    }

    /// Reads and drops whatever comes until the stream ends or fails: an idle subscriber.
    pub async fn hold(&mut self) {
        while self.next_event().await.is_ok() {}
    }

    async fn resume(&mut self, after: u64) -> anyhow::Result<()> {
        if let Stream::Ws(socket) = self {
            let command = ChatCommand::Resume { after }.to_json();
            socket.send(Frame::text(command)).await?;
        }
        Ok(())
    }

    /// The next event of the stream (SSE comments and WebSocket pings are skipped).
    async fn next_event(&mut self) -> anyhow::Result<ChatEvent> {
        match self {
            Stream::Sse {
                body,
                decoder,
                pending,
            } => loop {
                // Events already decoded from the last chunk come first.
                if let Some(event) = pending.pop_front() {
                    return Ok(ChatEvent::from_sse(&event)?);
                }
                let chunk = body.next().await.context("the stream ended")??;
                pending.extend(decoder.push(&chunk)?);
            },
            Stream::Ws(socket) => loop {
                match socket.next().await.context("the WebSocket closed")?? {
                    Frame::Text(text) => return Ok(ChatEvent::from_json(&text)?),
                    Frame::Ping(_) | Frame::Pong(_) => continue,
                    other => bail!("unexpected frame {other:?}"),
                }
            },
        }
    }
}

/// How many of `n` subscribers say on `live` that a post reached them, within `patience` of
/// now (called at the post's answer), and how long the wait took.
pub async fn reached(
    live: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
    n: usize,
    patience: Duration,
) -> (usize, Duration) {
    let answered = Instant::now();
    let mut reached = 0;
    while reached < n {
        match tokio::time::timeout_at((answered + patience).into(), live.recv()).await {
            Ok(Some(())) => reached += 1,
            Ok(None) | Err(_) => break,
        }
    }
    (reached, answered.elapsed())
}
