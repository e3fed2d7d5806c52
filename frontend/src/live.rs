//! The live stream of one room: connects over the chosen transport, feeds every event through
//! `shared::sequencer::Sequencer` (each message once, in seq order), reconnects with backoff from
//! the last seq it delivered, and reports its state for the connection indicator.
//!
//! Written on gloo-net's EventSource/WebSocket streams rather than leptos-use's hooks: those
//! reconnect to a fixed URL at a fixed interval, while resuming needs the current cursor in
//! every new URL, exponential backoff, and a `resume` command on the same socket.

use std::convert::Infallible;
use std::time::Duration;

use futures_util::future::{AbortHandle, Abortable, Either, select};
use futures_util::{SinkExt as _, StreamExt as _};
use gloo_net::eventsource::State as EsState;
use gloo_net::eventsource::futures::EventSource;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message as Frame, State as WsState};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use shared::event::{ClientCommand, ServerEvent};
use shared::message::Message;
use shared::sequencer::{HANDSHAKE_TIMEOUT, POLL_TIMEOUT, SILENCE, Sequencer};
use shared::sse::SseEvent;

use crate::api;

/// How the room's messages reach the browser. All three resume from the last seq seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    EventSource,
    WebSocket,
    LongPoll,
}

impl Transport {
    pub const ALL: [Transport; 3] = [
        Transport::EventSource,
        Transport::WebSocket,
        Transport::LongPoll,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Transport::EventSource => "EventSource (SSE)",
            Transport::WebSocket => "WebSocket",
            Transport::LongPoll => "Long-poll",
        }
    }

    /// The value in the transport `<select>` and in local storage.
    pub fn key(self) -> &'static str {
        match self {
            Transport::EventSource => "sse",
            Transport::WebSocket => "ws",
            Transport::LongPoll => "poll",
        }
    }

    pub fn from_key(key: &str) -> Option<Transport> {
        Transport::ALL.into_iter().find(|t| t.key() == key)
    }
}

/// What the connection indicator shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Live,
    /// Waiting `in_secs` before attempt number `attempt`, because the last connection ended
    /// for reason `why`.
    Reconnecting {
        attempt: u32,
        in_secs: u32,
        why: String,
    },
}

/// What the stream hands to the page.
pub enum Delivery {
    /// New messages, in seq order, none seen before.
    Messages(Vec<Message>),
    /// The server does not know our position (its database was reset): reload the room.
    Reset,
}

/// A running stream; dropping it stops the stream and closes its connection.
pub struct Follow(AbortHandle);

impl Drop for Follow {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts following room `slug` after seq `after` (the last message already shown).
pub fn follow(
    slug: String,
    after: u64,
    transport: Transport,
    status: WriteSignal<Status>,
    deliver: impl Fn(Delivery) + 'static,
) -> Follow {
    let (abort, registration) = AbortHandle::new_pair();
    let stream = Stream {
        slug,
        sequencer: Sequencer::after(after),
        status,
        deliver: Box::new(deliver),
        went_live: false,
    };
    leptos::task::spawn_local(async move {
        let _aborted = Abortable::new(stream.run(transport), registration).await;
    });
    Follow(abort)
}

/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(16);

/// [`SILENCE`] and [`POLL_TIMEOUT`] for gloo's timers.
const SILENCE_MS: u32 = SILENCE.as_millis() as u32;
const POLL_TIMEOUT_MS: u32 = POLL_TIMEOUT.as_millis() as u32;

/// Silences a connection may spend connecting: [`HANDSHAKE_TIMEOUT`], counted in [`SILENCE`]s.
const HANDSHAKE_SILENCES: u32 = (HANDSHAKE_TIMEOUT.as_millis() / SILENCE.as_millis()) as u32;

/// Why a connection ended. (A connection never ends well: its `Ok` type has no values.)
enum Ended {
    /// The server does not know our position: the page reloads the room and starts a new stream.
    Reset,
    /// Anything else: reconnect from the last seq.
    Failed(String),
}

impl From<String> for Ended {
    fn from(why: String) -> Ended {
        Ended::Failed(why)
    }
}

impl From<&str> for Ended {
    fn from(why: &str) -> Ended {
        Ended::Failed(why.to_owned())
    }
}

type Connection = Result<Infallible, Ended>;

struct Stream {
    slug: String,
    sequencer: Sequencer,
    status: WriteSignal<Status>,
    deliver: Box<dyn Fn(Delivery)>,
    /// Whether the current connection got as far as being live (resets the backoff).
    went_live: bool,
}

impl Stream {
    async fn run(mut self, transport: Transport) {
        let mut failures = 0u32;
        loop {
            self.went_live = false;
            let Err(ended) = match transport {
                Transport::EventSource => self.event_source().await,
                Transport::WebSocket => self.web_socket().await,
                Transport::LongPoll => self.long_poll().await,
            };
            let Ended::Failed(ended) = ended else {
                return;
            };
            leptos::logging::log!(
                "{} stream of {} ended: {ended}",
                transport.label(),
                self.slug
            );
            failures = if self.went_live { 1 } else { failures + 1 };
            // 0.5 s, 1 s, 2 s … up to MAX_BACKOFF.
            let delay = (Duration::from_millis(250) * 2u32.saturating_pow(failures.min(8)))
                .min(MAX_BACKOFF);
            self.status.try_set(Status::Reconnecting {
                attempt: failures,
                in_secs: delay.as_secs_f64().ceil() as u32,
                why: ended,
            });
            TimeoutFuture::new(delay.as_millis() as u32).await;
            self.status.try_set(Status::Connecting);
        }
    }

    fn live(&mut self) {
        self.went_live = true;
        self.status.try_set(Status::Live);
    }

    /// Feeds one event; returns the seq to resume after, if the sequencer wants a resume. A
    /// reset ends the stream: what follows it is the history the page reloads anyway.
    fn feed(&mut self, event: ServerEvent) -> Result<Option<u64>, Ended> {
        let step = self.sequencer.on_event(event);
        if step.reset {
            (self.deliver)(Delivery::Reset);
            return Err(Ended::Reset);
        }
        if !step.deliver.is_empty() {
            (self.deliver)(Delivery::Messages(step.deliver));
        }
        Ok(step.resume_after)
    }

    fn cursor(&self) -> u64 {
        self.sequencer.last().unwrap_or(0)
    }

    /// SSE: Fanout repairs gaps itself; the browser reconnects a dropped stream on its own with
    /// `Last-Event-ID`. We step in when it gives up (e.g. a 502 while Fanout is down).
    async fn event_source(&mut self) -> Connection {
        let url = format!(
            "/api/rooms/{}/events?last_event_id={}",
            self.slug,
            self.cursor()
        );
        let mut source = EventSource::new(&url).map_err(|e| e.to_string())?;
        let mut events = futures_util::stream::select_all(
            ["open", "message", "reset"]
                .into_iter()
                .map(|name| source.subscribe(name))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?,
        );
        let mut connecting = 0;
        loop {
            let next = match select(events.next(), TimeoutFuture::new(SILENCE_MS)).await {
                Either::Left((next, _)) => next,
                // The browser is retrying on its own: say so, keep listening, for a while.
                Either::Right(_) => {
                    if source.state() == EsState::Connecting {
                        self.status.try_set(Status::Connecting);
                        connecting += 1;
                        if connecting >= HANDSHAKE_SILENCES {
                            return Err("no answer from the server".into());
                        }
                    } else {
                        connecting = 0;
                    }
                    continue;
                }
            };
            let (name, event) = match next {
                Some(Ok(named)) => named,
                Some(Err(err)) => return Err(err.to_string().into()),
                None => return Err("closed".into()),
            };
            if name == "open" {
                self.live();
                continue;
            }
            let sse = SseEvent {
                id: Some(event.last_event_id()).filter(|id| !id.is_empty()),
                event: Some(name),
                data: event.data().as_string().unwrap_or_default(),
            };
            let event = ServerEvent::from_sse(&sse).map_err(|e| e.to_string())?;
            if self.feed(event)?.is_some() {
                // A hole Fanout did not fill: start again from what we have.
                return Err("gap in the stream".into());
            }
        }
    }

    /// WebSocket: resumes by command on the same socket when the sequencer says so: a gap, a
    /// `synced` or `head` ahead of what it delivered (the room's `head`, published when it goes
    /// quiet, reveals a lost last message), or a handshake or resume answer that does not come.
    async fn web_socket(&mut self) -> Connection {
        let location = web_sys::window().ok_or("no window")?.location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().map_err(|_| "no host")?;
        let url = format!(
            "{scheme}://{host}/api/rooms/{}/ws?last_event_id={}",
            self.slug,
            self.cursor()
        );
        let mut socket = WebSocket::open(&url).map_err(|e| e.to_string())?;
        self.sequencer.connected();
        let mut connecting = 0;
        loop {
            let next = match select(socket.next(), TimeoutFuture::new(SILENCE_MS)).await {
                Either::Left((next, _)) => Some(next),
                Either::Right(_) => None,
            };
            let resume = match next {
                None if matches!(socket.state(), WsState::Connecting) => {
                    connecting += 1;
                    if connecting >= HANDSHAKE_SILENCES {
                        return Err("no answer from the server".into());
                    }
                    None
                }
                None => self.sequencer.on_silence().resume_after,
                Some(Some(Ok(Frame::Text(text)))) => {
                    let event: ServerEvent =
                        serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    if let ServerEvent::Synced { .. } = event {
                        self.live();
                    }
                    self.feed(event)?
                }
                Some(Some(Ok(Frame::Bytes(_)))) => None,
                Some(Some(Err(err))) => return Err(err.to_string().into()),
                Some(None) => return Err("closed".into()),
            };
            if let Some(after) = resume {
                self.sequencer.resume_sent();
                let command = ClientCommand::Resume { after }.to_json();
                socket
                    .send(Frame::Text(command))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }

    /// Long-poll: each answer is the next page after our cursor (an empty one: a timeout, or the
    /// room announcing where it is), or a reset when our cursor is ahead of the room.
    async fn long_poll(&mut self) -> Connection {
        loop {
            let polling = Box::pin(api::poll(&self.slug, self.cursor()));
            let answer = match select(polling, TimeoutFuture::new(POLL_TIMEOUT_MS)).await {
                Either::Left((answer, _)) => answer.map_err(|e| e.to_string())?,
                Either::Right(_) => return Err("no answer to the long-poll".into()),
            };
            self.live();
            if answer.reset {
                self.feed(ServerEvent::Reset {
                    last_seq: answer.messages.last().map_or(0, |m| m.seq),
                })?;
            }
            for message in answer.messages {
                self.feed(ServerEvent::Message { message })?;
            }
        }
    }
}
