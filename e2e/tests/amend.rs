//! Edits and deletes through the whole stack (edge in Viceroy → Pushpin → origin): an author
//! changes her messages over HTTP and over a WebSocket; every transport gets the change as an
//! amendment and applies it in place; a replay from any point yields the current state, never
//! the old text and never a deleted message; and every wrong request is refused with nothing
//! written.

use anyhow::ensure;
use e2e::client::{Client, expect_status, two_through_the_edge};
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::chat::{Change, ChatCommand, ChatEvent, Command, Message};
use shared::event::Page;

on_both_databases!(
    edits_and_deletes_reach_every_transport_and_replay_as_they_are_now,
    wrong_edits_and_deletes_are_refused_and_write_nothing,
);

/// Who asks, how, in which room, for which seq, with what body; the status and code expected.
type Case<'a> = (
    &'a Client,
    Method,
    &'a str,
    String,
    Option<Value>,
    StatusCode,
    &'a str,
);

async fn edge_stack(db: Db) -> anyhow::Result<(Stack, Client, Client)> {
    two_through_the_edge(db, StackOptions::default(), ["ann", "bob"]).await
}

/// What a reader shows after applying `entries` in order, as the app does.
fn shown(entries: Vec<Message>) -> Vec<(u64, String, bool, bool)> {
    let mut list: Vec<Message> = Vec::new();
    for entry in entries {
        match entry.change() {
            Change::New(message) => list.push(message),
            Change::Amend(message) => {
                if let Some(old) = list.iter_mut().find(|m| m.seq == message.seq) {
                    *old = message;
                }
            }
        }
    }
    list.into_iter()
        .map(|m| (m.seq, m.body, m.edited_at.is_some(), m.deleted))
        .collect()
}

async fn edits_and_deletes_reach_every_transport_and_replay_as_they_are_now(
    db: Db,
) -> anyhow::Result<()> {
    let (stack, ann, bob) = edge_stack(db).await?;
    ann.create_room("lobby", false).await?;
    let mut live = Vec::new();
    for body in ["first", "second", "third"] {
        live.push(ann.post("lobby", body).await?);
    }
    let mut sse = bob.sse("lobby", Some(3)).await?;
    let mut ws = bob.ws_connect("lobby", Some(3)).await?;
    ws.follow(3, 3).await?;
    let poll = tokio::spawn({
        let bob = bob.clone();
        async move { bob.poll_ok("lobby", Some(3)).await }
    });
    stack.wait_for_holds("Poll", 1).await?;

    // An edit over HTTP: answered with the message's new state, published as amendment 4.
    let edited = ann.edit("lobby", 1, "first, edited").await?;
    ensure!(
        (edited.seq, edited.body.as_str(), edited.amends) == (1, "first, edited", None)
            && edited.edited_at.is_some(),
        "{edited:?}"
    );
    let amendment = sse.next_message().await?;
    ensure!(
        amendment.seq == 4 && amendment.amends == Some(1) && amendment.body == "first, edited",
        "{amendment:?}"
    );
    ensure!(ws.follow(3, 4).await? == vec![amendment.clone()]);
    ensure!(poll.await??.entries == vec![amendment.clone()]);

    // A delete over a WebSocket: no answer of its own, the amendment is the answer.
    let mut ann_ws = ann.ws_connect("lobby", Some(4)).await?;
    ann_ws.follow(4, 4).await?;
    ann_ws
        .send(&ChatCommand::Own(Command::Delete { seq: 2 }))
        .await?;
    let tombstone = sse.next_message().await?;
    ensure!(
        tombstone.seq == 5 && tombstone.amends == Some(2) && tombstone.deleted,
        "{tombstone:?}"
    );
    ensure!(tombstone.body.is_empty(), "a deleted message keeps no text");
    ensure!(ws.follow(4, 5).await? == vec![tombstone.clone()]);
    ensure!(ann_ws.follow(4, 5).await? == vec![tombstone.clone()]);

    // A retried delete changes nothing: the same tombstone, nothing appended.
    let again = ann.delete("lobby", 2).await?;
    ensure!(again.deleted && again.seq == 2, "{again:?}");

    // Whatever a reader missed, it ends up with the messages as they are now.
    let now = vec![
        (1, "first, edited".to_owned(), true, false),
        (2, String::new(), false, true),
        (3, "third".to_owned(), false, false),
    ];
    live.extend([amendment, tombstone]);
    for after in 0..=5 {
        let mut replay = bob.sse("lobby", Some(after)).await?;
        let replayed = replay.messages(5 - after as usize).await?;
        ensure!(
            replayed
                .iter()
                .all(|m| m.body != "first" && m.body != "second"),
            "a replay from {after} brought back an old version: {replayed:?}"
        );
        // A reader that got the first `after` entries live, then the replay.
        let mut entries = live[..after as usize].to_vec();
        entries.extend(replayed);
        ensure!(shown(entries) == now, "a reader resuming after {after}");
    }
    let polled = bob.poll_ok("lobby", Some(0)).await?;
    ensure!(shown(polled.entries) == now, "long-poll from the start");
    ensure!(shown(ann.history("lobby").await?) == now, "a history page");
    ensure!(
        ws.follow(5, 5).await?.is_empty(),
        "the WebSocket reader is up to date"
    );
    Ok(())
}

async fn wrong_edits_and_deletes_are_refused_and_write_nothing(db: Db) -> anyhow::Result<()> {
    let (_stack, ann, bob) = edge_stack(db).await?;
    ann.create_room("lobby", false).await?;
    ann.create_room("secret", true).await?;
    let first = ann.post("lobby", "ann's").await?;
    let gone = ann.post("lobby", "to be deleted").await?;
    ann.delete("lobby", gone.seq).await?;
    let secret = ann.post("secret", "private").await?;
    let before = (ann.history("lobby").await?, ann.history("secret").await?);

    let edit = |body: &str| Some(json!({ "body": body }));
    let cases: Vec<Case> = vec![
        (
            &bob,
            Method::PATCH,
            "lobby",
            first.seq.to_string(),
            edit("mine now"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &bob,
            Method::DELETE,
            "lobby",
            first.seq.to_string(),
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &ann,
            Method::PATCH,
            "lobby",
            "99".into(),
            edit("no such"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        // Seq 3 is the delete's amendment, not a message.
        (
            &ann,
            Method::PATCH,
            "lobby",
            "3".into(),
            edit("an amendment"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &ann,
            Method::PATCH,
            "lobby",
            "first".into(),
            edit("not a seq"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            &ann,
            Method::PATCH,
            "lobby",
            first.seq.to_string(),
            edit(&"x".repeat(4_001)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            &ann,
            Method::PATCH,
            "lobby",
            first.seq.to_string(),
            edit("  "),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            &ann,
            Method::PATCH,
            "lobby",
            first.seq.to_string(),
            Some(json!({ "body": "x", "author": "bob" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            &ann,
            Method::PATCH,
            "lobby",
            gone.seq.to_string(),
            edit("back from the dead"),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            &bob,
            Method::PATCH,
            "secret",
            secret.seq.to_string(),
            edit("a stranger"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &bob,
            Method::DELETE,
            "secret",
            secret.seq.to_string(),
            None,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (who, method, slug, seq, body, status, code) in cases {
        let what = format!("{method} {slug}/{seq}");
        let response = who.amend_raw(method, slug, &seq, body).await?;
        let answer: Value = expect_status(response, status).await?.json().await?;
        ensure!(answer["error"]["code"] == code, "{what}: {answer}");
    }
    // Over a WebSocket, the same mistakes are error events on the socket.
    let mut ws = bob.ws_connect("lobby", None).await?;
    ws.follow(0, 3).await?;
    ws.send(&ChatCommand::Own(Command::Edit {
        seq: first.seq,
        body: "mine now".into(),
    }))
    .await?;
    loop {
        match ws.next_any().await? {
            ChatEvent::Error { code, .. } => {
                ensure!(code.as_str() == "forbidden", "{code}");
                break;
            }
            ChatEvent::Head { .. } | ChatEvent::Synced { .. } => continue,
            // A resume `follow` sent while the opening's replay was on its way is answered
            // with that replay again: entries already delivered, which a reader drops.
            ChatEvent::Entry(entry) if entry.seq <= 3 => continue,
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    let after = (ann.history("lobby").await?, ann.history("secret").await?);
    ensure!(after == before, "nothing was written");
    let page: Page<Message> = bob.poll_ok("lobby", Some(0)).await?;
    ensure!(page.entries.len() == 3, "no entry was appended");
    Ok(())
}
