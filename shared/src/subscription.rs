//! A subscriber's whole policy for following one channel over one transport, without I/O: when
//! it is live, what to show, when to ask for a replay on the same connection, when to give a
//! connection up, and how long to wait before the next one.
//!
//! The browser app and the test followers do the I/O (gloo's EventSource and WebSocket in one,
//! reqwest and tungstenite in the other) and feed what happens into a [`Subscription`], which
//! answers with a [`Reaction`]. The rules therefore exist once:
//!
//! - **SSE** is live once the stream opens. The proxy repairs gaps itself (next links); a gap
//!   that still shows means the stream is broken, so the connection ends and the next one resumes
//!   with `Last-Event-ID`.
//! - **WebSocket** is live once the opening replay's `synced` arrives. Gaps, and `synced` or
//!   `head` events ahead of what was delivered, are answered with a `resume` on the same socket;
//!   so is a resume (or the opening) whose answer has not come within a [`TICK`], however much
//!   else arrived meanwhile.
//! - **Long-poll** is live once an answer arrives; each poll asks from the cursor, so gaps
//!   never outlive the next poll.
//! - A connection that does not open within [`HANDSHAKE_TIMEOUT`] is given up (a proxy that
//!   accepted it while starting may never answer), and so is a long-poll unanswered for
//!   [`POLL_TIMEOUT`].
//! - After a connection ends, the next waits [`Backoff`]: doubling from `first` to `max`, and
//!   back to `first` once a connection got live again.
//! - A `reset` (the server does not know the cursor) ends the subscription's history: the
//!   caller drops what it shows and starts over.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{Entry, Page, ServerEvent};
use crate::sequencer::{Sequencer, Step};

/// How often a client calls [`Subscription::on_tick`], whatever the connection brings: a
/// `synced` that answers a resume (or a WebSocket's opening) and has not come after a whole
/// tick is taken as lost, and the resume asked again.
pub const TICK: Duration = Duration::from_secs(1);

/// How long a stream may take to answer (SSE headers, WebSocket handshake) before a client gives
/// the attempt up and connects afresh.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a long-poll may stay unanswered before a client gives it up: the origin's longest
/// hold (`POLL_TIMEOUT_SECS`, 55 s by default) and a margin.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(65);

/// [`TICK`]s a connection may spend connecting: [`HANDSHAKE_TIMEOUT`] in all.
const HANDSHAKE_TICKS: u32 = (HANDSHAKE_TIMEOUT.as_millis() / TICK.as_millis()) as u32;

/// How a subscriber receives a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// A short name, for settings and logs.
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

/// The pause between connections: `first` after the first failure, doubling up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The browser app's: gentle on a server that is struggling.
    pub const APP: Backoff = Backoff {
        first: Duration::from_millis(500),
        max: Duration::from_secs(16),
    };

    /// The `attempt`th pause (1: the first).
    pub fn delay(self, attempt: u32) -> Duration {
        let doubled = self
            .first
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
        doubled.min(self.max)
    }
}

/// What the caller does after feeding the subscription something.
#[derive(Debug, PartialEq)]
pub struct Reaction<E: Entry> {
    /// Entries to show now, in seq order, none seen before.
    pub deliver: Vec<E>,
    /// Signals to act on now (ephemeral: not in seq order, possibly lost, never repeated).
    pub signals: Vec<E::Signal>,
    /// The server did not know the cursor: drop what is shown (the caller reloads and starts a
    /// new subscription). `end` is set too.
    pub reset: bool,
    /// WebSocket: send `resume` with this seq now.
    pub resume_after: Option<u64>,
    /// End this connection, for this reason; [`Subscription::ended`] says when to try again.
    pub end: Option<&'static str>,
}

impl<E: Entry> Default for Reaction<E> {
    fn default() -> Self {
        Reaction {
            deliver: Vec::new(),
            signals: Vec::new(),
            reset: false,
            resume_after: None,
            end: None,
        }
    }
}

/// When to try again after a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts since the subscription was last live (1: the first).
    pub attempt: u32,
    pub delay: Duration,
}

/// One subscriber's following of one channel, across all its connections.
#[derive(Debug)]
pub struct Subscription<E> {
    transport: Transport,
    sequencer: Sequencer<E>,
    backoff: Backoff,
    /// Connections since the subscription was last live.
    failures: u32,
    /// Whether the current connection got live.
    live: bool,
    /// Ticks the current connection spent connecting.
    connecting_ticks: u32,
}

impl<E: Entry> Subscription<E> {
    /// Follows a channel after seq `after` (the last entry already shown; 0: none).
    pub fn new(transport: Transport, after: u64, backoff: Backoff) -> Self {
        Subscription {
            transport,
            sequencer: Sequencer::after(after),
            backoff,
            failures: 0,
            live: false,
            connecting_ticks: 0,
        }
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Where to resume from: the last seq delivered (`Last-Event-ID`, `last_event_id=`,
    /// `after=`).
    pub fn cursor(&self) -> u64 {
        self.sequencer.last().unwrap_or(0)
    }

    /// Whether the current connection is live (for a connection indicator).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// A new connection is being opened (its URL carries [`Subscription::cursor`]).
    pub fn connecting(&mut self) {
        self.live = false;
        self.connecting_ticks = 0;
        if self.transport == Transport::WebSocket {
            // The opening is answered with a replay and `synced`, like a resume.
            self.sequencer.resume_sent();
        }
    }

    /// The connection opened (SSE: the stream's headers arrived).
    pub fn opened(&mut self) {
        self.connecting_ticks = 0;
        if self.transport == Transport::EventSource {
            self.live = true;
        }
    }

    /// Feeds one event of the stream.
    pub fn on_event(&mut self, event: ServerEvent<E>) -> Reaction<E> {
        if let ServerEvent::Signal(signal) = event {
            return Reaction {
                signals: vec![signal],
                ..Reaction::default()
            };
        }
        if self.transport == Transport::WebSocket && matches!(event, ServerEvent::Synced { .. }) {
            self.live = true;
        }
        let step = self.sequencer.on_event(event);
        self.react(step)
    }

    /// Feeds a long-poll's answer: a reset, or entries in order, or signals.
    pub fn on_poll(&mut self, page: Page<E>) -> Reaction<E> {
        self.live = true;
        if page.reset {
            let last_seq = page.entries.last().map_or(0, Entry::seq);
            return self.on_event(ServerEvent::Reset { last_seq });
        }
        let mut reaction = Reaction {
            signals: page.signals,
            ..Reaction::default()
        };
        for entry in page.entries {
            reaction
                .deliver
                .extend(self.on_event(ServerEvent::Entry(entry)).deliver);
        }
        reaction
    }

    /// Called every [`TICK`]; `connecting`: the connection has not opened yet.
    pub fn on_tick(&mut self, connecting: bool) -> Reaction<E> {
        if connecting {
            self.connecting_ticks += 1;
            let mut reaction = Reaction::default();
            if self.connecting_ticks >= HANDSHAKE_TICKS {
                reaction.end = Some("no answer from the server");
            }
            return reaction;
        }
        self.connecting_ticks = 0;
        let step = self.sequencer.on_tick();
        self.react(step)
    }

    /// The connection ended (the caller's own reasons included); when to try again.
    pub fn ended(&mut self) -> Retry {
        self.failures = if self.live { 1 } else { self.failures + 1 };
        self.live = false;
        Retry {
            attempt: self.failures,
            delay: self.backoff.delay(self.failures),
        }
    }

    fn react(&mut self, step: Step<E>) -> Reaction<E> {
        let mut reaction = Reaction {
            deliver: step.deliver,
            ..Reaction::default()
        };
        if step.reset {
            reaction.reset = true;
            reaction.end = Some("the server did not know our position");
            return reaction;
        }
        match (self.transport, step.resume_after) {
            (_, None) => {}
            // The proxy should have filled it: this stream is broken.
            (Transport::EventSource, Some(_)) => reaction.end = Some("a gap in the stream"),
            (Transport::WebSocket, Some(after)) => reaction.resume_after = Some(after),
            // The next poll asks from the cursor anyway.
            (Transport::LongPoll, Some(_)) => {}
        }
        reaction
    }
}
