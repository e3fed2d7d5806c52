//! Benchmarks of the local stack (real Pushpin, origin, SQLite or Postgres), each printed next
//! to a baseline measured in the same run:
//!
//! 1. posts/s, stored *and* delivered (an SSE subscriber receives every one), on SQLite and
//!    Postgres, next to a bare SQLite insert loop (one transaction per row, same pragmas);
//! 2. replay: the time for a reconnecting subscriber to receive 100 missed messages from a
//!    room of 1,000,000 messages, next to the same from a room of 1,000.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p e2e --bench stack`). `BENCH_POSTS` and
//! `BENCH_BIG_ROOM` shrink the work for a quick look.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use e2e::client::Client;
use e2e::{Db, Stack, StackOptions, TestDatabase};
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

    println!("\n## posts stored and delivered ({posts} posts, 16 concurrent posters)");
    let baseline = bare_sqlite_inserts(posts).await?;
    println!("bare SQLite insert loop:        {baseline:>8.0} rows/s   (baseline)");
    for db in [Db::Sqlite, Db::Postgres] {
        let rate = posts_per_second(db, posts).await?;
        println!(
            "POST → store → publish → SSE, {:<8} {rate:>8.0} posts/s  ({:.2}× baseline)",
            format!("{db:?}:"),
            rate / baseline
        );
    }

    println!("\n## the edge hop (Viceroy) vs straight to Pushpin (median of 300 requests)");
    edge_hop().await?;

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
    Ok(())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The floor: inserting rows one transaction at a time into SQLite with the origin's pragmas.
async fn bare_sqlite_inserts(rows: usize) -> anyhow::Result<f64> {
    sqlx::any::install_default_drivers();
    let database = TestDatabase::create(Db::Sqlite).await?;
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&database.url)
        .await?;
    pool.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
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
    let mut tasks = Vec::new();
    for (i, poster) in posters.into_iter().enumerate() {
        let count = posts / POSTERS + usize::from(i < posts % POSTERS);
        tasks.push(tokio::spawn(async move {
            for n in 0..count {
                poster.post("bench", &format!("message {n}")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
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
    seed(&stack.database_url, "big", size).await?;

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

/// Inserts `size` messages into room `slug` with one statement and sets its `last_seq`.
async fn seed(url: &str, slug: &str, size: usize) -> anyhow::Result<()> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    // Message ids are UUIDs; seeded ones are 00000000-0000-4000-8000-<seq, 12 digits>.
    let (series, uuid_tail) = if url.starts_with("sqlite:") {
        (
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $2) SELECT n FROM s",
            "substr('000000000000' || s.n, -12)",
        )
    } else {
        (
            "SELECT generate_series(1, $2) AS n",
            "lpad(s.n::text, 12, '0')",
        )
    };
    let insert = format!(
        "INSERT INTO messages (room_id, seq, id, author_id, author, body, client_id, sent_at) \
         SELECT r.id, s.n, '00000000-0000-4000-8000-' || {uuid_tail}, r.owner_id, 'owner', 'seeded message ' || s.n, \
                'seed-' || s.n, 0 \
         FROM rooms r, ({series}) s WHERE r.slug = $1"
    );
    let mut tx = pool.begin().await?;
    sqlx::query(&insert)
        .bind(slug)
        .bind(size as i64)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE rooms SET last_seq = $1 WHERE slug = $2")
        .bind(size as i64)
        .bind(slug)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    // A bulk insert leaves the planner's statistics stale (Postgres autovacuum catches up
    // later, maybe mid-measurement): refresh them now, as a real deployment would have them.
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
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
