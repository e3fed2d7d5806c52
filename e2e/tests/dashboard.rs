//! The dashboard, the second feature on the channel core: a publisher that is no chat user (each
//! origin's sampler) appends samples, and subscribers follow them over SSE, WebSocket and
//! long-poll through the same edge → Fanout → origin path as a room, with the same replay.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use e2e::client::{Client, expect_status};
use e2e::{Db, Stack, StackOptions, on_both_databases, wait_until};
use futures_util::{SinkExt as _, StreamExt as _};
use reqwest::{Method, StatusCode};
use shared::dashboard::{DashboardCommand, DashboardEvent, SYSTEM, Sample};
use shared::event::{Page, ServerEvent};
use shared::paths::{DASHBOARD_SAMPLES, DASHBOARD_STREAMS};
use shared::subscription::{Backoff, Subscription, Transport};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

on_both_databases!(
    samples_measure_the_chat_and_stream_in_order,
    a_reconnect_replays_what_the_outage_missed,
    websocket_and_long_poll_follow_a_dashboard_too,
    dashboards_need_a_session_and_must_exist,
);

/// Fast sampling, so tests see many samples soon.
const INTERVAL_MS: u32 = 200;

async fn dashboard_stack(db: Db) -> anyhow::Result<(Stack, Client)> {
    let options = StackOptions {
        edge: true,
        dashboard_interval_ms: INTERVAL_MS,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    let ann = Client::signed_up(stack.front_url(), "ann").await?;
    Ok((stack, ann))
}

fn seqs(samples: &[Sample]) -> Vec<u64> {
    samples.iter().map(|s| s.seq).collect()
}

/// The newest samples, once there are at least `n`.
async fn history(client: &Client, n: usize) -> anyhow::Result<Vec<Sample>> {
    let path = DASHBOARD_SAMPLES.to(&[SYSTEM]);
    let page = || async {
        let response = client.request(Method::GET, &path).send().await?;
        let page: Page<Sample> = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        anyhow::Ok(page.entries)
    };
    wait_until(&format!("{n} samples"), Duration::from_secs(20), || async {
        Ok(page().await?.len() >= n)
    })
    .await?;
    page().await
}

async fn samples_measure_the_chat_and_stream_in_order(db: Db) -> anyhow::Result<()> {
    let (stack, ann) = dashboard_stack(db).await?;
    let mut sse = ann.sse_of(DASHBOARD_STREAMS, SYSTEM, None).await?;
    ann.create_room("lobby", false).await?;
    for n in 0..5 {
        ann.post("lobby", &format!("m{n}")).await?;
    }
    // Live samples arrive in seq order, without gaps, until one has counted the posts.
    let mut live: Vec<Sample> = Vec::new();
    let mut posts = 0;
    while posts < 5 {
        let sample: Sample = sse.next_entry().await?;
        if let Some(last) = live.last() {
            ensure!(
                sample.seq == last.seq + 1,
                "{} after {}",
                sample.seq,
                last.seq
            );
        }
        posts += sample.posts;
        if sample.posts > 0 {
            ensure!(
                sample.rooms.first().is_some_and(|r| r.room == "lobby"),
                "the busiest room is named: {:?}",
                sample.rooms
            );
            ensure!(sample.published > 0, "publishing is measured: {sample:?}");
        }
        live.push(sample);
    }
    ensure!(posts == 5, "every post counted once: {posts}");
    let sample = live.last().context("a sample")?;
    ensure!(sample.interval_ms == INTERVAL_MS && sample.dashboard == SYSTEM);
    ensure!(
        sample.streams >= 1 || live.iter().any(|s| s.streams >= 1),
        "the SSE stream counted"
    );
    // History is the same sequence.
    let stored = history(&ann, 3).await?;
    ensure!(
        seqs(&stored).windows(2).all(|w| w[1] == w[0] + 1),
        "history is gapless: {:?}",
        seqs(&stored)
    );
    drop(stack);
    Ok(())
}

async fn a_reconnect_replays_what_the_outage_missed(db: Db) -> anyhow::Result<()> {
    let (mut stack, ann) = dashboard_stack(db).await?;
    let mut sse = ann.sse_of(DASHBOARD_STREAMS, SYSTEM, None).await?;
    let seen: Sample = sse.next_entry().await?;
    drop(sse);
    // Fanout goes away; the origin keeps sampling.
    stack.pushpin.stop();
    let during = history(&ann, 1).await?;
    let target = seen.seq + 5;
    wait_until(
        "samples during the outage",
        Duration::from_secs(20),
        || async {
            let store = stack.store().await?;
            let channel = store
                .channel_by_name(&shared::dashboard::dashboard_channel(SYSTEM))
                .await?
                .context("the dashboard exists")?;
            store.close().await;
            Ok(channel.last_seq >= target)
        },
    )
    .await?;
    ensure!(
        !during.is_empty(),
        "history is served by the origin, through the edge"
    );
    stack.pushpin.restart().await?;
    // Back: resuming after the last sample seen replays every one missed, in order.
    let mut sse = ann
        .sse_of(DASHBOARD_STREAMS, SYSTEM, Some(seen.seq))
        .await?;
    let mut expected = seen.seq + 1;
    while expected <= target {
        let sample: Sample = sse.next_entry().await?;
        ensure!(
            sample.seq == expected,
            "{} where {expected} was due",
            sample.seq
        );
        expected += 1;
    }
    Ok(())
}

async fn websocket_and_long_poll_follow_a_dashboard_too(db: Db) -> anyhow::Result<()> {
    let (stack, ann) = dashboard_stack(db).await?;
    let first = history(&ann, 2).await?;
    let after = first[0].seq;

    // Long-poll: what follows the cursor, at once.
    let path = format!("{}?after={after}", DASHBOARD_STREAMS.poll.to(&[SYSTEM]));
    let response = ann.request(Method::GET, &path).send().await?;
    let page: Page<Sample> = expect_status(response, StatusCode::OK)
        .await?
        .json()
        .await?;
    ensure!(
        page.entries.first().map(|s| s.seq) == Some(after + 1),
        "{:?}",
        seqs(&page.entries)
    );

    // WebSocket: the replay after the cursor, `synced`, then live samples; chat's `send` is
    // not a dashboard's command.
    let url = format!(
        "{}{}?last_event_id={after}",
        stack.front_url().replacen("http", "ws", 1),
        DASHBOARD_STREAMS.ws.to(&[SYSTEM])
    );
    let mut request = url.into_client_request()?;
    let token = ann.token().context("signed in")?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    // Read as the app does: a live sample may overtake the replay, and the subscription puts
    // them in order.
    let mut subscription = Subscription::<Sample>::new(Transport::WebSocket, after, Backoff::APP);
    subscription.connecting();
    subscription.opened();
    let mut delivered = Vec::new();
    let mut synced = None;
    // Viceroy 0.22 may drop the frames that come with the `101` (the replay and `synced`,
    // docs/upstream/viceroy-websocket-read-buf.md): like the app, resume when the subscription
    // says so (a gap, or an answer awaited a whole tick while samples kept coming), within an
    // overall deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut ticks = e2e::ticks();
    while synced.is_none_or(|last| subscription.cursor() <= last) {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "not synced within a minute"
        );
        let reaction = tokio::select! {
            event = next(&mut socket) => {
                let event = event?;
                if let ServerEvent::Synced { last_seq } = event {
                    synced = Some(last_seq);
                }
                subscription.on_event(event)
            }
            _ = ticks.tick() => subscription.on_tick(false),
        };
        ensure!(reaction.end.is_none(), "{:?}", reaction.end);
        if let Some(after) = reaction.resume_after {
            let resume = DashboardCommand::Resume { after }.to_json();
            socket.send(Frame::text(resume)).await?;
        }
        delivered.extend(reaction.deliver);
    }
    ensure!(
        seqs(&delivered) == (after + 1..=subscription.cursor()).collect::<Vec<_>>(),
        "the replay and a live sample, in order: {:?}",
        seqs(&delivered)
    );
    let send = r#"{"type":"send","body":"hi","client_id":"c1"}"#;
    socket.send(Frame::text(send)).await?;
    loop {
        match next(&mut socket).await? {
            ServerEvent::Error { code, .. } => {
                ensure!(code.as_str() == "bad_json", "{code}");
                break;
            }
            ServerEvent::Entry(_) | ServerEvent::Head { .. } => continue,
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    Ok(())
}

async fn dashboards_need_a_session_and_must_exist(db: Db) -> anyhow::Result<()> {
    let (stack, ann) = dashboard_stack(db).await?;
    history(&ann, 1).await?;
    let stranger = Client::new(stack.front_url());
    for path in [
        DASHBOARD_STREAMS.events.to(&[SYSTEM]),
        DASHBOARD_SAMPLES.to(&[SYSTEM]),
    ] {
        let response = stranger.request(Method::GET, &path).send().await?;
        expect_status(response, StatusCode::UNAUTHORIZED).await?;
    }
    for path in [
        DASHBOARD_STREAMS.events.to(&["nowhere"]),
        DASHBOARD_SAMPLES.to(&["nowhere"]),
    ] {
        let response = ann.request(Method::GET, &path).send().await?;
        expect_status(response, StatusCode::NOT_FOUND).await?;
    }
    let response = ann
        .request(
            Method::GET,
            &format!("{}?limit=0", DASHBOARD_SAMPLES.to(&[SYSTEM])),
        )
        .send()
        .await?;
    expect_status(response, StatusCode::UNPROCESSABLE_ENTITY).await?;
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next event on a dashboard's socket.
async fn next(socket: &mut Socket) -> anyhow::Result<DashboardEvent> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
            .await?
            .context("the socket closed")??;
        if let Frame::Text(text) = frame {
            return Ok(DashboardEvent::from_json(&text)?);
        }
    }
}
