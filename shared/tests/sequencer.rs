//! The sequencer delivers every entry once, in order, whatever the network does to them.

use std::collections::VecDeque;

use proptest::prelude::*;
use shared::chat::{ChatEvent, Message};
use shared::event::ServerEvent;
use shared::sequencer::Sequencer;
use time::macros::datetime;
use uuid::Uuid;

fn message(seq: u64) -> Message {
    Message {
        room: "lobby".into(),
        seq,
        id: Uuid::from_u128(u128::from(seq)),
        author: "ann".into(),
        body: format!("m{seq}"),
        sent_at: datetime!(2026-01-01 0:00 UTC),
        client_id: format!("c{seq}"),
        edited_at: None,
        deleted: false,
        amends: None,
    }
}

fn live(seq: u64) -> ChatEvent {
    ServerEvent::Entry(message(seq))
}

/// Plays a stream against a simulated origin that answers each resume with the replay and
/// `synced`, and a room that publishes its head once it goes quiet; returns the delivered seqs.
fn play(total: u64, arrivals: Vec<u64>, resume_first: bool) -> Vec<u64> {
    let mut sequencer = Sequencer::<Message>::after(0);
    let mut queue: VecDeque<ChatEvent> = arrivals.into_iter().map(live).collect();
    // The room goes quiet at `total`: however many of the last messages were lost, the head
    // tells.
    queue.push_back(ServerEvent::Head { last_seq: total });
    if resume_first {
        // The client asked on connecting; the reply lands after whatever was in flight.
        sequencer.resume_sent();
        queue.extend((1..=total).map(live));
        queue.push_back(ServerEvent::Synced { last_seq: total });
    }
    let mut delivered = Vec::new();
    let mut rounds = 0;
    while let Some(event) = queue.pop_front() {
        let step = sequencer.on_event(event);
        delivered.extend(step.deliver.iter().map(|m| m.seq));
        if let Some(after) = step.resume_after {
            rounds += 1;
            assert!(rounds < 100, "resumes must converge");
            queue.extend((after + 1..=total).map(live));
            queue.push_back(ServerEvent::Synced { last_seq: total });
        }
    }
    delivered
}

proptest! {
    #[test]
    fn every_message_once_in_order(
        total in 1u64..60,
        picks in prop::collection::vec(0u64..60, 0..150),
        resume_first in any::<bool>(),
    ) {
        // Arbitrary arrivals: repeats, reordering, losses (whatever `picks` leaves out), the
        // last ones included.
        let arrivals: Vec<u64> = picks.iter().map(|s| s % total + 1).collect();
        prop_assert_eq!(play(total, arrivals, resume_first), (1..=total).collect::<Vec<_>>());
    }
}

#[test]
fn in_order_messages_pass_straight_through() {
    let mut sequencer = Sequencer::<Message>::after(0);
    for seq in 1..=3 {
        let step = sequencer.on_event(live(seq));
        assert_eq!(step.deliver, vec![message(seq)]);
        assert_eq!(step.resume_after, None);
    }
    assert_eq!(sequencer.last(), Some(3));
}

#[test]
fn a_gap_asks_once_until_synced() {
    let mut sequencer = Sequencer::<Message>::after(0);
    assert_eq!(sequencer.on_event(live(2)).resume_after, Some(0));
    assert_eq!(
        sequencer.on_event(live(3)).resume_after,
        None,
        "one resume at a time"
    );
    let step = sequencer.on_event(live(1));
    assert_eq!(
        step.deliver.iter().map(|m| m.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let step = sequencer.on_event(ServerEvent::Synced { last_seq: 3 });
    assert_eq!(step, Default::default(), "caught up: nothing to do");
}

#[test]
fn a_first_visit_starts_wherever_the_history_starts() {
    let mut sequencer = Sequencer::<Message>::new();
    assert_eq!(sequencer.on_event(live(41)).deliver, vec![message(41)]);
    assert_eq!(
        sequencer.on_event(live(41)).deliver,
        vec![],
        "repeat dropped"
    );
    assert_eq!(sequencer.on_event(live(42)).deliver, vec![message(42)]);
}

#[test]
fn a_reset_starts_over() {
    let mut sequencer = Sequencer::<Message>::after(99);
    let step = sequencer.on_event(ServerEvent::Reset { last_seq: 5 });
    assert!(step.reset);
    assert_eq!(sequencer.last(), None);
    assert_eq!(sequencer.on_event(live(4)).deliver, vec![message(4)]);
}

#[test]
fn a_head_ahead_asks_for_the_lost_tail() {
    let mut sequencer = Sequencer::<Message>::after(0);
    sequencer.on_event(live(1));
    let step = sequencer.on_event(ServerEvent::Head { last_seq: 3 });
    assert_eq!(
        step.resume_after,
        Some(1),
        "2 and 3 were lost: resume after 1"
    );
    let step = sequencer.on_event(ServerEvent::Head { last_seq: 1 });
    assert_eq!(
        step,
        Default::default(),
        "a head at our position asks nothing"
    );
}

#[test]
fn heads_during_a_resume_wait_for_its_answer_then_ask_again() {
    let mut sequencer = Sequencer::<Message>::after(4);
    assert_eq!(
        sequencer
            .on_event(ServerEvent::Head { last_seq: 9 })
            .resume_after,
        Some(4)
    );
    for _ in 0..2 {
        let step = sequencer.on_event(ServerEvent::Head { last_seq: 9 });
        assert_eq!(step.resume_after, None, "the resume may still be answered");
    }
    let step = sequencer.on_event(ServerEvent::Head { last_seq: 9 });
    assert_eq!(step.resume_after, Some(4), "its answer was lost: ask again");
}

#[test]
fn a_head_before_the_first_message_asks_nothing() {
    let mut sequencer = Sequencer::<Message>::new();
    let step = sequencer.on_event(ServerEvent::Head { last_seq: 7 });
    assert_eq!(
        step,
        Default::default(),
        "a first visit's replay is still on its way"
    );
}

#[test]
fn a_tick_asks_again_only_once_a_synced_was_awaited_a_whole_tick() {
    let mut sequencer = Sequencer::<Message>::after(2);
    assert_eq!(sequencer.on_tick(), Default::default(), "a quiet stream");
    sequencer.connected();
    assert_eq!(
        sequencer.on_tick(),
        Default::default(),
        "the first tick may come right after the handshake"
    );
    assert_eq!(
        sequencer.on_tick().resume_after,
        Some(2),
        "the handshake's replay never came: ask for it"
    );
    sequencer.on_event(ServerEvent::Synced { last_seq: 2 });
    assert_eq!(sequencer.on_tick(), Default::default());
    assert_eq!(sequencer.on_tick(), Default::default());
}

#[test]
fn live_entries_do_not_hide_a_lost_answer() {
    // A busy channel: its handshake's answer (entries 3 and 4, then `synced`) was lost, and live
    // entries keep coming faster than a tick, so the stream is never quiet.
    let mut sequencer = Sequencer::<Message>::after(2);
    sequencer.connected();
    let mut asked = None;
    for (tick, seq) in (5..15).enumerate() {
        let step = sequencer.on_event(ServerEvent::Entry(message(seq)));
        assert!(step.deliver.is_empty(), "3 and 4 are missing");
        if tick % 3 == 2 {
            asked = asked.or(sequencer.on_tick().resume_after);
        }
    }
    assert_eq!(asked, Some(2), "the answer was asked for again");
}
