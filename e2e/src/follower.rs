//! Subscribers that behave like the browser app, for tests that break things around them: each
//! follows one room over one transport through a `shared::subscription::Subscription` (the
//! app's own policy: what to show, when to resume, when to give a connection up, how long to
//! wait), and does only the I/O. Every delivery is logged with its time.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use shared::chat::{ChatCommand, ChatEvent, Message};
use shared::event::ServerEvent;
use shared::paths::ROOM_STREAMS;
use shared::sse::SseDecoder;
use shared::subscription::{
    Backoff, HANDSHAKE_TIMEOUT, POLL_TIMEOUT, Reaction, Subscription, Transport as Over,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

use crate::client::Client;

/// How a follower receives the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Sse,
    Ws,
    Poll,
    /// SSE on a socket with a 2 KB receive buffer, read a little at a time with pauses: the
    /// reader Pushpin's per-stream queue overflows for.
    SlowSse,
}

impl Transport {
    /// The app's transport this reader uses.
    fn over(self) -> Over {
        match self {
            Transport::Sse | Transport::SlowSse => Over::EventSource,
            Transport::Ws => Over::WebSocket,
            Transport::Poll => Over::LongPoll,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Transport::Sse => "SSE",
            Transport::Ws => "WebSocket",
            Transport::Poll => "long-poll",
            Transport::SlowSse => "slow SSE",
        }
    }
}

/// What a follower saw.
#[derive(Debug, Default)]
pub struct Log {
    /// Messages in the order the sequencer released them (what the app shows), with when.
    pub delivered: Vec<(Message, Instant)>,
    /// Messages that arrived again or out of order and the sequencer held back or dropped.
    pub repeats_dropped: u64,
    /// Connections that ended, for whatever reason.
    pub reconnects: u64,
    /// `reset` events (a cursor the room does not know): there must be none here.
    pub resets: u64,
    /// Why the last few connections ended.
    pub last_errors: Vec<String>,
}

/// A running follower; dropping it stops it.
pub struct Follower {
    pub transport: Transport,
    pub room: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    log: Mutex<Log>,
    /// Ends the current connection (it reconnects at once from its last seq).
    disconnect: Notify,
}

/// Pauses before reconnecting: shorter than the app's, so that tests end sooner.
const BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_secs(2),
};

impl Follower {
    /// Follows `room` from its first message, as `client`'s user, through `client`'s base URL.
    pub fn start(client: Client, room: &str, transport: Transport) -> Follower {
        let shared = Arc::new(Shared {
            log: Mutex::new(Log::default()),
            disconnect: Notify::new(),
        });
        let task = tokio::spawn(run(client, room.to_owned(), transport, shared.clone()));
        Follower {
            transport,
            room: room.to_owned(),
            shared,
            task,
        }
    }

    /// Cuts the current connection, as a flaky network would; the follower reconnects.
    pub fn disconnect(&self) {
        self.shared.disconnect.notify_one();
    }

    pub fn log(&self) -> MutexGuard<'_, Log> {
        self.shared.log.lock().expect("follower log lock")
    }

    /// The last seq delivered so far.
    pub fn last(&self) -> u64 {
        self.log().delivered.last().map_or(0, |(m, _)| m.seq)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(client: Client, room: String, transport: Transport, shared: Arc<Shared>) {
    let mut subscription = Subscription::new(transport.over(), 0, BACKOFF);
    loop {
        subscription.connecting();
        let ended = tokio::select! {
            ended = connection(&client, &room, transport, &mut subscription, &shared) => ended,
            _ = shared.disconnect.notified() => Err(anyhow::anyhow!("disconnected on purpose")),
        };
        {
            let mut log = shared.log.lock().expect("follower log lock");
            log.reconnects += 1;
            if let Err(err) = ended {
                log.last_errors.push(format!("{err:#}"));
                let excess = log.last_errors.len().saturating_sub(5);
                log.last_errors.drain(..excess);
            }
        }
        tokio::time::sleep(subscription.ended().delay).await;
    }
}

/// Applies a reaction to the log; ends the connection when the subscription says so.
fn record(
    shared: &Shared,
    reaction: &mut Reaction<Message>,
    raw_messages: u64,
) -> anyhow::Result<()> {
    let mut log = shared.log.lock().expect("follower log lock");
    if reaction.reset {
        log.resets += 1;
    }
    let now = Instant::now();
    log.repeats_dropped += raw_messages.saturating_sub(reaction.deliver.len() as u64);
    log.delivered
        .extend(reaction.deliver.drain(..).map(|m| (m, now)));
    match reaction.end {
        Some(why) => bail!("{why}"),
        None => Ok(()),
    }
}

fn is_message(event: &ChatEvent) -> u64 {
    u64::from(matches!(event, ServerEvent::Entry(_)))
}

type Follow = Subscription<Message>;

/// One connection, until it ends (it never ends well).
async fn connection(
    client: &Client,
    room: &str,
    transport: Transport,
    subscription: &mut Follow,
    shared: &Shared,
) -> anyhow::Result<()> {
    match transport {
        Transport::Sse => sse(client, room, subscription, shared, None).await,
        Transport::SlowSse => {
            let pause = Some(Duration::from_millis(20));
            sse(client, room, subscription, shared, pause).await
        }
        Transport::Ws => ws(client, room, subscription, shared).await,
        Transport::Poll => poll(client, room, subscription, shared).await,
    }
}

/// SSE, resuming with `Last-Event-ID`. With `pause`, reads through a small receive buffer and
/// waits after every read.
async fn sse(
    client: &Client,
    room: &str,
    subscription: &mut Follow,
    shared: &Shared,
    pause: Option<Duration>,
) -> anyhow::Result<()> {
    let after = Some(subscription.cursor());
    let mut decoder = SseDecoder::new();
    let opening = async {
        match pause {
            None => client.sse_body(room, after).await,
            Some(_) => client.sse_body_slow(room, after).await,
        }
    };
    let mut body = tokio::time::timeout(HANDSHAKE_TIMEOUT, opening)
        .await
        .context("no answer to the stream request")??;
    subscription.opened();
    while let Some(chunk) = body.next().await {
        for event in decoder.push(&chunk?)? {
            let event = ChatEvent::from_sse(&event)?;
            let raw = is_message(&event);
            record(shared, &mut subscription.on_event(event), raw)?;
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
    }
    bail!("the stream ended")
}

/// WebSocket, resuming by command when the subscription asks.
async fn ws(
    client: &Client,
    room: &str,
    subscription: &mut Follow,
    shared: &Shared,
) -> anyhow::Result<()> {
    let url = format!(
        "{}{}?last_event_id={}",
        client.base().replacen("http", "ws", 1),
        ROOM_STREAMS.ws.to(&[room]),
        subscription.cursor()
    );
    let mut request = url.into_client_request()?;
    let token = client.token().context("a signed-in client")?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(request))
            .await
            .context("no answer to the WebSocket handshake")??;
    subscription.opened();
    let mut ticks = crate::ticks();
    loop {
        let next = tokio::select! {
            next = socket.next() => Some(next),
            _ = ticks.tick() => None,
        };
        let (mut reaction, raw) = match next {
            None => (subscription.on_tick(false), 0),
            Some(None) => bail!("the socket closed"),
            Some(Some(frame)) => match frame? {
                Frame::Text(text) => {
                    let event = ChatEvent::from_json(&text)?;
                    let raw = is_message(&event);
                    (subscription.on_event(event), raw)
                }
                Frame::Close(frame) => bail!("closed: {frame:?}"),
                _ => continue,
            },
        };
        let resume = reaction.resume_after;
        record(shared, &mut reaction, raw)?;
        if let Some(after) = resume {
            let command = ChatCommand::Resume { after }.to_json();
            socket.send(Frame::text(command)).await?;
        }
    }
}

/// Long-poll, one request after another from the cursor.
async fn poll(
    client: &Client,
    room: &str,
    subscription: &mut Follow,
    shared: &Shared,
) -> anyhow::Result<()> {
    loop {
        let polling = client.poll_ok(room, Some(subscription.cursor()));
        let answer = tokio::time::timeout(POLL_TIMEOUT, polling)
            .await
            .context("no answer to the long-poll")??;
        let raw = answer.entries.len() as u64;
        let mut reaction = subscription.on_poll(answer);
        record(shared, &mut reaction, raw)?;
    }
}
