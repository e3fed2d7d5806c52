//! The subscriber's half of zero loss: turns the events of a stream into messages in seq order,
//! each once, and says when to ask the origin for what is missing.
//!
//! Seq counts 1, 2, 3… per room with no gaps, so a subscriber can always tell what it lacks.
//! Messages may arrive twice (a replay overlapping live ones) or out of order (a live one
//! overtaking a replay); the sequencer keeps a small reorder buffer and drops repeats. SSE
//! streams rarely need more (the proxy repairs gaps itself); WebSocket clients depend on it, as
//! the proxy has no recovery for them: a gap, a `synced` or a `head` (the room's position,
//! published when it goes quiet) ahead of what was delivered asks for a `resume`. Pure logic,
//! shared by the frontend and the tests.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::event::ServerEvent;
use crate::message::Message;

/// How long a client waits for the `synced` that answers a resume (or a WebSocket's handshake)
/// before it takes the answer as lost and asks again; call [`Sequencer::on_silence`] then.
pub const SILENCE: Duration = Duration::from_secs(1);

/// How long a stream may take to answer (SSE headers, WebSocket handshake) before a client gives
/// the attempt up and connects afresh: a proxy that accepted the connection while starting up
/// may never answer it.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a long-poll may stay unanswered before a client gives it up: the origin's longest
/// hold (`POLL_TIMEOUT_SECS`, 55 s by default) and a margin.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(65);

/// What to do after feeding one event.
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    /// Messages to show now, in seq order, none seen before.
    pub deliver: Vec<Message>,
    /// Ask for everything after this seq (a WebSocket `resume`).
    pub resume_after: Option<u64>,
    /// The origin did not know our position: drop what is shown and show `deliver` instead.
    pub reset: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Sequencer {
    /// The last seq delivered; `None` before the first message (or after a reset), when the
    /// next message starts the sequence wherever it is.
    last: Option<u64>,
    /// Messages that arrived ahead of a gap, by seq.
    ahead: BTreeMap<u64, Message>,
    /// A resume was asked for and its `synced` has not come back yet.
    resuming: bool,
    /// Heads that came, still ahead of us, while that resume was outstanding: after two, its
    /// answer is taken as lost and the resume asked again.
    heads_while_resuming: u8,
}

impl Sequencer {
    /// A sequencer that has seen everything up to `last` (0: nothing yet, from the room's start).
    pub fn after(last: u64) -> Sequencer {
        Sequencer {
            last: Some(last),
            ..Sequencer::default()
        }
    }

    /// A sequencer for a first visit: the first message it gets starts the sequence.
    pub fn new() -> Sequencer {
        Sequencer::default()
    }

    /// The last seq delivered, for reconnecting (`Last-Event-ID`, `last_event_id=`).
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// A resume was sent by the caller on its own account (e.g. when the tab comes back): hold
    /// further resumes until its `synced`.
    pub fn resume_sent(&mut self) {
        self.resuming = true;
        self.heads_while_resuming = 0;
    }

    /// A WebSocket connected: its handshake is answered with a replay and `synced`, like a
    /// resume. (Locally, Viceroy 0.22 can lose that answer: `docs/upstream/`; see `on_silence`.)
    pub fn connected(&mut self) {
        self.resume_sent();
    }

    /// Nothing arrived for [`SILENCE`]. If a `synced` was awaited, its answer is taken as lost:
    /// ask again. Otherwise a quiet stream needs nothing: when a room goes quiet the origin
    /// publishes its `head`, which reveals a lost tail.
    pub fn on_silence(&mut self) -> Step {
        let mut step = Step::default();
        if self.resuming {
            self.ask(&mut step);
        }
        step
    }

    /// Feeds one event from the stream.
    pub fn on_event(&mut self, event: ServerEvent) -> Step {
        let mut step = Step::default();
        match event {
            ServerEvent::Message { message } => {
                let seq = message.seq;
                let base = *self.last.get_or_insert(seq.saturating_sub(1));
                if seq > base {
                    self.ahead.entry(seq).or_insert(message);
                }
                self.drain(&mut step);
                if !self.ahead.is_empty() && !self.resuming {
                    self.ask(&mut step);
                }
            }
            ServerEvent::Synced { last_seq } => {
                self.resuming = false;
                self.heads_while_resuming = 0;
                if self.behind(last_seq) || !self.ahead.is_empty() {
                    self.ask(&mut step);
                }
            }
            ServerEvent::Head { last_seq } => {
                if self.behind(last_seq) {
                    if self.resuming && self.heads_while_resuming < 2 {
                        self.heads_while_resuming += 1;
                    } else {
                        self.ask(&mut step);
                    }
                }
            }
            ServerEvent::Reset { .. } => {
                self.last = None;
                self.ahead.clear();
                step.reset = true;
            }
            ServerEvent::Ack { .. } | ServerEvent::Error { .. } => {}
        }
        step
    }

    fn drain(&mut self, step: &mut Step) {
        while let Some(last) = self.last {
            let Some(message) = self.ahead.remove(&(last + 1)) else {
                break;
            };
            self.last = Some(message.seq);
            step.deliver.push(message);
        }
        // Anything at or below `last` is a repeat.
        if let Some(last) = self.last {
            self.ahead = self.ahead.split_off(&(last + 1));
        }
    }

    /// Whether the room is past what was delivered. Before the first message (a first visit
    /// whose replay is still coming) there is nothing to compare.
    fn behind(&self, room_last_seq: u64) -> bool {
        self.last.is_some_and(|last| last < room_last_seq)
    }

    fn ask(&mut self, step: &mut Step) {
        self.resuming = true;
        self.heads_while_resuming = 0;
        step.resume_after = self.last;
    }
}
