//! The subscriber's half of zero loss: turns the events of a stream into messages in seq order,
//! each once, and says when to ask the origin for what is missing.
//!
//! Seq counts 1, 2, 3… per room with no gaps, so a subscriber can always tell what it lacks.
//! Messages may arrive twice (a replay overlapping live ones) or out of order (a live one
//! overtaking a replay); the sequencer keeps a small reorder buffer and drops repeats. SSE
//! streams rarely need more (the proxy repairs gaps itself); WebSocket clients depend on it, as
//! the proxy has no recovery for them. Pure logic, shared by the frontend and the tests.

use std::collections::BTreeMap;

use crate::event::ServerEvent;
use crate::message::Message;

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

    /// A resume was sent by the caller on its own account (e.g. after reconnecting or when the
    /// tab comes back): hold further resumes until its `synced`.
    pub fn resume_sent(&mut self) {
        self.resuming = true;
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
                let behind = self.last.is_some_and(|last| last < last_seq);
                if behind || !self.ahead.is_empty() {
                    self.ask(&mut step);
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

    fn ask(&mut self, step: &mut Step) {
        self.resuming = true;
        step.resume_after = self.last;
    }
}
