//! The subscriber's half of zero loss: turns the events of a stream into entries in seq order,
//! each once, and says when to ask the origin for what is missing.
//!
//! Seq counts 1, 2, 3… per channel with no gaps, so a subscriber can always tell what it lacks.
//! Entries may arrive twice (a replay overlapping live ones) or out of order (a live one
//! overtaking a replay); the sequencer keeps a small reorder buffer and drops repeats. SSE
//! streams rarely need more (the proxy repairs gaps itself); WebSocket clients depend on it, as
//! the proxy has no recovery for them: a gap, a `synced` or a `head` (the channel's position,
//! published when it goes quiet) ahead of what was delivered asks for a `resume`. Pure logic,
//! for any [`Entry`]; [`crate::subscription`] drives it for a whole connection's life.

use std::collections::BTreeMap;

use crate::event::{Entry, ServerEvent};

/// What to do after feeding one event.
#[derive(Debug, PartialEq)]
pub struct Step<E> {
    /// Entries to show now, in seq order, none seen before.
    pub deliver: Vec<E>,
    /// Ask for everything after this seq (a WebSocket `resume`).
    pub resume_after: Option<u64>,
    /// The origin did not know our position: drop what is shown and show `deliver` instead.
    pub reset: bool,
}

// By hand: a derive would require `E: Default`.
impl<E> Default for Step<E> {
    fn default() -> Self {
        Step {
            deliver: Vec::new(),
            resume_after: None,
            reset: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sequencer<E> {
    /// The last seq delivered; `None` before the first entry (or after a reset), when the
    /// next entry starts the sequence wherever it is.
    last: Option<u64>,
    /// Entries that arrived ahead of a gap, by seq.
    ahead: BTreeMap<u64, E>,
    /// A resume was asked for and its `synced` has not come back yet.
    resuming: bool,
    /// Heads that came, still ahead of us, while that resume was outstanding: after two, its
    /// answer is taken as lost and the resume asked again.
    heads_while_resuming: u8,
    /// Ticks since that resume was asked: at the second, a whole [`TICK`](crate::subscription::TICK) went by without its
    /// answer, which is taken as lost and asked again. Counted whatever else arrives: on a busy
    /// channel live entries never stop, and they must not hide a lost answer.
    ticks_while_resuming: u8,
}

impl<E: Entry> Default for Sequencer<E> {
    fn default() -> Self {
        Sequencer {
            last: None,
            ahead: BTreeMap::new(),
            resuming: false,
            heads_while_resuming: 0,
            ticks_while_resuming: 0,
        }
    }
}

impl<E: Entry> Sequencer<E> {
    /// A sequencer that has seen everything up to `last` (0: nothing yet, from the start).
    pub fn after(last: u64) -> Self {
        Sequencer {
            last: Some(last),
            ..Sequencer::default()
        }
    }

    /// A sequencer for a first visit: the first entry it gets starts the sequence.
    pub fn new() -> Self {
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
        self.ticks_while_resuming = 0;
    }

    /// A WebSocket connected: its handshake is answered with a replay and `synced`, like a
    /// resume. (Locally, Viceroy 0.22 can lose that answer: `docs/upstream/`; see `on_tick`.)
    pub fn connected(&mut self) {
        self.resume_sent();
    }

    /// Called every [`TICK`](crate::subscription::TICK), whatever arrived in between. If a `synced` has been awaited for a
    /// whole tick, its answer is taken as lost: ask again. Otherwise nothing is needed: when a
    /// channel goes quiet the origin publishes its `head`, which reveals a lost tail.
    pub fn on_tick(&mut self) -> Step<E> {
        let mut step = Step::default();
        if self.resuming {
            self.ticks_while_resuming += 1;
            if self.ticks_while_resuming >= 2 {
                self.ask(&mut step);
            }
        }
        step
    }

    /// Feeds one event from the stream.
    pub fn on_event(&mut self, event: ServerEvent<E>) -> Step<E> {
        let mut step = Step::default();
        match event {
            ServerEvent::Entry(entry) => {
                let seq = entry.seq();
                let base = *self.last.get_or_insert(seq.saturating_sub(1));
                if seq > base {
                    self.ahead.entry(seq).or_insert(entry);
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
            // Not part of the sequence: the subscription hands signals over as they come.
            ServerEvent::Ack { .. } | ServerEvent::Error { .. } | ServerEvent::Signal(_) => {}
        }
        step
    }

    fn drain(&mut self, step: &mut Step<E>) {
        while let Some(last) = self.last {
            let Some(entry) = self.ahead.remove(&(last + 1)) else {
                break;
            };
            self.last = Some(last + 1);
            step.deliver.push(entry);
        }
        // Anything at or below `last` is a repeat.
        if let Some(last) = self.last {
            self.ahead = self.ahead.split_off(&(last + 1));
        }
    }

    /// Whether the channel is past what was delivered. Before the first entry (a first visit
    /// whose replay is still coming) there is nothing to compare.
    fn behind(&self, channel_last_seq: u64) -> bool {
        self.last.is_some_and(|last| last < channel_last_seq)
    }

    fn ask(&mut self, step: &mut Step<E>) {
        self.resume_sent();
        step.resume_after = self.last;
    }
}
