//! The subscriber's policy, one rule per test: when a connection is live, what it shows, when
//! it resumes on the same socket, when it gives up, and how long it waits before the next.

use std::time::Duration;

use shared::dashboard::Sample;
use shared::event::{Page, ServerEvent};
use shared::subscription::{Backoff, Reaction, Subscription, Transport};
use time::macros::datetime;

/// Any entry type will do: the policy never looks inside. Dashboard samples here.
fn sample(seq: u64) -> Sample {
    Sample {
        dashboard: "system".into(),
        seq,
        at: datetime!(2026-01-01 0:00 UTC),
        origin: "o1".into(),
        interval_ms: 1000,
        posts: seq,
        streams: 0,
        published: 0,
        recoveries: 0,
        publish_ms_mean: 0.0,
        publish_ms_max: 0.0,
        rooms: Vec::new(),
    }
}

fn entry(seq: u64) -> ServerEvent<Sample> {
    ServerEvent::Entry(sample(seq))
}

fn seqs(reaction: &Reaction<Sample>) -> Vec<u64> {
    reaction.deliver.iter().map(|s| s.seq).collect()
}

const FAST: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_millis(400),
};

#[test]
fn sse_is_live_once_open_and_a_gap_ends_the_connection() {
    let mut sub = Subscription::<Sample>::new(Transport::EventSource, 2, FAST);
    sub.connecting();
    assert!(!sub.is_live());
    sub.opened();
    assert!(sub.is_live());
    assert_eq!(seqs(&sub.on_event(entry(3))), [3]);
    let gap = sub.on_event(entry(5));
    assert_eq!(gap.end, Some("a gap in the stream"));
    assert_eq!(gap.resume_after, None, "SSE resumes by reconnecting");
    assert_eq!(sub.cursor(), 3, "the next connection asks after 3");
}

#[test]
fn websocket_is_live_at_synced_and_resumes_on_the_same_socket() {
    let mut sub = Subscription::<Sample>::new(Transport::WebSocket, 0, FAST);
    sub.connecting();
    sub.opened();
    assert!(!sub.is_live(), "not before the opening replay is answered");
    assert_eq!(seqs(&sub.on_event(entry(1))), [1]);
    sub.on_event(ServerEvent::Synced { last_seq: 1 });
    assert!(sub.is_live());
    // A lost entry: the next one reveals it, and a resume goes out on the same socket.
    let gap = sub.on_event(entry(3));
    assert_eq!((gap.resume_after, gap.end), (Some(1), None));
    assert_eq!(seqs(&sub.on_event(entry(2))), [2, 3]);
    // A lost tail: the channel's head reveals it.
    sub.on_event(ServerEvent::Synced { last_seq: 3 });
    assert_eq!(
        sub.on_event(ServerEvent::Head { last_seq: 4 }).resume_after,
        Some(3)
    );
}

#[test]
fn websocket_asks_again_when_an_answer_does_not_come() {
    let mut sub = Subscription::<Sample>::new(Transport::WebSocket, 5, FAST);
    sub.connecting();
    sub.opened();
    // The opening's answer is awaited: after a whole tick, it is asked for again.
    assert_eq!(sub.on_tick(false).resume_after, None);
    assert_eq!(sub.on_tick(false).resume_after, Some(5));
    sub.on_event(ServerEvent::Synced { last_seq: 5 });
    // Nothing awaited: a quiet channel needs nothing.
    assert_eq!(sub.on_tick(false), Reaction::default());
    assert_eq!(sub.on_tick(false), Reaction::default());
}

#[test]
fn a_connection_that_never_opens_is_given_up_after_the_handshake_timeout() {
    let mut sub = Subscription::<Sample>::new(Transport::EventSource, 0, FAST);
    sub.connecting();
    for _ in 1..10 {
        assert_eq!(sub.on_tick(true).end, None);
    }
    assert_eq!(sub.on_tick(true).end, Some("no answer from the server"));
}

#[test]
fn backoff_doubles_until_a_connection_gets_live() {
    let mut sub = Subscription::<Sample>::new(Transport::EventSource, 0, FAST);
    let delays: Vec<_> = (0..4)
        .map(|_| {
            sub.connecting();
            sub.ended().delay.as_millis()
        })
        .collect();
    assert_eq!(delays, [100, 200, 400, 400]);
    sub.connecting();
    sub.opened();
    let retry = sub.ended();
    assert_eq!((retry.attempt, retry.delay.as_millis()), (1, 100));
}

#[test]
fn long_poll_answers_deliver_in_order_and_a_reset_ends_the_history() {
    let mut sub = Subscription::<Sample>::new(Transport::LongPoll, 0, FAST);
    sub.connecting();
    let answer = sub.on_poll(Page::of(vec![sample(1), sample(2)]));
    assert!(sub.is_live());
    assert_eq!(seqs(&answer), [1, 2]);
    assert_eq!(
        seqs(&sub.on_poll(Page::of(vec![sample(2), sample(3)]))),
        [3]
    );
    let reset = sub.on_poll(Page {
        reset: true,
        ..Page::of(vec![sample(9)])
    });
    assert!(reset.reset && reset.end.is_some());
}

#[test]
fn app_backoff_is_gentle() {
    assert_eq!(Backoff::APP.delay(1), Duration::from_millis(500));
    assert_eq!(Backoff::APP.delay(6), Duration::from_secs(16));
    assert_eq!(Backoff::APP.delay(60), Duration::from_secs(16));
}
