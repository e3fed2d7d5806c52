//! Idle connections: what an open, quiet SSE stream costs Pushpin in memory, at 1,000, 5,000 and
//! 10,000 streams on one room. Read from the resident memory of Pushpin's processes (the runner,
//! condure, zurl, proxy and handler; `VmRSS` summed) before any stream and once each count is
//! held; the origin runs as a process of its own so that its memory can be watched too: it
//! keeps no per-connection state, so it should stay flat however many streams Pushpin holds.
//!
//! The clients are in this process: 10,000 streams are 10,000 of its file descriptors, plus as
//! many of Pushpin's (`ulimit -n` bounds the largest count).

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::client::Client;
use e2e::{Db, OriginMode, Stack, StackOptions};
use tokio::sync::Semaphore;

use crate::crowd::{self, Kind, Target};
use crate::procs::{Tree, rss_of};

pub async fn run(sizes: &[usize]) -> anyhow::Result<()> {
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let options = StackOptions {
        origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(Db::Sqlite, options).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    owner.create_room("idle", false).await?;
    let tokens = crate::tokens(&stack, "idle", largest).await?;
    let target = Target::room(&stack.pushpin.client_url(), "idle");
    let pushpin = Tree::new(stack.pushpin.pid().expect("Pushpin runs"));
    let origin_pid = stack.origin.pid().expect("a process origin");
    let origin_rss = || rss_of(origin_pid).unwrap_or(0);

    let (pushpin_before, origin_before) = (pushpin.rss(), origin_rss());
    println!(
        "no stream (baseline): Pushpin {:.1} MB ({} processes), origin {:.1} MB",
        mb(pushpin_before),
        pushpin.pids().len(),
        mb(origin_before)
    );
    let http = crowd::http();
    let opening = Arc::new(Semaphore::new(64));
    let mut held = Vec::new();
    let mut sizes = sizes.to_vec();
    sizes.sort();
    for n in sizes {
        let mut opened = Vec::new();
        for token in &tokens[held.len()..n] {
            let (http, target, opening) = (http.clone(), target.clone(), opening.clone());
            let token = token.clone();
            opened.push(tokio::spawn(async move {
                let _permit = opening.acquire().await.expect("never closed");
                let (stream, _) = crowd::open_with_retries(
                    &http,
                    &target,
                    Kind::Sse,
                    Some(&token),
                    Duration::from_secs(60),
                    false,
                )
                .await;
                stream
            }));
        }
        for task in opened {
            let Ok(mut stream) = task.await? else {
                anyhow::bail!("a stream could not open");
            };
            // Read whatever comes (keep-alives) so that nothing backs up in Pushpin.
            held.push(tokio::spawn(async move { stream.hold().await }));
        }
        stack.wait_for_holds("Sse", n as u64).await?;
        settle(&stack).await?;
        // A held stream Pushpin closes is a finding, not a reason to stop: count it.
        let closed = held.iter().filter(|h| h.is_finished()).count();
        let (pushpin_now, origin_now) = (pushpin.rss(), origin_rss());
        let per = (pushpin_now.saturating_sub(pushpin_before)) as f64 / n as f64;
        println!(
            "{n:>6} idle streams ({closed} closed by Pushpin meanwhile): Pushpin {:.1} MB, {:.1} KB per stream (goal ≤ 32 KB); origin {:.1} MB ({:+.1} MB)",
            mb(pushpin_now),
            per / 1024.0,
            mb(origin_now),
            mb(origin_now) - mb(origin_before),
        );
    }
    println!("by process at the largest count:");
    for pid in pushpin.pids() {
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        println!(
            "  {:<16} {:.1} MB",
            name.trim(),
            mb(rss_of(pid).unwrap_or(0))
        );
    }
    for stream in held {
        stream.abort();
    }
    Ok(())
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Pushpin fetches the next link of every stream a second after the stream's channels are
/// first subscribed (its `SUBSCRIBED_DELAY`: here each stream's own session channel), and
/// there is no event for "all those refreshes are done". So: wait until the origin has counted
/// no new SSE hold or recovery for longer than that delay, so that the memory is read after
/// them; at most 15 s, and said so: with thousands of streams the refreshes trickle
/// on (every stream refreshes its next link on a schedule of its own). WebSocket requests are
/// left out: a WebSocket subscriber whose `synced` is late asks again (a `resume`, one more
/// request), as the app does, so under load they do not go quiet either.
async fn settle(stack: &Stack) -> anyhow::Result<()> {
    let quiet_for = Duration::from_millis(1500);
    let count = async || -> anyhow::Result<u64> {
        let mut total = 0;
        for series in [
            "chat_stream_holds_total{transport=\"Sse\"}",
            "chat_stream_recoveries_total{transport=\"Sse\"}",
        ] {
            total += stack.origin_counter(series).await?;
        }
        Ok(total)
    };
    let mut last = count().await?;
    let mut since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(15);
    while since.elapsed() < quiet_for {
        if Instant::now() > deadline {
            // Measured anyway, and said so: the burst then shares Pushpin with them.
            println!("  (SSE holds and refreshes still coming after 15 s; measuring anyway)");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = count().await?;
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    Ok(())
}
