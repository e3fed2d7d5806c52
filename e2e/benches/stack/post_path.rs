//! The post path on its own: posts straight at an origin process (no proxy in front, so the
//! figure is the origin's: session check, access check, the seq transaction, the queued
//! publish), next to the bare SQLite insert loop of the same run.
//!
//! Two figures per database: the latency of one post at a time (p50, p99), and posts/s from 16
//! concurrent posters. Every post is checked to be stored: the room's last seq must equal the
//! number of posts.

use std::time::{Duration, Instant};

use anyhow::ensure;
use e2e::client::Client;
use e2e::{Db, OriginMode, Stack, StackOptions};

use super::{bare_sqlite_inserts, ms, post_concurrently, signed_in};

/// Posters in the concurrent run, each a user of its own (and 16 more take turns in the run one
/// at a time): the per-user post limit (a burst of 200) is never what is measured.
const POSTERS: usize = 16;

pub async fn post_path(posts: usize) -> anyhow::Result<()> {
    println!("\n## The post path, straight at the origin ({posts} posts each way)");
    let bare = bare_sqlite_inserts(posts, "FULL").await?;
    println!("bare SQLite insert loop (synchronous = FULL): {bare:.0} rows/s (baseline)");
    for db in [Db::Sqlite, Db::Postgres] {
        let (single, concurrent) = measure(db, posts).await?;
        let (p50, p99) = p50_p99(single.clone());
        println!(
            "{db:?}: one at a time p50 {:.2} ms, p99 {:.2} ms ({:.0} posts/s); \
             {POSTERS} posters {concurrent:.0} posts/s ({:.2}× the bare loop)",
            ms(p50),
            ms(p99),
            single.len() as f64 / single.iter().sum::<Duration>().as_secs_f64(),
            concurrent / bare
        );
    }
    Ok(())
}

/// The latencies of `posts` posts one at a time, then posts/s of `posts` more from
/// [`POSTERS`] at once.
async fn measure(db: Db, posts: usize) -> anyhow::Result<(Vec<Duration>, f64)> {
    let stack = Stack::start_with(
        db,
        StackOptions {
            origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
            ..StackOptions::default()
        },
    )
    .await?;
    let origin = stack.origin.url();
    let mut posters: Vec<Client> = signed_in(&stack, 2 * POSTERS, "poster")
        .await?
        .iter()
        .map(|c| Client::new(origin.clone()).with_token(c.token()))
        .collect();
    posters[0].create_room("bench", false).await?;

    let one_at_a_time = posters.split_off(POSTERS);
    let mut single = Vec::with_capacity(posts);
    for n in 0..posts {
        let start = Instant::now();
        one_at_a_time[n % POSTERS]
            .post("bench", &format!("message {n}"))
            .await?;
        single.push(start.elapsed());
    }

    let commits = || stack.origin.counter("chat_append_commits_total");
    let commits_before = commits().await?;
    let start = Instant::now();
    post_concurrently(posters, "bench", posts).await?;
    let concurrent = posts as f64 / start.elapsed().as_secs_f64();
    let shared = posts as f64 / (commits().await? - commits_before).max(1) as f64;
    println!("  {db:?}: {POSTERS} posters, {shared:.1} posts per commit (group commit)");

    let store = stack.store().await?;
    let room = store
        .room_by_slug("bench")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the room is gone"))?;
    let last = store.last_seq(room.channel.id).await?;
    ensure!(
        last == 2 * posts as u64,
        "{} posts acknowledged, {last} stored",
        2 * posts
    );
    Ok((single, concurrent))
}

fn p50_p99(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() * 99 / 100])
}
