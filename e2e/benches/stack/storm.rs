//! A storm of subscribers: N SSE clients open one room's stream at the same moment, straight on
//! Pushpin's client port, as after a deploy or a network blip drops everyone at once. Each
//! behaves as the app does: on a refusal it backs off (`shared::subscription::Backoff::APP`)
//! and tries again; it gives up only after [`PATIENCE`]. Measured: how long until all are
//! subscribed, every refusal by status and body (Pushpin's `debug=true` says why), how many
//! gave up, and then how long a post takes to reach them all. Baseline in the same run: the same clients opening at once on the bare broadcast
//! (no proxy, no origin, no database). The storm runs twice on Pushpin: with the app's backoff
//! as it is, and with the same pauses spread by ±50% (jitter): Pushpin 1.36 refuses what its
//! internal queues cannot take at once (docs/BENCHMARKS.md, *A storm of subscribers*), so
//! clients refused together and retrying together meet the same queues again.
//!
//! Every subscription costs the origin a request (the session and access checks, the replay
//! query, the GRIP answer), so a storm is where Fanout's one-request-per-subscriber model meets
//! the origin's limits and the proxy's own queues between its processes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::client::Client;
use e2e::{Db, Stack};
use tokio::sync::Barrier;

use crate::bare::Bare;
use crate::crowd::{self, Kind, Refused, Stream, Target};

/// How long a client keeps trying before it gives up (the app never does; a person would).
const PATIENCE: Duration = Duration::from_secs(60);

pub async fn run(sizes: &[usize]) -> anyhow::Result<()> {
    for &n in sizes {
        println!("{n} SSE clients at once:");
        let bare = Bare::start(16).await?;
        let mut baseline = storm(n, &bare.target(), None, false).await;
        baseline.streams.clear();
        drop(bare);
        println!(
            "  bare broadcast (baseline):                {}",
            baseline.summary()
        );
        for jitter in [false, true] {
            let policy = match jitter {
                false => "the app's backoff (0.5 s doubling)",
                true => "the same backoff ±50% jitter        ",
            };
            let stack = Stack::start(Db::Sqlite).await?;
            let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
            owner.create_room("storm", false).await?;
            let tokens = crate::tokens(&stack, "storm", n).await?;
            let target = Target::room(&stack.pushpin.client_url(), "storm");
            let mut outcome = storm(n, &target, Some(tokens), jitter).await;
            println!("  Pushpin, {policy}: {}", outcome.summary());
            let streams = std::mem::take(&mut outcome.streams);
            first_post(&owner, streams).await?;
            for ((status, body), count) in &outcome.refusals {
                println!("    {count:>6} × {status}: {body}");
            }
            println!(
                "    origin: {} SSE holds answered (Pushpin then failed to hand {} of them to its handler)",
                stack.holds("Sse").await?,
                stack
                    .holds("Sse")
                    .await?
                    .saturating_sub(outcome.subscribed as u64),
            );
        }
    }
    Ok(())
}

/// What a storm ended with.
struct Outcome {
    subscribed: usize,
    gave_up: usize,
    /// From the start to the last client subscribed.
    all_in: Duration,
    /// From the start to the median client subscribed.
    median: Duration,
    /// Every refusal met, by status and what the answer said.
    refusals: BTreeMap<(String, String), usize>,
    retries: usize,
    /// The streams that opened, still open.
    streams: Vec<Stream>,
}

impl Outcome {
    fn summary(&self) -> String {
        format!(
            "{} subscribed, {} gave up; half in {:.2} s, the last in {:.2} s; {} refusals ({} tries after the first)",
            self.subscribed,
            self.gave_up,
            self.median.as_secs_f64(),
            self.all_in.as_secs_f64(),
            self.refusals.values().sum::<usize>(),
            self.retries,
        )
    }
}

/// `n` clients released at one instant (a barrier), each opening an SSE stream with retries;
/// every stream stays open until all clients are done, as they would in a storm.
async fn storm(n: usize, target: &Target, tokens: Option<Vec<String>>, jitter: bool) -> Outcome {
    let http = crowd::http();
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (http, target, barrier) = (http.clone(), target.clone(), barrier.clone());
        let token = tokens.as_ref().map(|t| t[i].clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let start = Instant::now();
            let (stream, refusals) = crowd::open_with_retries(
                &http,
                &target,
                Kind::Sse,
                token.as_deref(),
                PATIENCE,
                jitter,
            )
            .await;
            (stream, start.elapsed(), refusals)
        }));
    }
    barrier.wait().await;
    let mut times = Vec::new();
    let mut outcome = Outcome {
        subscribed: 0,
        gave_up: 0,
        all_in: Duration::ZERO,
        median: Duration::ZERO,
        refusals: BTreeMap::new(),
        retries: 0,
        streams: Vec::new(),
    };
    for task in tasks {
        let Ok((stream, took, refusals)) = task.await else {
            outcome.gave_up += 1;
            continue;
        };
        match stream {
            Ok(stream) => {
                times.push(took);
                outcome.streams.push(stream);
                outcome.retries += refusals.len();
            }
            Err(_) => {
                outcome.gave_up += 1;
                outcome.retries += refusals.len().saturating_sub(1);
            }
        }
        for refused in refusals {
            let (status, body) = match refused {
                Refused::Status(status, body) => (format!("HTTP {status}"), body),
                other => (other.to_string(), String::new()),
            };
            *outcome.refusals.entry((status, body)).or_default() += 1;
        }
    }
    times.sort();
    outcome.subscribed = times.len();
    outcome.all_in = times.last().copied().unwrap_or_default();
    outcome.median = times.get(times.len() / 2).copied().unwrap_or_default();
    outcome
}

/// After the storm, what a person in the room sees: the owner posts once, and the time from
/// its answer until every stream that opened had it (at most [`PATIENCE`]). Pushpin refreshes
/// each new stream once before it delivers to it (docs/BENCHMARKS.md, *Fan-out*), so "all
/// subscribed" is not yet "all live".
async fn first_post(owner: &Client, streams: Vec<Stream>) -> anyhow::Result<()> {
    let n = streams.len();
    let (live_tx, mut live) = tokio::sync::mpsc::unbounded_channel();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let live_tx = live_tx.clone();
            tokio::spawn(async move {
                let mut subscription = Stream::subscription();
                let (arrived, _) = stream
                    .follow(&mut subscription, 1, std::future::pending())
                    .await;
                if !arrived.is_empty() {
                    let _ = live_tx.send(());
                }
            })
        })
        .collect();
    drop(live_tx);
    owner.post("storm", "after the storm").await?;
    let (reached, took) = crowd::reached(&mut live, n, PATIENCE).await;
    println!(
        "    a post after the storm reached {reached} of {n} streams within {:.1} s of its answer",
        took.as_secs_f64()
    );
    readers.iter().for_each(|reader| reader.abort());
    Ok(())
}
