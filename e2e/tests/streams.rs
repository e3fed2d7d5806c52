//! A message's way to every kind of subscriber, through a real Pushpin, on both databases:
//! delivery, exact resumption, recovery of a lost publish, isolation and access control.

use anyhow::ensure;
use e2e::client::{Client, expect_status};
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::{Method, StatusCode};
use shared::api::User;
use shared::chat::Message;
use shared::chat::{ChatCommand, Command};
use shared::event::Page;
use shared::event::ServerEvent;

on_both_databases!(
    a_post_reaches_sse_websocket_and_long_poll,
    reconnecting_with_last_event_id_gets_exactly_what_was_missed,
    a_lost_publish_is_recovered_through_the_next_link,
    a_websocket_client_resumes_after_a_gap,
    a_held_long_poll_recovers_a_lost_publish,
    a_burst_of_concurrent_posts_arrives_once_and_in_order,
    a_message_posted_during_an_outage_is_not_lost,
    a_held_long_poll_times_out_empty,
    rooms_are_isolated,
    private_rooms_admit_members_only,
    websocket_send_acks_and_reaches_sse_subscribers,
    a_long_replay_arrives_in_pages,
    a_cursor_ahead_of_the_room_gets_a_reset,
    streams_at_one_position_share_their_next_link,
);

async fn two_users(stack: &Stack) -> anyhow::Result<(Client, Client)> {
    let base = stack.pushpin.client_url();
    Ok((
        Client::signed_up(base.clone(), "alice").await?,
        Client::signed_up(base, "bob").await?,
    ))
}

fn seqs(messages: &[Message]) -> Vec<u64> {
    messages.iter().map(|m| m.seq).collect()
}

async fn a_post_reaches_sse_websocket_and_long_poll(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;

    let mut sse = bob.sse("lobby", None).await?;
    let (mut ws, replayed) = bob.ws("lobby", None).await?;
    ensure!(replayed.is_empty(), "an empty room replays nothing");
    let poll = tokio::spawn({
        let bob = bob.clone();
        async move { bob.poll("lobby", Some(0)).await }
    });
    stack.wait_for_holds("Poll", 1).await?;

    let posted = alice.post("lobby", "hello, world").await?;
    ensure!(posted.seq == 1 && posted.author == "alice");

    ensure!(
        sse.next_message().await? == posted,
        "SSE delivers the stored message"
    );
    ensure!(ws.next_message().await? == posted, "WebSocket delivers it");
    let polled: Page<Message> = expect_status(poll.await??, StatusCode::OK)
        .await?
        .json()
        .await?;
    ensure!(
        polled.entries == vec![posted],
        "the long-poll answers with it"
    );
    Ok(())
}

async fn reconnecting_with_last_event_id_gets_exactly_what_was_missed(
    db: Db,
) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    for i in 1..=3 {
        alice.post("lobby", &format!("before {i}")).await?;
    }

    let mut sse = bob.sse("lobby", None).await?;
    ensure!(
        seqs(&sse.messages(3).await?) == [1, 2, 3],
        "a first visit replays history"
    );
    drop(sse);

    for i in 4..=6 {
        alice.post("lobby", &format!("missed {i}")).await?;
    }
    let mut sse = bob.sse("lobby", Some(3)).await?;
    let missed = sse.messages(3).await?;
    ensure!(seqs(&missed) == [4, 5, 6], "got {:?}", seqs(&missed));
    ensure!(missed[0].body == "missed 4");

    let live = alice.post("lobby", "live 7").await?;
    ensure!(
        sse.next_message().await? == live,
        "then live messages follow"
    );
    ensure!(sse.try_next().is_none(), "and nothing twice");

    let (_ws, replayed) = bob.ws("lobby", Some(5)).await?;
    ensure!(
        seqs(&replayed) == [6, 7],
        "WebSocket resumes from last_event_id too"
    );

    let poll = bob.poll("lobby", Some(4)).await?;
    let polled: Page<Message> = expect_status(poll, StatusCode::OK).await?.json().await?;
    ensure!(
        seqs(&polled.entries) == [5, 6, 7],
        "long-poll answers at once with what it missed"
    );

    let bad = bob
        .request(Method::GET, "/api/rooms/lobby/events")
        .header("last-event-id", "seven")
        .send()
        .await?;
    ensure!(
        bad.status() == StatusCode::BAD_REQUEST,
        "a bad Last-Event-ID is a 400"
    );
    ensure!(bad.text().await?.contains("bad_cursor"));
    Ok(())
}

/// Stores a message without publishing it: a publish that never reached the proxy.
async fn store_unpublished(stack: &Stack, slug: &str, author: &User) -> anyhow::Result<Message> {
    let store = stack.store().await?;
    let room = store.room_by_slug(slug).await?.expect("room exists");
    let stored = store
        .append(room.channel.id, None, |slot| {
            let message = Message {
                room: slug.to_owned(),
                seq: slot.seq,
                id: uuid::Uuid::new_v4(),
                author: author.name.clone(),
                body: "never published".into(),
                sent_at: time::OffsetDateTime::now_utc(),
                client_id: "lost-1".into(),
                edited_at: None,
                deleted: false,
                amends: None,
            };
            Ok((message, ()))
        })
        .await?;
    store.close().await;
    match stored {
        origin::store::Stored::New { entry, .. } => Ok(entry),
        origin::store::Stored::Existing(_) => anyhow::bail!("no dedupe key was given"),
    }
}

async fn a_lost_publish_is_recovered_through_the_next_link(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let mut sse = bob.sse("lobby", None).await?;

    let lost = store_unpublished(&stack, "lobby", alice.user.as_ref().unwrap()).await?;
    let next = alice.post("lobby", "published").await?;
    ensure!((lost.seq, next.seq) == (1, 2));

    // Pushpin sees prev-id 1 it never got, fetches the next link with Grip-Last, and
    // appends what the origin answers: the lost message, then the published one, once each.
    let got = sse.messages(2).await?;
    ensure!(got == vec![lost, next], "got {:?}", seqs(&got));
    let after = alice.post("lobby", "after recovery").await?;
    ensure!(sse.next_message().await? == after, "and the stream goes on");
    Ok(())
}

async fn a_websocket_client_resumes_after_a_gap(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let (mut ws, _) = bob.ws("lobby", None).await?;

    let lost = store_unpublished(&stack, "lobby", alice.user.as_ref().unwrap()).await?;
    let next = alice.post("lobby", "published").await?;
    let first = ws.next_message().await?;
    ensure!(
        first == next,
        "the WebSocket gets seq 2 and sees the gap itself"
    );

    ws.send(&ChatCommand::Resume { after: 0 }).await?;
    ensure!(
        ws.next_message().await? == lost,
        "resume replays the lost one"
    );
    ensure!(ws.next_message().await? == next, "then the rest, in order");
    match ws.next_event().await? {
        ServerEvent::Synced { last_seq } => ensure!(last_seq == 2),
        other => anyhow::bail!("expected synced, got {other:?}"),
    }
    Ok(())
}

async fn rooms_are_isolated(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("red", false).await?;
    alice.create_room("blue", false).await?;
    let mut blue = bob.sse("blue", None).await?;
    let (mut blue_ws, _) = bob.ws("blue", None).await?;

    alice.post("red", "for red only").await?;
    let for_blue = alice.post("blue", "for blue").await?;
    ensure!(for_blue.seq == 1, "each room counts its own seq");
    ensure!(
        blue.next_message().await? == for_blue,
        "blue's first event is blue's message"
    );
    ensure!(blue_ws.next_message().await? == for_blue);
    Ok(())
}

async fn private_rooms_admit_members_only(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("secret", true).await?;

    for path in [
        "/api/rooms/secret/events",
        "/api/rooms/secret/poll?after=0",
        "/api/rooms/secret/messages",
    ] {
        // Answered as if the room did not exist: strangers cannot find private rooms.
        let response = bob.request(Method::GET, path).send().await?;
        ensure!(
            response.status() == StatusCode::NOT_FOUND,
            "{path}: {}",
            response.status()
        );
        ensure!(response.text().await?.contains("\"not_found\""));
    }
    ensure!(
        bob.ws("secret", None).await.is_err(),
        "the WebSocket handshake is refused"
    );
    let denied = bob.post("secret", "let me in").await;
    ensure!(denied.is_err_and(|e| e.to_string().contains("404")));

    let mut alice_sse = alice.sse("secret", None).await?;
    alice.add_member("secret", "bob").await?;
    let mut bob_sse = bob.sse("secret", None).await?;
    let hello = bob.post("secret", "thanks").await?;
    ensure!(alice_sse.next_message().await? == hello);
    ensure!(bob_sse.next_message().await? == hello);
    Ok(())
}

async fn websocket_send_acks_and_reaches_sse_subscribers(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let mut alice_sse = alice.sse("lobby", None).await?;
    let (mut ws, _) = bob.ws("lobby", None).await?;

    ws.send_text("{not json".into()).await?;
    match ws.next_event().await? {
        ServerEvent::Error { code, .. } => ensure!(code.as_str() == "bad_json"),
        other => anyhow::bail!("expected an error event, got {other:?}"),
    }
    ws.send(&ChatCommand::Own(Command::Send {
        body: String::new(),
        client_id: "c1".into(),
    }))
    .await?;
    match ws.next_event().await? {
        ServerEvent::Error { code, .. } => ensure!(code.as_str() == "invalid"),
        other => anyhow::bail!("expected an error event, got {other:?}"),
    }

    // The connection survived both mistakes.
    ws.send(&ChatCommand::Own(Command::Send {
        body: "over the socket".into(),
        client_id: "c2".into(),
    }))
    .await?;
    let mut acked = None;
    let mut echoed = None;
    while acked.is_none() || echoed.is_none() {
        match ws.next_event().await? {
            ServerEvent::Ack { client_id, seq } if client_id == "c2" => acked = Some(seq),
            ServerEvent::Entry(message) => echoed = Some(message),
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    let message = alice_sse.next_message().await?;
    ensure!(message.body == "over the socket" && message.author == "bob");
    ensure!(acked == Some(message.seq) && echoed == Some(message));
    Ok(())
}

async fn a_long_replay_arrives_in_pages(db: Db) -> anyhow::Result<()> {
    let options = StackOptions {
        replay_page: 5,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    for i in 1..=12 {
        alice.post("lobby", &format!("m{i}")).await?;
    }
    // 12 missed messages, 5 per response: Pushpin follows the next links until one holds.
    let mut sse = bob.sse("lobby", Some(0)).await?;
    let got = sse.messages(12).await?;
    ensure!(
        seqs(&got) == (1..=12).collect::<Vec<_>>(),
        "got {:?}",
        seqs(&got)
    );
    let live = alice.post("lobby", "live").await?;
    ensure!(sse.next_message().await? == live);
    Ok(())
}

async fn a_cursor_ahead_of_the_room_gets_a_reset(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let first = alice.post("lobby", "one").await?;
    // A cursor from a future the room never reached (its database was restored from a backup):
    // every transport says `reset`, then gives the current history to start over from.
    let mut sse = bob.sse("lobby", Some(99)).await?;
    let reset = sse.next_event().await?;
    ensure!(reset.event.as_deref() == Some("reset"), "got {reset:?}");
    ensure!(
        sse.next_message().await? == first,
        "followed by the current history"
    );

    let mut ws = bob.ws_connect("lobby", Some(99)).await?;
    ensure!(ws.next_event().await? == ServerEvent::Reset { last_seq: 1 });
    ensure!(ws.next_message().await? == first);
    ensure!(ws.next_event().await? == ServerEvent::Synced { last_seq: 1 });

    let polled = bob.poll_ok("lobby", Some(99)).await?;
    ensure!(
        polled.reset && polled.entries == vec![first],
        "long-poll answers a reset too, not an error: {polled:?}"
    );
    Ok(())
}

async fn a_held_long_poll_recovers_a_lost_publish(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let poll = tokio::spawn({
        let bob = bob.clone();
        async move { bob.poll("lobby", Some(0)).await }
    });
    stack.wait_for_holds("Poll", 1).await?;
    // The request is held at seq 0; Pushpin gets seq 2 with prev-id 1, sees the gap, and answers
    // the poll through the next link instead: both messages, in order.
    let lost = store_unpublished(&stack, "lobby", alice.user.as_ref().unwrap()).await?;
    let next = alice.post("lobby", "published").await?;
    let polled: Page<Message> = expect_status(poll.await??, StatusCode::OK)
        .await?
        .json()
        .await?;
    ensure!(
        polled.entries == vec![lost, next],
        "got {:?}",
        seqs(&polled.entries)
    );
    Ok(())
}

async fn a_burst_of_concurrent_posts_arrives_once_and_in_order(db: Db) -> anyhow::Result<()> {
    // Small replay pages, so that any recovery the burst causes is itself paged.
    let options = StackOptions {
        replay_page: 50,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let mut sse = bob.sse("lobby", None).await?;
    const POSTERS: usize = 8;
    const EACH: usize = 50;
    let total = (POSTERS * EACH) as u64;
    // A WebSocket client that reads as it goes, as a browser does.
    let (mut ws, _) = bob.ws("lobby", None).await?;
    let ws_reader = tokio::spawn(async move { ws.follow(0, total).await });

    let mut tasks = Vec::new();
    for p in 0..POSTERS {
        let poster = Client::signed_up(stack.pushpin.client_url(), &format!("poster{p}")).await?;
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                poster.post("lobby", &format!("{p}/{i}")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    // Posts that arrived together shared commits (`origin::channel::group`).
    let commits = stack.origin.counter("chat_append_commits_total").await?;
    ensure!(
        commits > 0 && commits < total,
        "{total} posts from {POSTERS} posters at once took {commits} commits"
    );
    let mut got = Vec::new();
    while (got.len() as u64) < total {
        match sse.next_message().await {
            Ok(m) => got.push(m),
            Err(e) => anyhow::bail!(
                "{e}: SSE got {:?}\n{}",
                seqs(&got),
                stack.pushpin.log_tail()
            ),
        }
    }
    ensure!(
        seqs(&got) == (1..=total).collect::<Vec<_>>(),
        "SSE got {:?}",
        seqs(&got)
    );
    let over_ws = ws_reader
        .await?
        .map_err(|e| anyhow::anyhow!("{e}\n{}", stack.pushpin.log_tail()))?;
    ensure!(
        seqs(&over_ws) == (1..=total).collect::<Vec<_>>(),
        "WebSocket got {:?}",
        seqs(&over_ws)
    );
    Ok(())
}

async fn a_message_posted_during_an_outage_is_not_lost(db: Db) -> anyhow::Result<()> {
    let mut stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let mut sse = bob.sse("lobby", None).await?;
    let before = alice.post("lobby", "before").await?;
    ensure!(sse.next_message().await? == before);

    // Fanout is down: every stream is cut and publishing fails. The origin still takes posts
    // (here straight to it); the database keeps them.
    stack.pushpin.stop();
    let direct = stack.direct_client().with_token(alice.token());
    let during = direct.post("lobby", "during the outage").await?;

    stack.pushpin.restart().await?;
    // The subscriber reconnects from where it was, as EventSource does.
    let mut sse = bob.sse("lobby", Some(before.seq)).await?;
    ensure!(
        sse.next_message().await? == during,
        "replayed from the database"
    );
    let after = alice.post("lobby", "after").await?;
    ensure!(
        sse.next_message().await? == after,
        "and nothing twice: {:?}",
        sse.try_next()
    );
    Ok(())
}

async fn a_held_long_poll_times_out_empty(db: Db) -> anyhow::Result<()> {
    let options = StackOptions {
        poll_timeout_secs: 1,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    let started = std::time::Instant::now();
    let polled: Page<Message> = expect_status(bob.poll("lobby", Some(0)).await?, StatusCode::OK)
        .await?
        .json()
        .await?;
    ensure!(
        polled.entries.is_empty(),
        "the timeout answer has no messages"
    );
    ensure!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "it was held first"
    );
    Ok(())
}

/// Pushpin 1.36 refreshes new streams 10 times a second, each refresh taking up to 100 streams
/// only if their next links are equal, so a crowd of new visitors is live in seconds only if
/// people at one position get one link (docs/BENCHMARKS.md, *Fan-out*); whose stream it is
/// travels apart, in the session channel's `prev-id`.
async fn streams_at_one_position_share_their_next_link(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let (alice, bob) = two_users(&stack).await?;
    alice.create_room("lobby", false).await?;
    for i in 1..=3 {
        alice.post("lobby", &format!("m{i}")).await?;
    }
    // The hold answers Fanout gets for each person's stream, straight from the origin. Links
    // expire on a ten-minute grid: these holds, milliseconds apart, cross a step once in ~10^5.
    let sig = stack.grip_sig()?;
    let mut answers = Vec::new();
    // Bob from 2 is replayed 3 and then holds at 3 too; Alice's last hold is after a 4th post.
    for (who, last_event_id) in [(&alice, "3"), (&bob, "2"), (&alice, "4")] {
        if answers.len() == 2 {
            alice.post("lobby", "m4").await?;
        }
        let hold = stack
            .direct_client()
            .with_token(who.token())
            .request(Method::GET, "/api/rooms/lobby/events")
            .header("last-event-id", last_event_id)
            .header("grip-sig", &sig)
            .send()
            .await?;
        let hold = expect_status(hold, StatusCode::OK).await?;
        let header = |name: &str| -> anyhow::Result<String> {
            Ok(hold.headers()[name].to_str()?.to_owned())
        };
        let mark = header("grip-channel")?
            .split(',')
            .map(str::trim)
            .find(|c| c.starts_with("session-"))
            .and_then(|c| c.split_once("; prev-id="))
            .map(|(_, mark)| mark.to_owned());
        answers.push((header("grip-link")?, mark));
    }
    let [(alice_link, alice_mark), (bob_link, bob_mark), (later, _)] = &answers[..] else {
        unreachable!("three answers");
    };
    ensure!(
        alice_link == bob_link,
        "one link at one position: {alice_link} / {bob_link}"
    );
    ensure!(alice_link != later, "another position, another link");
    ensure!(
        alice_mark.is_some() && bob_mark.is_some() && alice_mark != bob_mark,
        "each session's own mark: {alice_mark:?} / {bob_mark:?}"
    );
    Ok(())
}
