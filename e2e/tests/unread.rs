//! Unread counts through the whole stack (edge in Viceroy → Pushpin → origin): counted from
//! each user's read mark, stored per user (the same in every browser), never moving back, and
//! kept live by the activity stream, which hears of exactly the rooms its user may read.

use anyhow::ensure;
use e2e::client::{Client, SseClient, expect_status, two_through_the_edge};
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::chat::{ACTIVITY_EVENT, Activity};

on_both_databases!(
    unread_counts_follow_the_reader_and_stay_live,
    the_activity_stream_keeps_private_rooms_private,
    bad_read_marks_are_refused,
);

async fn edge_stack(db: Db) -> anyhow::Result<(Stack, Client, Client)> {
    let (stack, ann, bob) =
        two_through_the_edge(db, StackOptions::default(), ["ann", "bob"]).await?;
    ann.create_room("lobby", false).await?;
    Ok((stack, ann, bob))
}

/// The next activity on the stream.
async fn next(activity: &mut SseClient) -> anyhow::Result<Activity> {
    let event = activity.next_event().await?;
    ensure!(
        event.event.as_deref() == Some(ACTIVITY_EVENT) && event.id.is_none(),
        "{event:?}"
    );
    Ok(serde_json::from_str(&event.data)?)
}

/// Opens `client`'s activity stream; it is live once `ready` came.
async fn open(client: &Client) -> anyhow::Result<SseClient> {
    let mut activity = client.activity().await?;
    ensure!(next(&mut activity).await? == Activity::Ready);
    Ok(activity)
}

fn posted(room: &str, seq: u64) -> Activity {
    Activity::Message {
        room: room.into(),
        seq,
        author: "ann".into(),
    }
}

async fn unread_counts_follow_the_reader_and_stay_live(db: Db) -> anyhow::Result<()> {
    let (_stack, ann, bob) = edge_stack(db).await?;
    let mut activity = open(&bob).await?;
    for seq in 1..=3 {
        ensure!(ann.post("lobby", &format!("news {seq}")).await?.seq == seq);
        ensure!(next(&mut activity).await? == posted("lobby", seq));
    }
    ensure!(bob.unread("lobby").await? == (3, false));
    ensure!(
        ann.unread("lobby").await? == (0, false),
        "one's own are read"
    );

    // Bob reads up to 2 in one browser: the list there hears it, and another browser of his
    // shows the same count.
    ensure!(bob.mark_read("lobby", 2).await? == 2);
    let read = Activity::Read {
        room: "lobby".into(),
        seq: 2,
    };
    ensure!(next(&mut activity).await? == read);
    let elsewhere = bob.signed_in_again().await?;
    ensure!(elsewhere.unread("lobby").await? == (1, false));
    ensure!(
        elsewhere.mark_read("lobby", 1).await? == 2,
        "a late tab does not move the mark back"
    );
    ensure!(next(&mut activity).await? == read);
    ensure!(bob.unread("lobby").await? == (1, false));

    // A new public room: the list refetches and reopens its stream, which then hears it.
    ann.create_room("news", false).await?;
    ensure!(next(&mut activity).await? == Activity::Rooms);
    ensure!(bob.unread("news").await? == (0, false));
    let mut activity = open(&bob).await?;
    ann.post("news", "first").await?;
    ensure!(next(&mut activity).await? == posted("news", 1));
    ensure!(bob.unread("news").await? == (1, false));
    Ok(())
}

async fn the_activity_stream_keeps_private_rooms_private(db: Db) -> anyhow::Result<()> {
    let (_stack, ann, bob) = edge_stack(db).await?;
    ann.create_room("secret", true).await?;
    let mut activity = open(&bob).await?;
    ann.post("secret", "not for bob").await?;
    ann.post("lobby", "for everyone").await?;
    ensure!(
        next(&mut activity).await? == posted("lobby", 1),
        "a private room's news reaches its members only"
    );
    ensure!(!bob.rooms().await?.iter().any(|r| r.slug == "secret"));

    // Added to the room: told to reopen, and the new stream hears the room.
    let added = ann
        .request(
            reqwest::Method::POST,
            &shared::paths::ROOM_MEMBERS.to(&["secret"]),
        )
        .json(&json!({"name": "bob"}))
        .send()
        .await?;
    expect_status(added, StatusCode::NO_CONTENT).await?;
    ensure!(next(&mut activity).await? == Activity::Rooms);
    let mut activity = open(&bob).await?;
    ensure!(bob.unread("secret").await? == (1, false));
    ann.post("secret", "now for bob").await?;
    ensure!(next(&mut activity).await? == posted("secret", 2));

    // Removed from it: the stream ends (the list reconnects without the room).
    let removed = ann
        .request(
            reqwest::Method::DELETE,
            &shared::paths::ROOM_MEMBER.to(&["secret", "bob"]),
        )
        .send()
        .await?;
    expect_status(removed, StatusCode::NO_CONTENT).await?;
    let ended = loop {
        match activity.next_event().await {
            Err(err) => break err,
            Ok(event) => ensure!(event.event.as_deref() != Some(ACTIVITY_EVENT), "{event:?}"),
        }
    };
    ensure!(format!("{ended:#}").contains("ended"), "{ended:#}");
    Ok(())
}

async fn bad_read_marks_are_refused(db: Db) -> anyhow::Result<()> {
    let (stack, ann, bob) = edge_stack(db).await?;
    ann.create_room("secret", true).await?;
    ann.post("lobby", "one").await?;
    let cases = [
        (
            "lobby",
            json!({"seq": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "lobby",
            json!({"seq": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "lobby",
            json!({"seq": "1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "lobby",
            json!({"seq": 1, "more": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "lobby",
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "secret",
            json!({"seq": 1}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "nowhere",
            json!({"seq": 1}),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (i, (slug, body, status, code)) in cases.into_iter().enumerate() {
        let response = bob.mark_read_raw(slug, &body).await?;
        let body: Value = expect_status(response, status).await?.json().await?;
        ensure!(body["error"]["code"] == code, "case {i}: {body}");
    }
    ensure!(
        bob.unread("lobby").await? == (1, false),
        "nothing was written"
    );
    let anonymous = bob.with_token(None);
    let response = anonymous.mark_read_raw("lobby", &json!({"seq": 1})).await?;
    expect_status(response, StatusCode::UNAUTHORIZED).await?;

    // The activity stream needs a session, and Fanout in front of it.
    let anonymous = bob
        .with_token(None)
        .request(reqwest::Method::GET, shared::paths::ACTIVITY.template())
        .send()
        .await?;
    expect_status(anonymous, StatusCode::UNAUTHORIZED).await?;
    let direct = stack
        .direct_client()
        .with_token(bob.token())
        .request(reqwest::Method::GET, shared::paths::ACTIVITY.template())
        .send()
        .await?;
    let body: Value = expect_status(direct, StatusCode::FORBIDDEN)
        .await?
        .json()
        .await?;
    ensure!(body["error"]["code"] == "not_via_grip", "{body}");
    Ok(())
}
