//! Benchmarks of the local stack (real Pushpin, origin, SQLite or Postgres), each printed next
//! to a baseline measured in the same run:
//!
//! 1. posts/s, stored *and* delivered (an SSE subscriber receives every one), on SQLite and
//!    Postgres, next to a bare SQLite insert loop (one transaction per row, same pragmas);
//! 2. replay: the time for a reconnecting subscriber to receive 100 missed messages from a
//!    room of 1,000,000 messages, next to the same from a room of 1,000;
//! 3. the end of a burst: how long after the last post a slow reader (whose stream overflowed
//!    Pushpin's queue) has the last message, next to a reader that keeps up;
//! 4. WebSocket resume traffic over bursts and quiet spells: resumes sent and messages replayed
//!    when clients learn the room's position from its `head`, next to the policy the app had
//!    before heads (a `resume` after every quiet second that followed messages);
//! 5. presence at 1,000 users in one room: the heartbeats per second the origin answers and the
//!    publishes they cause, next to the health check's requests per second;
//! 6. search in the room of 1,000,000 messages: p50/p99 of queries common and rare, next to a
//!    history page of the same room;
//! 7. scale-out: posts split across two origin processes on one Postgres behind one Pushpin,
//!    next to the same posts through one origin;
//! 8. fan-out (`fanout.rs`): a burst of posts to 1,000 and 5,000 subscribers of one room
//!    through Pushpin (and 200 through the edge), next to a bare in-process broadcast;
//! 9. a storm of subscribers (`storm.rs`): 1,000 and 5,000 SSE clients opening at once;
//! 10. the hold answer (`handshake.rs`): requests/s of the origin's GRIP answer to a stream
//!     request, next to an axum hello-world;
//! 11. idle connections (`idle.rs`): Pushpin's memory per held SSE stream;
//! 12. the post path (`post_path.rs`): posts straight at the origin, one at a time and 16 at
//!     once, next to the bare SQLite insert loop.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p e2e --bench stack`). `BENCH_POSTS`,
//! `BENCH_BIG_ROOM` and `BENCH_PRESENCE_USERS` shrink the work for a quick look; `BENCH_ONLY`
//! (e.g. `presence,search`) runs some sections only. The modules beside this file hold the
//! sections that need more than a function: each says what it measures and why.

mod bare;
mod crowd;
mod fanout;
mod handshake;
mod idle;
mod post_path;
mod procs;
mod storm;

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use e2e::client::Client;
use e2e::{Db, Origin, OriginMode, Stack, StackOptions, TestDatabase};
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let posts = env_usize("BENCH_POSTS", 2000);
    let big_room = env_usize("BENCH_BIG_ROOM", 1_000_000);
    println!(
        "# chat stack benchmarks ({} cores)",
        std::thread::available_parallelism()?
    );

    if selected("posts") {
        posts_section(posts).await?;
    }
    if selected("edge") {
        println!("\n## the edge hop (Viceroy) vs straight to Pushpin (median of 300 requests)");
        edge_hop().await?;
    }
    if selected("tail") {
        let rounds = env_usize("BENCH_TAIL_ROUNDS", 10);
        println!("\n## the end of a 400-message burst ({rounds} rounds, SQLite)");
        tail_of_a_burst(rounds).await?;
    }
    if selected("resume") {
        println!("\n## WebSocket resume traffic (10 clients, 6 bursts of 30 messages, 2 s apart)");
        resume_traffic().await?;
    }
    if selected("presence") {
        let users = env_usize("BENCH_PRESENCE_USERS", 1000);
        println!("\n## presence: {users} users in one room (SQLite, through Pushpin)");
        presence_at_scale(users).await?;
    }
    if selected("search") {
        println!(
            "\n## search in a room of {big_room} messages (100 queries each, through Pushpin)"
        );
        for db in [Db::Sqlite, Db::Postgres] {
            search_latency(db, big_room).await?;
        }
    }
    if selected("replay") {
        println!("\n## replay of 100 missed messages (median of 21 reconnects)");
        for db in [Db::Sqlite, Db::Postgres] {
            let small = replay_median(db, 1_000).await?;
            let big = replay_median(db, big_room).await?;
            println!(
                "{db:?}: room of 1,000: {:.2} ms; room of {big_room}: {:.2} ms  ({:.2}× the small room)",
                ms(small),
                ms(big),
                big.as_secs_f64() / small.as_secs_f64()
            );
        }
    }
    if selected("fanout") {
        let sizes = env_list("BENCH_FANOUT", &[1000, 5000]);
        let edge = env_usize("BENCH_FANOUT_EDGE", 200);
        let posts = env_usize("BENCH_FANOUT_POSTS", 20);
        println!("\n## fan-out: one room, a burst of {posts} posts, half SSE and half WebSocket");
        fanout::run(&sizes, edge, posts).await?;
    }
    if selected("storm") {
        let sizes = env_list("BENCH_STORM", &[1000, 5000]);
        println!("\n## a storm: SSE subscribers of one room opening at once, straight on Pushpin");
        storm::run(&sizes).await?;
    }
    if selected("handshake") {
        let requests = env_usize("BENCH_HANDSHAKE_REQUESTS", 3000);
        println!("\n## the hold answer straight at the origin ({requests} requests, 16 at a time)");
        handshake::run(requests).await?;
    }
    if selected("idle") {
        let sizes = env_list("BENCH_IDLE", &[1000, 5000, 10000]);
        println!("\n## idle SSE streams held by Pushpin: memory per connection");
        idle::run(&sizes).await?;
    }
    if selected("post-path") {
        post_path::post_path(posts).await?;
    }
    if selected("scale-out") {
        println!(
            "\n## scale-out: {posts} posts from 16 posters straight to the origins, two origin processes on one Postgres behind one Pushpin"
        );
        scale_out(posts).await?;
    }
    Ok(())
}

/// Whether `BENCH_ONLY` (a comma-separated list of section names: posts, edge, tail, resume,
/// presence, search, replay, scale-out, fanout, storm, handshake, idle, post-path) selects the section; every section when it is unset.
fn selected(section: &str) -> bool {
    match std::env::var("BENCH_ONLY") {
        Ok(only) => only.split(',').any(|s| s.trim() == section),
        Err(_) => true,
    }
}

async fn posts_section(posts: usize) -> anyhow::Result<()> {
    println!("\n## posts stored and delivered ({posts} posts, 16 concurrent posters)");
    let baseline = bare_sqlite_inserts(posts, "NORMAL").await?;
    println!("bare SQLite insert loop, synchronous=NORMAL: {baseline:>8.0} rows/s (baseline)");
    let full = bare_sqlite_inserts(posts, "FULL").await?;
    println!(
        "bare SQLite insert loop, synchronous=FULL:   {full:>8.0} rows/s ({:.2}× baseline: the fsync per commit the origin pays)",
        full / baseline
    );
    for db in [Db::Sqlite, Db::Postgres] {
        let rate = posts_per_second(db, posts).await?;
        println!(
            "POST → store → publish → SSE, {:<8} {rate:>8.0} posts/s  ({:.2}× baseline)",
            format!("{db:?}:"),
            rate / baseline
        );
    }
    Ok(())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A comma-separated list of numbers from the environment, e.g. `BENCH_FANOUT=1000,5000`.
fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The floor: inserting rows one transaction at a time into SQLite in WAL mode, with
/// `synchronous` at `level` (the origin uses FULL: see `origin::store`).
async fn bare_sqlite_inserts(rows: usize, level: &str) -> anyhow::Result<f64> {
    sqlx::any::install_default_drivers();
    let database = TestDatabase::create(Db::Sqlite).await?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&database.url)
        .await?;
    pool.execute(&*format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {level}"
    ))
    .await?;
    pool.execute("CREATE TABLE t (seq BIGINT PRIMARY KEY, body TEXT NOT NULL)")
        .await?;
    let start = Instant::now();
    for seq in 0..rows {
        sqlx::query("INSERT INTO t (seq, body) VALUES ($1, $2)")
            .bind(seq as i64)
            .bind("hello, world")
            .execute(&pool)
            .await?;
    }
    Ok(rows as f64 / start.elapsed().as_secs_f64())
}

/// Posts `posts` messages to `slug`, shared out among `posters`, all posting at once.
async fn post_concurrently(posters: Vec<Client>, slug: &str, posts: usize) -> anyhow::Result<()> {
    let each = posts / posters.len();
    let extra = posts % posters.len();
    let mut tasks = Vec::new();
    for (i, poster) in posters.into_iter().enumerate() {
        let count = each + usize::from(i < extra);
        let slug = slug.to_owned();
        tasks.push(tokio::spawn(async move {
            for n in 0..count {
                poster.post(&slug, &format!("message {i}.{n}")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Posts through Pushpin from 16 concurrent clients; the clock stops when an SSE subscriber
/// has received the last message, so the figure covers storing *and* publishing.
async fn posts_per_second(db: Db, posts: usize) -> anyhow::Result<f64> {
    let stack = Stack::start(db).await?;
    let base = stack.pushpin.client_url();
    let owner = Client::signed_up(base.clone(), "owner").await?;
    owner.create_room("bench", false).await?;
    let mut sse = owner.sse("bench", None).await?;

    const POSTERS: usize = 16;
    let mut posters = Vec::new();
    for i in 0..POSTERS {
        posters.push(Client::signed_up(base.clone(), &format!("poster{i}")).await?);
    }
    let start = Instant::now();
    post_concurrently(posters, "bench", posts).await?;
    let mut last = 0;
    while last < posts as u64 {
        let message = sse.next_message().await.with_context(|| {
            // Keep the whole proxy log: the tail rarely shows why a message is missing.
            let kept = e2e::browser::artifacts_dir()
                .map(|dir| dir.join("bench-pushpin.log"))
                .and_then(|path| {
                    std::fs::copy(stack.pushpin.log_path(), &path)?;
                    Ok(path)
                });
            format!(
                "waiting for seq {} (full Pushpin log: {kept:?}); its tail:\n{}",
                last + 1,
                stack.pushpin.log_tail()
            )
        })?;
        ensure!(
            message.seq == last + 1,
            "delivered out of order: {} after {last}",
            message.seq
        );
        last = message.seq;
    }
    Ok(posts as f64 / start.elapsed().as_secs_f64())
}

/// Fills a room with `size` messages in bulk (SQL, not the API: a million posts would take
/// the whole benchmark budget), then times 21 reconnects that each miss the last 100.
async fn replay_median(db: Db, size: usize) -> anyhow::Result<Duration> {
    let stack = Stack::start(db).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    owner.create_room("big", false).await?;
    e2e::seed::messages(&stack.database_url, "big", size).await?;

    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let mut sse = owner.sse("big", Some(size as u64 - 100)).await?;
        let got = sse.messages(100).await?;
        times.push(start.elapsed());
        ensure!(got.last().map(|m| m.seq) == Some(size as u64));
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// `n` requests made by `make`, 16 at a time; the requests per second.
async fn rate<F, Fut>(n: usize, make: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use futures_util::{StreamExt, TryStreamExt};
    let start = Instant::now();
    futures_util::stream::iter(0..n)
        .map(make)
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// `users` people in one room, each with one device: their first heartbeats (each a join,
/// published), then a round of steady-state heartbeats (no change, nothing published), against
/// the health check through the same proxy.
async fn presence_at_scale(users: usize) -> anyhow::Result<()> {
    let stack = Stack::start(Db::Sqlite).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    owner.create_room("crowd", false).await?;
    let clients = signed_in(&stack, users, "user").await?;
    let mut sse = owner.sse("crowd", None).await?;
    stack.wait_for_sse_settled(1, 1).await?;

    let beat = |i: usize| {
        let client = clients[i].clone();
        async move {
            client.heartbeat("crowd", &format!("device-{i}")).await?;
            anyhow::Ok(())
        }
    };
    let arrivals = rate(users, beat).await?;
    let mut joins = 0;
    while joins < users {
        let event = sse.next_event().await?;
        if event.event.as_deref() == Some("joined") {
            joins += 1;
        }
    }
    let steady = rate(users, beat).await?;
    let health = stack.client();
    let healthz = rate(users, |_| {
        let health = health.clone();
        async move {
            let response = health
                .request(reqwest::Method::GET, shared::paths::HEALTHZ.template())
                .send()
                .await?;
            ensure!(response.status().is_success());
            anyhow::Ok(())
        }
    })
    .await?;
    // Whatever else came meanwhile: steady heartbeats publish nothing.
    let mut after = 0;
    while let Some(event) = sse.try_next() {
        if matches!(event.event.as_deref(), Some("joined" | "left")) {
            after += 1;
        }
    }
    let answer = clients[0].heartbeat("crowd", "device-0").await?;
    let answer_bytes = serde_json::to_string(&shared::api::Presence { online: answer })?.len();
    let needed = users as f64 / shared::chat::HEARTBEAT.as_secs_f64();
    println!("health check through Pushpin:  {healthz:>8.0} requests/s (baseline)");
    println!(
        "first heartbeats (joins):      {arrivals:>8.0} heartbeats/s ({:.2}× baseline), {joins} joins published, one per user",
        arrivals / healthz
    );
    println!(
        "steady heartbeats:             {steady:>8.0} heartbeats/s ({:.2}× baseline), {after} publishes",
        steady / healthz
    );
    println!(
        "{users} users beating every {} s need {needed:.0} heartbeats/s: {:.1}% of what one origin answers; each answer lists everyone online ({answer_bytes} bytes)",
        shared::chat::HEARTBEAT.as_secs(),
        100.0 * needed / steady
    );
    Ok(())
}

/// `n` users (`{prefix}0`, …) with a session each, made in the database directly: signing up
/// hundreds through the API would time argon2 (and meet the sign-in limit), not the feature.
async fn signed_in(stack: &Stack, n: usize, prefix: &str) -> anyhow::Result<Vec<Client>> {
    let store = stack.store().await?;
    let sessions = origin::auth::Sessions::new(stack.session_secret.as_bytes(), false);
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let user = store.create_user(&format!("{prefix}{i}"), "-").await?;
        let token = sessions
            .start(&store, &user)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        clients.push(Client::new(stack.pushpin.client_url()).with_token(Some(&token)));
    }
    Ok(clients)
}

/// Session tokens of `n` new users (`{prefix}0`, …), made in the database directly (no argon2,
/// no sign-up limit), for crowds of subscribers.
async fn tokens(stack: &Stack, prefix: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let clients = signed_in(stack, n, prefix).await?;
    Ok(clients
        .iter()
        .map(|c| c.token().expect("signed in").to_owned())
        .collect())
}

/// p50 and p99 of 100 searches for each of four queries in a room of `size` seeded messages
/// (`seeded message N wK`), next to a page of the same room's history. Twenty-five readers
/// share the queries, so that the per-user search limit is never what is measured.
async fn search_latency(db: Db, size: usize) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    owner.create_room("big", false).await?;
    e2e::seed::messages(&stack.database_url, "big", size).await?;
    let readers = signed_in(&stack, 25, "reader").await?;
    let percentiles = |mut times: Vec<Duration>| {
        times.sort();
        (
            ms(times[times.len() / 2]),
            ms(times[times.len() * 99 / 100]),
        )
    };
    let mut history = Vec::new();
    for i in 0..100 {
        let start = Instant::now();
        readers[i % 25].history("big").await?;
        history.push(start.elapsed());
    }
    let (h50, h99) = percentiles(history);
    println!("{db:?}: history page (50 newest): p50 {h50:.2} ms, p99 {h99:.2} ms (baseline)");
    let queries = [
        ("seeded", "every message has it"),
        ("w123", "one message in 1,000"),
        ("seeded w7", "prefix: w7, w70–79, w700–799"),
        ("zebra", "no message has it"),
    ];
    for (q, what) in queries {
        let mut times = Vec::new();
        for i in 0..100 {
            let start = Instant::now();
            let page = readers[i % 25].search("big", q, None).await?;
            times.push(start.elapsed());
            ensure!(
                q == "zebra" || !page.messages.is_empty(),
                "{q} found nothing"
            );
        }
        let (p50, p99) = percentiles(times);
        println!(
            "{db:?}: search {q:<10} ({what}): p50 {p50:.2} ms ({:.1}× baseline), p99 {p99:.2} ms",
            p50 / h50
        );
    }
    Ok(())
}

/// The same requests through the edge (Viceroy running the release wasm: session check, then
/// handoff or forward) and straight to Pushpin's client port.
async fn edge_hop() -> anyhow::Result<()> {
    let options = StackOptions {
        edge: true,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(Db::Sqlite, options).await?;
    let edge = Client::signed_up(stack.front_url(), "owner").await?;
    edge.create_room("hop", false).await?;
    let direct = Client::new(stack.pushpin.client_url()).with_token(edge.token());
    let wasm = e2e::viceroy::edge_wasm()?;
    println!(
        "edge wasm (release, stripped): {} bytes",
        std::fs::metadata(&wasm)?.len()
    );

    for (what, path) in [
        ("GET /api/me (forwarded)", "/api/me"),
        ("SSE handshake (handoff)", "/api/rooms/hop/events"),
    ] {
        let via_edge = median_latency(&edge, path).await?;
        let via_pushpin = median_latency(&direct, path).await?;
        println!(
            "{what:<26} edge {:.2} ms, Pushpin {:.2} ms: the edge adds {:.2} ms ({:.2}×)",
            ms(via_edge),
            ms(via_pushpin),
            ms(via_edge.saturating_sub(via_pushpin)),
            via_edge.as_secs_f64() / via_pushpin.as_secs_f64()
        );
    }
    Ok(())
}

/// Median time to the response headers of `GET path`, over 300 requests after 20 warm-ups.
async fn median_latency(client: &Client, path: &str) -> anyhow::Result<Duration> {
    let mut times = Vec::new();
    for i in 0..320 {
        let start = Instant::now();
        let response = client.request(reqwest::Method::GET, path).send().await?;
        let elapsed = start.elapsed();
        ensure!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        drop(response);
        if i >= 20 {
            times.push(elapsed);
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// A burst of 400 large posts while one SSE reader (straight on Pushpin, a 2 KB receive buffer)
/// reads nothing, and another keeps up. Once Pushpin has taken every publish, the slow reader
/// starts reading: its stream lost the end of the burst to Pushpin's 100-item queue and gets it
/// from the next head. Prints p50 and max of the time from the last post's answer to the last
/// message, for both.
async fn tail_of_a_burst(rounds: usize) -> anyhow::Result<()> {
    const BURST: u64 = 400;
    let mut slow_times = Vec::new();
    let mut fast_times = Vec::new();
    for _ in 0..rounds {
        let stack = Stack::start(Db::Sqlite).await?;
        let base = stack.pushpin.client_url();
        let owner = Client::signed_up(base.clone(), "owner").await?;
        owner.create_room("burst", false).await?;
        let mut slow = owner.sse_unread("burst").await?;
        let mut fast = owner.sse("burst", None).await?;
        stack.wait_for_sse_settled(2, 1).await?;
        let body = "x".repeat(3000);
        let mut posters = Vec::new();
        for p in 0..4 {
            posters.push(Client::signed_up(base.clone(), &format!("poster{p}")).await?);
        }
        let mut tasks = Vec::new();
        for poster in posters {
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..BURST / 4 {
                    poster.post("burst", &body).await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let ended = Instant::now();
        let fast_reader = tokio::spawn(async move {
            fast.messages(BURST as usize).await?;
            anyhow::Ok(ended.elapsed())
        });
        stack
            .wait_for_counter("chat_publish_entries_total", BURST)
            .await?;
        let got = slow.read_until(BURST, Duration::from_secs(60)).await?;
        slow_times.push(ended.elapsed());
        ensure!(
            got.iter().map(|m| m.seq).eq(1..=BURST),
            "the slow reader got every message once, in order"
        );
        fast_times.push(fast_reader.await??);
    }
    let (slow_p50, slow_max) = p50_max(&mut slow_times);
    let (fast_p50, fast_max) = p50_max(&mut fast_times);
    println!(
        "reader that keeps up (baseline): last message {:.0} ms after the burst (p50), {:.0} ms max",
        ms(fast_p50),
        ms(fast_max)
    );
    println!(
        "slow reader, tail dropped by Pushpin: last message {:.0} ms after the burst (p50), {:.0} ms max ({:.1}× baseline p50)",
        ms(slow_p50),
        ms(slow_max),
        slow_p50.as_secs_f64() / fast_p50.as_secs_f64()
    );
    Ok(())
}

fn p50_max(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

/// Ten WebSocket clients follow a room that gets six bursts of 30 messages, two seconds apart,
/// once with each resume policy; counts the `resume` commands they sent (each is a request to
/// the origin and a database read) and the messages those resumes replayed again.
async fn resume_traffic() -> anyhow::Result<()> {
    use shared::chat::{ChatCommand, Message};
    use shared::event::ServerEvent;
    use shared::sequencer::Sequencer;
    use shared::subscription::TICK;

    const CLIENTS: usize = 10;
    const BURSTS: u64 = 6;
    const EACH: u64 = 30;
    let total = BURSTS * EACH;
    let mut results = Vec::new();
    for quiet_second in [true, false] {
        let stack = Stack::start(Db::Sqlite).await?;
        let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
        owner.create_room("quiet", false).await?;
        let mut readers = Vec::new();
        for _ in 0..CLIENTS {
            let mut ws = owner.ws_connect("quiet", Some(0)).await?;
            readers.push(tokio::spawn(async move {
                let mut sequencer = Sequencer::<Message>::after(0);
                sequencer.connected();
                let (mut resumes, mut messages) = (0u64, 0u64);
                // Old policy: ask after each quiet second that followed messages.
                let mut check_due = false;
                while sequencer.last() < Some(total) {
                    let resume = match tokio::time::timeout(TICK, ws.next_any()).await {
                        Err(_) if quiet_second && check_due => {
                            check_due = false;
                            sequencer.last()
                        }
                        // (A tick only on a quiet second here: `on_tick` asks again after two.)
                        Err(_) => sequencer.on_tick().resume_after,
                        // The old policy knew no heads.
                        Ok(Ok(ServerEvent::Head { .. })) if quiet_second => None,
                        Ok(event) => {
                            let event = event?;
                            if matches!(event, ServerEvent::Entry(_)) {
                                messages += 1;
                                check_due = true;
                            }
                            sequencer.on_event(event).resume_after
                        }
                    };
                    if let Some(after) = resume {
                        resumes += 1;
                        sequencer.resume_sent();
                        ws.send(&ChatCommand::Resume { after }).await?;
                    }
                }
                anyhow::Ok((resumes, messages))
            }));
        }
        stack.wait_for_holds("Ws", CLIENTS as u64).await?;
        for burst in 0..BURSTS {
            for n in 0..EACH {
                owner.post("quiet", &format!("{burst}/{n}")).await?;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let (mut resumes, mut messages) = (0, 0);
        for reader in readers {
            let (r, m) = reader.await??;
            resumes += r;
            messages += m;
        }
        results.push((resumes, messages - total * CLIENTS as u64));
        drop(stack);
    }
    let [(old_resumes, old_replayed), (new_resumes, new_replayed)] = results[..] else {
        unreachable!("two policies measured");
    };
    println!(
        "resume after every quiet second (the app before heads, baseline): {old_resumes} resumes, {old_replayed} messages sent twice"
    );
    println!(
        "resume when a gap, synced or head says so (now): {new_resumes} resumes ({:.2}× baseline), {new_replayed} messages sent twice",
        new_resumes as f64 / old_resumes.max(1) as f64
    );
    Ok(())
}

/// Two origin processes on one Postgres behind one Pushpin. 16 posters send `posts` messages
/// straight to the origins (as behind a load balancer: Pushpin's route only fails over), all to
/// the first (the baseline) or half to each, into a room of their own, while an SSE subscriber
/// through Pushpin receives every one in order. Prints posts/s delivered, the next-link fetches
/// that put the two origins' interleaved publishes back in order (`chat_stream_recoveries_total`,
/// summed over both origins), repeats Pushpin delivered, and how long after the last post's
/// answer the last message arrived.
async fn scale_out(posts: usize) -> anyhow::Result<()> {
    const POSTERS: usize = 16;
    let options = StackOptions {
        origins: 2,
        origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(Db::Postgres, options).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    let origins: Vec<String> = stack.origins().map(Origin::url).collect();
    let recoveries = async || {
        let mut total = 0;
        for origin in stack.origins() {
            total += origin
                .counter("chat_stream_recoveries_total{transport=\"Sse\"}")
                .await?;
        }
        anyhow::Ok(total)
    };
    let mut baseline = None;
    for split in [1, 2] {
        let room = format!("split-{split}");
        owner.create_room(&room, false).await?;
        // Pushpin refreshes a new channel a second after its first subscriber: not the cost
        // measured here, so it happens first.
        let (holds, refreshes) = (stack.holds("Sse").await?, recoveries().await?);
        let mut sse = owner.sse(&room, None).await?;
        stack.wait_for_sse_settled(holds + 1, refreshes + 1).await?;
        // Posters are made in the database: 16 sign-ups per round would pass the sign-up limit.
        let posters = new_users(&stack, &format!("split{split}-"), POSTERS).await?;
        let before = recoveries().await?;

        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, poster) in posters.into_iter().enumerate() {
            let poster = poster.with_base(origins[i % split].clone());
            let count = posts / POSTERS + usize::from(i < posts % POSTERS);
            let room = room.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..count {
                    poster.post(&room, &format!("message {n}")).await?;
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let answered = start.elapsed();
        let (mut last, mut repeats) = (0, 0);
        while last < posts as u64 {
            let message = sse.next_message().await?;
            if message.seq <= last {
                repeats += 1;
                continue;
            }
            ensure!(
                message.seq == last + 1,
                "delivered out of order: {} after {last}",
                message.seq
            );
            last = message.seq;
        }
        let delivered = start.elapsed();
        let fetches = recoveries().await? - before;
        let rate = posts as f64 / delivered.as_secs_f64();
        let tail = ms(delivered - answered);
        match baseline {
            None => {
                baseline = Some(rate);
                println!(
                    "all posts to one origin (baseline): {rate:>6.0} posts/s delivered, {fetches} next-link fetches, {repeats} repeats, last message {tail:.0} ms after the last answer"
                );
            }
            Some(one) => println!(
                "half to each of two origins:        {rate:>6.0} posts/s delivered ({:.2}× baseline), {fetches} next-link fetches ({:.1} per 100 posts), {repeats} repeats, last message {tail:.0} ms after the last answer",
                rate / one,
                100.0 * fetches as f64 / posts as f64
            ),
        }
    }
    Ok(())
}

/// `n` users signed in, made in the database directly (no argon2, no sign-up limit), as clients
/// of Pushpin.
async fn new_users(stack: &Stack, prefix: &str, n: usize) -> anyhow::Result<Vec<Client>> {
    let store = stack.store().await?;
    let sessions = origin::auth::Sessions::new(stack.session_secret.as_bytes(), false);
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let user = store.create_user(&format!("{prefix}{i}"), "-").await?;
        let token = sessions
            .start(&store, &user)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        clients.push(Client::new(stack.pushpin.client_url()).with_token(Some(&token)));
    }
    Ok(clients)
}
