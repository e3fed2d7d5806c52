//! The hold answer: how many stream subscriptions per second the origin answers, asked
//! straight (no proxy in the way) exactly as Pushpin asks — a signed `Grip-Sig`, the
//! subscriber's session, a `Last-Event-ID` cursor — with a replay of 0 and of 50 messages.
//! Baseline in the same run, same client, same concurrency: an axum hello-world started in this
//! process (the origin runs in this process too).
//!
//! Every SSE or WebSocket subscription, every reconnect and every next-link refresh is one of
//! these requests (Pushpin holds the stream afterwards), so this rate is the origin's side of a
//! storm of subscribers: the Grip-Sig check, the session look-up, the access check, the replay
//! query, and the GRIP headers.

use anyhow::ensure;
use e2e::client::Client;
use e2e::{Db, Stack};

/// Messages in the room: a cursor `REPLAYED` behind its end gets a replay of that many.
const ROOM: u64 = 60;
const REPLAYED: u64 = 50;

pub async fn run(requests: usize) -> anyhow::Result<()> {
    let hello = hello_world().await?;
    let stack = Stack::start(Db::Sqlite).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    owner.create_room("hold", false).await?;
    for i in 0..ROOM {
        owner
            .post("hold", &format!("message {i} {}", "x".repeat(100)))
            .await?;
    }
    let token = owner.token().expect("signed in").to_owned();
    let http = reqwest::Client::builder().no_proxy().build()?;
    let events = format!(
        "{}{}",
        stack.direct_client().base(),
        shared::paths::ROOM_STREAMS.events.to(&["hold"])
    );

    let hello_rate = async || {
        crate::rate(requests, |_| {
            let request = http.get(&hello);
            async move {
                let response = request.send().await?;
                ensure!(response.status().is_success());
                response.bytes().await?;
                anyhow::Ok(())
            }
        })
        .await
    };
    let hold_rate = async |cursor: u64| {
        // Signed once per round (valid for a minute, a round takes seconds), as Pushpin signs
        // once per request: the origin's check is what is measured, not the bench's signing.
        let sig = stack.grip_sig()?;
        crate::rate(requests, |_| {
            let request = http
                .get(&events)
                .header("grip-sig", &sig)
                .header("accept", "text/event-stream")
                .header("last-event-id", cursor.to_string())
                .bearer_auth(&token);
            async move {
                let response = request.send().await?;
                ensure!(
                    response.status().is_success() && response.headers().contains_key("grip-hold"),
                    "a hold answer, got {}",
                    response.status()
                );
                let body = response.bytes().await?;
                let replayed = body
                    .split(|b| *b == b'\n')
                    .filter(|l| l.starts_with(b"id:"));
                let expected = ROOM - cursor;
                ensure!(
                    replayed.count() as u64 == expected,
                    "a replay of {expected}"
                );
                anyhow::Ok(())
            }
        })
        .await
    };

    // The baseline before and after, averaged: the machine's speed drifts during a run.
    let before = hello_rate().await?;
    let none = hold_rate(ROOM).await?;
    let fifty = hold_rate(ROOM - REPLAYED).await?;
    let after = hello_rate().await?;
    let baseline = (before + after) / 2.0;
    println!(
        "axum hello-world (baseline):    {baseline:>8.0} requests/s (before {before:.0}, after {after:.0})"
    );
    println!(
        "hold answer, no replay:         {none:>8.0} requests/s ({:.2}× baseline; goal ≥ 0.8×)",
        none / baseline
    );
    println!(
        "hold answer, replay of {REPLAYED}:     {fifty:>8.0} requests/s ({:.2}× baseline; goal ≥ 0.5×)",
        fifty / baseline
    );
    Ok(())
}

/// An axum hello-world on a free port of this process; its URL.
async fn hello_world() -> anyhow::Result<String> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, world!" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}
