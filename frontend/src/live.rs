//! The live stream of one channel (a room, a dashboard): connects over the chosen transport,
//! feeds everything that happens to a `shared::subscription::Subscription` (the whole resume
//! policy: what to show, when to resume, when to give up, how long to wait), does what it
//! answers, and reports its state for the connection indicator. This module only does I/O.
//!
//! Written on gloo-net's EventSource/WebSocket streams rather than leptos-use's hooks: those
//! reconnect to a fixed URL at a fixed interval, while resuming needs the current cursor in
//! every new URL, exponential backoff, and a `resume` command on the same socket.

use std::convert::Infallible;

use futures_util::future::{AbortHandle, Abortable, Either, select};
use futures_util::{SinkExt as _, StreamExt as _};
use gloo_net::eventsource::State as EsState;
use gloo_net::eventsource::futures::EventSource;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message as Frame, State as WsState};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use leptos::prelude::*;
use shared::event::{ClientCommand, Entry, NoCommands, ServerEvent};
use shared::paths::Streams;
use shared::sse::SseEvent;
use shared::subscription::{Backoff, POLL_TIMEOUT, Reaction, Subscription, TICK, Transport};

use crate::api;

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
pub enum Delivery<E: Entry> {
    /// New entries, in seq order, none seen before.
    Entries(Vec<E>),
    /// Ephemeral signals (chat: presence, typing).
    Signals(Vec<E::Signal>),
    /// The server does not know our position (its database was reset, or it forgot that far
    /// back): reload.
    Reset,
}

/// A running stream; dropping it stops the stream and closes its connection.
pub struct Follow(AbortHandle);

impl Drop for Follow {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts following the channel `key` of `streams` after seq `after` (the last entry already
/// shown).
pub fn follow<E: Entry>(
    streams: Streams,
    key: String,
    after: u64,
    transport: Transport,
    status: WriteSignal<Status>,
    deliver: impl Fn(Delivery<E>) + 'static,
) -> Follow {
    let (abort, registration) = AbortHandle::new_pair();
    let stream = Stream {
        streams,
        key,
        subscription: Subscription::new(transport, after, Backoff::APP),
        status,
        deliver: Box::new(deliver),
    };
    leptos::task::spawn_local(async move {
        let _aborted = Abortable::new(stream.run(), registration).await;
    });
    Follow(abort)
}

/// [`TICK`] and [`POLL_TIMEOUT`] for gloo's timers.
const TICK_MS: u32 = TICK.as_millis() as u32;
const POLL_TIMEOUT_MS: u32 = POLL_TIMEOUT.as_millis() as u32;

/// Why a connection ended. (A connection never ends well: its `Ok` type has no values.)
enum Ended {
    /// The server does not know our position: the page reloads and starts a new stream.
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

struct Stream<E: Entry> {
    streams: Streams,
    key: String,
    subscription: Subscription<E>,
    status: WriteSignal<Status>,
    deliver: Box<dyn Fn(Delivery<E>)>,
}

impl<E: Entry> Stream<E> {
    async fn run(mut self) {
        let transport = self.subscription.transport();
        loop {
            self.subscription.connecting();
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
                self.key
            );
            let retry = self.subscription.ended();
            self.status.try_set(Status::Reconnecting {
                attempt: retry.attempt,
                in_secs: retry.delay.as_secs_f64().ceil() as u32,
                why: ended,
            });
            TimeoutFuture::new(retry.delay.as_millis() as u32).await;
            self.status.try_set(Status::Connecting);
        }
    }

    /// Does what the subscription answered: shows entries, reports a live connection, and
    /// ends the connection when told to. Returns the seq to resume after (WebSocket).
    fn act(&mut self, reaction: Reaction<E>) -> Result<Option<u64>, Ended> {
        if self.subscription.is_live() {
            self.status.try_set(Status::Live);
        }
        if reaction.reset {
            (self.deliver)(Delivery::Reset);
            return Err(Ended::Reset);
        }
        if !reaction.deliver.is_empty() {
            (self.deliver)(Delivery::Entries(reaction.deliver));
        }
        if !reaction.signals.is_empty() {
            (self.deliver)(Delivery::Signals(reaction.signals));
        }
        match reaction.end {
            Some(why) => Err(why.into()),
            None => Ok(reaction.resume_after),
        }
    }

    fn url(&self) -> String {
        let route = self.streams.route(self.subscription.transport());
        let param = match self.subscription.transport() {
            Transport::LongPoll => "after",
            _ => "last_event_id",
        };
        format!(
            "{}?{param}={}",
            route.to(&[&self.key]),
            self.subscription.cursor()
        )
    }

    /// SSE: Fanout repairs gaps itself; the browser reconnects a dropped stream on its own with
    /// `Last-Event-ID`. We step in when it gives up (e.g. a 502 while Fanout is down).
    async fn event_source(&mut self) -> Connection {
        let mut source = EventSource::new(&self.url()).map_err(|e| e.to_string())?;
        let names = ["open", E::KIND, "reset"]
            .into_iter()
            .chain(E::SIGNALS.iter().copied());
        let mut events = futures_util::stream::select_all(
            names
                .into_iter()
                .map(|name| source.subscribe(name))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?,
        );
        let mut ticks = IntervalStream::new(TICK_MS);
        loop {
            let next = match select(events.next(), ticks.next()).await {
                Either::Left((next, _)) => next,
                // The browser may be retrying on its own: say so, and give it a while.
                Either::Right(_) => {
                    let connecting = source.state() == EsState::Connecting;
                    if connecting {
                        self.status.try_set(Status::Connecting);
                    }
                    let reaction = self.subscription.on_tick(connecting);
                    self.act(reaction)?;
                    continue;
                }
            };
            let (name, event) = match next {
                Some(Ok(named)) => named,
                Some(Err(err)) => return Err(err.to_string().into()),
                None => return Err("closed".into()),
            };
            if name == "open" {
                self.subscription.opened();
                self.act(Reaction::default())?;
                continue;
            }
            let sse = SseEvent {
                id: Some(event.last_event_id()).filter(|id| !id.is_empty()),
                event: Some(name),
                data: event.data().as_string().unwrap_or_default(),
            };
            let event = ServerEvent::<E>::from_sse(&sse).map_err(|e| e.to_string())?;
            let reaction = self.subscription.on_event(event);
            self.act(reaction)?;
        }
    }

    /// WebSocket: resumes by command on the same socket when the subscription says so.
    async fn web_socket(&mut self) -> Connection {
        let location = web_sys::window().ok_or("no window")?.location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().map_err(|_| "no host")?;
        let url = format!("{scheme}://{host}{}", self.url());
        let mut socket = WebSocket::open(&url).map_err(|e| e.to_string())?;
        let mut ticks = IntervalStream::new(TICK_MS);
        loop {
            let reaction = match select(socket.next(), ticks.next()).await {
                Either::Right(_) => {
                    let connecting = matches!(socket.state(), WsState::Connecting);
                    self.subscription.on_tick(connecting)
                }
                Either::Left((Some(Ok(Frame::Text(text))), _)) => {
                    self.subscription.opened();
                    let event = ServerEvent::<E>::from_json(&text).map_err(|e| e.to_string())?;
                    self.subscription.on_event(event)
                }
                Either::Left((Some(Ok(Frame::Bytes(_))), _)) => continue,
                Either::Left((Some(Err(err)), _)) => return Err(err.to_string().into()),
                Either::Left((None, _)) => return Err("closed".into()),
            };
            if let Some(after) = self.act(reaction)? {
                // `resume` is the core's command: the same for every kind of channel.
                let command = ClientCommand::<NoCommands>::Resume { after }.to_json();
                socket
                    .send(Frame::Text(command))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }

    /// Long-poll: each answer is the next page after our cursor (an empty one: a timeout, or the
    /// channel announcing where it is), or a reset when our cursor is ahead of the channel.
    async fn long_poll(&mut self) -> Connection {
        loop {
            let cursor = self.subscription.cursor();
            let polling = Box::pin(api::poll::<E>(self.streams, &self.key, cursor));
            let answer = match select(polling, TimeoutFuture::new(POLL_TIMEOUT_MS)).await {
                Either::Left((answer, _)) => answer.map_err(|e| e.to_string())?,
                Either::Right(_) => return Err("no answer to the long-poll".into()),
            };
            let reaction = self.subscription.on_poll(answer);
            self.act(reaction)?;
        }
    }
}
