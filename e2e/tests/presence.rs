//! Presence and typing through the whole stack (edge in Viceroy → Pushpin → origin): signals
//! reach SSE, WebSocket and long-poll subscribers; presence follows users, not devices, and
//! expires when heartbeats stop; two origins on one database agree on who is online; a typing
//! flood is refused without slowing anyone else; wrong requests get clear errors.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use e2e::client::{Client, SseClient, WsClient, expect_status, two_through_the_edge};
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::StatusCode;
use serde_json::Value;
use shared::chat::{ChatEvent, RoomSignal};

on_both_databases!(
    presence_and_typing_reach_every_transport,
    presence_expires_and_two_origins_agree,
    wrong_presence_and_typing_requests_are_refused,
);

/// Heartbeats stop counting after this; short, so that expiry can be watched.
const TTL_SECS: u32 = 2;

async fn edge_stack(db: Db) -> anyhow::Result<(Stack, Client, Client)> {
    let options = StackOptions {
        presence_ttl_secs: TTL_SECS,
        ..StackOptions::default()
    };
    let (stack, ann, bob) = two_through_the_edge(db, options, ["ann", "bob"]).await?;
    ann.create_room("lobby", false).await?;
    Ok((stack, ann, bob))
}

fn joined(user: &str) -> RoomSignal {
    RoomSignal::Joined { user: user.into() }
}
fn left(user: &str) -> RoomSignal {
    RoomSignal::Left { user: user.into() }
}
fn typing(user: &str) -> RoomSignal {
    RoomSignal::Typing { user: user.into() }
}

/// The next signal on an SSE stream (heads and other control events skipped).
async fn sse_signal(sse: &mut SseClient) -> anyhow::Result<RoomSignal> {
    loop {
        let event = ChatEvent::from_sse(&sse.next_any().await?)?;
        if let ChatEvent::Signal(signal) = event {
            return Ok(signal);
        }
    }
}

/// The next signal on a WebSocket.
async fn ws_signal(ws: &mut WsClient) -> anyhow::Result<RoomSignal> {
    loop {
        if let ChatEvent::Signal(signal) = ws.next_any().await? {
            return Ok(signal);
        }
    }
}

async fn presence_and_typing_reach_every_transport(db: Db) -> anyhow::Result<()> {
    let (stack, ann, bob) = edge_stack(db).await?;
    let mut sse = bob.sse("lobby", Some(0)).await?;
    let mut ws = bob.ws_connect("lobby", Some(0)).await?;
    ws.follow(0, 0).await?;
    let poll = tokio::spawn({
        let bob = bob.clone();
        async move { bob.poll_ok("lobby", Some(0)).await }
    });
    stack.wait_for_holds("Poll", 1).await?;

    // Ann comes online: every transport hears it; a held long-poll is answered with it.
    ensure!(ann.heartbeat("lobby", "ann-laptop").await? == ["ann"]);
    ensure!(sse_signal(&mut sse).await? == joined("ann"));
    ensure!(ws_signal(&mut ws).await? == joined("ann"));
    let page = poll.await??;
    ensure!(
        page.entries.is_empty() && page.signals == vec![joined("ann")],
        "{page:?}"
    );

    // Users, not devices: Ann's phone changes nothing for others.
    ensure!(bob.heartbeat("lobby", "bob-1").await? == ["ann", "bob"]);
    ensure!(ann.heartbeat("lobby", "ann-phone").await? == ["ann", "bob"]);
    ensure!(
        sse_signal(&mut sse).await? == joined("bob"),
        "no second join for Ann"
    );
    ensure!(ws_signal(&mut ws).await? == joined("bob"));

    // Typing: a signal, stored nowhere.
    let held = stack.holds("Poll").await?;
    let poll = tokio::spawn({
        let bob = bob.clone();
        async move { bob.poll_ok("lobby", Some(0)).await }
    });
    stack.wait_for_holds("Poll", held + 1).await?;
    expect_status(ann.typing("lobby").await?, StatusCode::NO_CONTENT).await?;
    ensure!(sse_signal(&mut sse).await? == typing("ann"));
    ensure!(ws_signal(&mut ws).await? == typing("ann"));
    ensure!(poll.await??.signals == vec![typing("ann")]);
    ensure!(
        ann.history("lobby").await?.is_empty(),
        "signals are not messages"
    );

    // A flood of typing from Ann is refused at once; Bob types as usual.
    let mut refused = 0;
    for _ in 0..20 {
        let response = ann.typing("lobby").await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let body: Value = response.json().await?;
            ensure!(body["error"]["code"] == "rate_limited", "{body}");
            refused += 1;
        }
    }
    ensure!(refused >= 15, "only {refused} of 20 refused");
    expect_status(bob.typing("lobby").await?, StatusCode::NO_CONTENT).await?;
    let mut ann_typing = 0;
    loop {
        match sse_signal(&mut sse).await? {
            RoomSignal::Typing { user } if user == "ann" => ann_typing += 1,
            signal => {
                ensure!(signal == typing("bob"), "{signal:?}");
                break;
            }
        }
    }
    ensure!(ann_typing <= 5, "{ann_typing} of the flood were published");
    // The socket hears the flood's few, then Bob.
    let mut ws_ann_typing = 0;
    loop {
        match ws_signal(&mut ws).await? {
            RoomSignal::Typing { user } if user == "ann" => ws_ann_typing += 1,
            signal => {
                ensure!(signal == typing("bob"), "{signal:?}");
                break;
            }
        }
    }
    ensure!(
        ws_ann_typing <= 5,
        "{ws_ann_typing} of the flood reached the socket"
    );

    // Leaving: the last of Ann's devices takes her offline.
    ann.leave("lobby", "ann-laptop").await?;
    ann.leave("lobby", "ann-phone").await?;
    ensure!(sse_signal(&mut sse).await? == left("ann"));
    ensure!(ws_signal(&mut ws).await? == left("ann"));
    Ok(())
}

async fn presence_expires_and_two_origins_agree(db: Db) -> anyhow::Result<()> {
    let (stack, ann, bob) = edge_stack(db).await?;
    let mut sse = bob.sse("lobby", Some(0)).await?;
    // Carol's app talks to a second origin; the first one serves Ann's and Bob's.
    let second = stack.another_origin().await?;
    let carol = Client::signed_up(stack.front_url(), "carol").await?;
    let carol = carol.with_base(second.url());
    // Carol's last heartbeat: her leave may come a TTL after it, never sooner.
    let started = std::time::Instant::now();
    ensure!(carol.heartbeat("lobby", "c-1").await? == ["carol"]);
    ensure!(
        sse_signal(&mut sse).await? == joined("carol"),
        "published by the second origin, heard through the first one's stream"
    );
    ensure!(ann.heartbeat("lobby", "a-1").await? == ["ann", "carol"]);
    ensure!(sse_signal(&mut sse).await? == joined("ann"));

    // Carol's heartbeats stop (her laptop closed): one of the two origins announces her leave,
    // once the TTL is over; Ann, still beating, stays.
    let deadline = Duration::from_secs(u64::from(TTL_SECS) * 5);
    let signal = tokio::time::timeout(deadline, async {
        loop {
            ann.heartbeat("lobby", "a-1").await?;
            match tokio::time::timeout(Duration::from_millis(500), sse_signal(&mut sse)).await {
                Ok(signal) => return signal,
                Err(_quiet) => continue,
            }
        }
    })
    .await
    .context("Carol's leave")??;
    ensure!(signal == left("carol"), "{signal:?}");
    ensure!(
        started.elapsed() >= Duration::from_secs(u64::from(TTL_SECS)),
        "not before the TTL"
    );
    ensure!(ann.heartbeat("lobby", "a-1").await? == ["ann"]);
    Ok(())
}

async fn wrong_presence_and_typing_requests_are_refused(db: Db) -> anyhow::Result<()> {
    let (_stack, ann, bob) = edge_stack(db).await?;
    ann.create_room("secret", true).await?;
    let cases = [
        (
            bob.heartbeat_raw("lobby", "not%20a%20device").await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            bob.heartbeat_raw("lobby", &"d".repeat(65)).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            bob.heartbeat_raw("secret", "b-1").await?,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            bob.heartbeat_raw("nowhere", "b-1").await?,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            bob.typing("secret").await?,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            bob.with_token(None).typing("lobby").await?,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
    ];
    for (i, (response, status, code)) in cases.into_iter().enumerate() {
        let body: Value = expect_status(response, status).await?.json().await?;
        ensure!(body["error"]["code"] == code, "case {i}: {body}");
    }
    ensure!(
        ann.heartbeat("secret", "a-1").await? == ["ann"],
        "the stranger's refused heartbeat was not stored"
    );
    // An unknown WebSocket command is an error event; the socket goes on.
    let mut ws = bob.ws_connect("lobby", Some(0)).await?;
    ws.follow(0, 0).await?;
    ws.send_text(r#"{"type":"wave"}"#.into()).await?;
    loop {
        match ws.next_any().await? {
            ChatEvent::Error { code, .. } => {
                ensure!(code.as_str() == "bad_json", "{code}");
                break;
            }
            ChatEvent::Head { .. } | ChatEvent::Synced { .. } | ChatEvent::Signal(_) => continue,
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    ws.send(&shared::chat::ChatCommand::Own(
        shared::chat::Command::Typing,
    ))
    .await?;
    ensure!(
        ws_signal(&mut ws).await? == typing("bob"),
        "the socket still works"
    );
    Ok(())
}
