//! Subscribers that behave like the browser app, for tests that break things around them: each
//! follows one room over one transport, feeds what arrives to `shared::sequencer`, and when its
//! connection ends (a crash, a forced disconnect, a gap Fanout did not fill) reconnects with
//! backoff from the last seq it delivered. Every delivery is logged with its time.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use shared::event::{ClientCommand, ServerEvent};
use shared::message::Message;
use shared::sequencer::{HANDSHAKE_TIMEOUT, POLL_TIMEOUT, SILENCE, Sequencer, Step};
use shared::sse::SseDecoder;
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

/// Shortest and longest pause before reconnecting (doubling in between).
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

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
    let mut sequencer = Sequencer::after(0);
    let mut backoff = BACKOFF.0;
    loop {
        let before = sequencer.last();
        let ended = tokio::select! {
            ended = connection(&client, &room, transport, &mut sequencer, &shared) => ended,
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
        // Progress on the last connection: try again soon.
        backoff = if sequencer.last() != before {
            BACKOFF.0
        } else {
            (backoff * 2).min(BACKOFF.1)
        };
        tokio::time::sleep(backoff).await;
    }
}

/// Applies a sequencer step to the log; returns the seq to resume after, if asked.
fn record(shared: &Shared, step: Step, raw_messages: u64) -> anyhow::Result<Option<u64>> {
    let mut log = shared.log.lock().expect("follower log lock");
    if step.reset {
        log.resets += 1;
        bail!("reset: the origin did not know our position");
    }
    let now = Instant::now();
    log.repeats_dropped += raw_messages.saturating_sub(step.deliver.len() as u64);
    log.delivered
        .extend(step.deliver.into_iter().map(|m| (m, now)));
    Ok(step.resume_after)
}

fn is_message(event: &ServerEvent) -> u64 {
    u64::from(matches!(event, ServerEvent::Message { .. }))
}

/// One connection, until it ends (it never ends well).
async fn connection(
    client: &Client,
    room: &str,
    transport: Transport,
    sequencer: &mut Sequencer,
    shared: &Shared,
) -> anyhow::Result<()> {
    let after = sequencer.last().unwrap_or(0);
    match transport {
        Transport::Sse => sse(client, room, after, sequencer, shared, None).await,
        Transport::SlowSse => {
            sse(
                client,
                room,
                after,
                sequencer,
                shared,
                Some(Duration::from_millis(20)),
            )
            .await
        }
        Transport::Ws => ws(client, room, after, sequencer, shared).await,
        Transport::Poll => poll(client, room, sequencer, shared).await,
    }
}

/// SSE, resuming with `Last-Event-ID`; a gap Fanout did not fill ends the connection, as in the
/// app. With `pause`, reads through a small receive buffer and waits after every read.
async fn sse(
    client: &Client,
    room: &str,
    after: u64,
    sequencer: &mut Sequencer,
    shared: &Shared,
    pause: Option<Duration>,
) -> anyhow::Result<()> {
    let mut decoder = SseDecoder::new();
    let opening = async {
        match pause {
            None => client.sse_body(room, Some(after)).await,
            Some(_) => client.sse_body_slow(room, Some(after)).await,
        }
    };
    let mut body = tokio::time::timeout(HANDSHAKE_TIMEOUT, opening)
        .await
        .context("no answer to the stream request")??;
    while let Some(chunk) = body.next().await {
        for event in decoder.push(&chunk?)? {
            let event = ServerEvent::from_sse(&event)?;
            let raw = is_message(&event);
            if record(shared, sequencer.on_event(event), raw)?.is_some() {
                bail!("a gap in the stream");
            }
        }
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
    }
    bail!("the stream ended")
}

/// WebSocket, resuming by command when the sequencer asks.
async fn ws(
    client: &Client,
    room: &str,
    after: u64,
    sequencer: &mut Sequencer,
    shared: &Shared,
) -> anyhow::Result<()> {
    let url = format!(
        "{}/api/rooms/{room}/ws?last_event_id={after}",
        client.base().replacen("http", "ws", 1)
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
    sequencer.connected();
    loop {
        let (step, raw) = match tokio::time::timeout(SILENCE, socket.next()).await {
            Err(_) => (sequencer.on_silence(), 0),
            Ok(None) => bail!("the socket closed"),
            Ok(Some(frame)) => match frame? {
                Frame::Text(text) => {
                    let event: ServerEvent = serde_json::from_str(&text)?;
                    let raw = is_message(&event);
                    (sequencer.on_event(event), raw)
                }
                Frame::Close(frame) => bail!("closed: {frame:?}"),
                _ => continue,
            },
        };
        if let Some(after) = record(shared, step, raw)? {
            send_resume(&mut socket, sequencer, after).await?;
        }
    }
}

async fn send_resume(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    sequencer: &mut Sequencer,
    after: u64,
) -> anyhow::Result<()> {
    sequencer.resume_sent();
    let command = ClientCommand::Resume { after }.to_json();
    socket.send(Frame::text(command)).await?;
    Ok(())
}

/// Long-poll, one request after another from the cursor.
async fn poll(
    client: &Client,
    room: &str,
    sequencer: &mut Sequencer,
    shared: &Shared,
) -> anyhow::Result<()> {
    loop {
        let polling = client.poll_ok(room, Some(sequencer.last().unwrap_or(0)));
        let answer = tokio::time::timeout(POLL_TIMEOUT, polling)
            .await
            .context("no answer to the long-poll")??;
        if answer.reset {
            let step = sequencer.on_event(ServerEvent::Reset { last_seq: 0 });
            record(shared, step, 0)?;
        }
        let raw = answer.messages.len() as u64;
        let mut step = Step::default();
        for message in answer.messages {
            let next = sequencer.on_event(ServerEvent::Message { message });
            step.deliver.extend(next.deliver);
        }
        record(shared, step, raw)?;
    }
}
