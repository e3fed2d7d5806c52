//! The origin dies (`kill -9`, no shutdown): what a subscriber saw survives it, and a message it
//! stored but never published still reaches every subscriber once it is back.

use std::time::{Duration, Instant};

use anyhow::ensure;
use e2e::client::Client;
use e2e::faults::Fault;
use e2e::{Db, OriginMode, Stack, StackOptions, on_both_databases};

on_both_databases!(
    a_message_a_subscriber_saw_survives_a_crash_of_the_origin,
    a_message_stored_but_not_published_before_a_crash_still_arrives,
);

/// How long a restarted origin may take to announce the rooms it may have left unpublished.
const ANNOUNCED_WITHIN: Duration = Duration::from_secs(10);

async fn crashable(db: Db) -> anyhow::Result<(Stack, Client, Client)> {
    let options = StackOptions {
        origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
        publish_faults: true,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    let bob = Client::signed_up(stack.pushpin.client_url(), "bob").await?;
    alice.create_room("lobby", false).await?;
    Ok((stack, alice, bob))
}

async fn a_message_a_subscriber_saw_survives_a_crash_of_the_origin(db: Db) -> anyhow::Result<()> {
    let (mut stack, alice, bob) = crashable(db).await?;
    let mut sse = bob.sse("lobby", None).await?;
    let seen = alice.post("lobby", "seen before the crash").await?;
    ensure!(sse.next_message().await? == seen);

    stack.origin.kill()?;
    stack.origin.restart().await?;

    let history = bob.history("lobby").await?;
    ensure!(
        history == vec![seen.clone()],
        "the message is still stored: {history:?}"
    );
    let next = alice.post("lobby", "after the crash").await?;
    ensure!(
        next.seq == seen.seq + 1,
        "and its seq was not handed out again"
    );
    ensure!(sse.next_message().await? == next, "the stream goes on");
    Ok(())
}

async fn a_message_stored_but_not_published_before_a_crash_still_arrives(
    db: Db,
) -> anyhow::Result<()> {
    let (mut stack, alice, bob) = crashable(db).await?;
    let mut sse = bob.sse("lobby", None).await?;
    stack.wait_for_sse_settled(1, 1).await?;
    let first = alice.post("lobby", "published").await?;
    ensure!(sse.next_message().await? == first);

    // The publish API fails, so the publisher is still retrying when the origin dies: the
    // message is stored, its publish is gone with the process.
    stack.faults()?.set(Fault::Refuse(503));
    let unpublished = alice.post("lobby", "stored, never published").await?;
    stack.origin.kill()?;
    stack.faults()?.set(Fault::None);
    stack.origin.restart().await?;
    let restarted = Instant::now();

    // No new post: the restarted origin announces the rooms active lately, and the stream,
    // still held by Pushpin at seq 1, fetches what it missed.
    ensure!(sse.next_message().await? == unpublished);
    ensure!(
        restarted.elapsed() < ANNOUNCED_WITHIN,
        "it came {:?} after the restart",
        restarted.elapsed()
    );
    Ok(())
}
