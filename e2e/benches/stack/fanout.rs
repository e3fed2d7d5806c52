//! Fan-out: one room, many subscribers (half SSE, half WebSocket), a first post, then a burst of
//! posts. For the first post, how long until every subscriber had it (Pushpin refreshes each
//! new stream before it delivers to it); for every subscriber and every post of the burst, the
//! time from the post's answer to its delivery; deliveries per second during the burst and per
//! CPU-second of Pushpin; and what arrived lost, twice or out of order. Baseline in the same run: the same crowd on a bare in-process broadcast
//! ([`crate::bare`]) fed the same payloads at the same pace.
//!
//! This is the load Fanout exists for: the origin answers each subscription once and publishes
//! each post once, and the proxy multiplies it. So the figure that matters is the proxy's: how
//! late the last subscriber gets a post, and how much CPU each delivery costs it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::ensure;
use e2e::client::{Client, expect_status};
use e2e::{Db, OriginMode, Stack, StackOptions};
use reqwest::StatusCode;
use shared::api::{MessageResponse, PostMessage};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::{Semaphore, watch};

use crate::bare::{Bare, Payload};
use crate::crowd::{self, Arrival, Kind, Stream, Target};

/// What one subscriber ended with: its transport, what arrived, and why its stream ended early
/// if it did.
type Followed = (Kind, Vec<Arrival>, Option<String>);
use crate::procs::Tree;

/// Subscribers opening at once while a crowd gathers: the storm benchmark is about opening
/// them all at once; here they only have to be there when the burst starts.
const OPENING_AT_ONCE: usize = 64;

/// How long after the burst a subscriber may still be waiting for its last post before the
/// missing ones count as lost: longer than the room's last head (30 s after the last post),
/// which repairs a lost tail.
const PATIENCE: Duration = Duration::from_secs(40);

/// How long the first post may take to reach every subscriber ([`first_post`]).
const LIVE_PATIENCE: Duration = Duration::from_secs(300);

/// What one run measured.
pub struct Figures {
    pub latencies: Vec<Duration>,
    /// Deliveries per second from the first post sent to the last delivery.
    pub rate: f64,
    pub deliveries: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub reordered: usize,
    /// Lost and duplicated deliveries by transport (SSE, WebSocket).
    pub lost_by: [usize; 2],
    pub duplicated_by: [usize; 2],
    /// Subscribers whose stream ended before the burst did, by transport, with the first
    /// reason seen.
    pub cut_off: [usize; 2],
    pub cut_reason: Option<String>,
    /// The proxy's CPU time over the same window (Pushpin's processes; not the baseline's,
    /// which shares its process with the subscribers).
    pub cpu: Option<Duration>,
}

impl Figures {
    fn percentile(&self, p: usize) -> Duration {
        let i = (self.latencies.len() * p / 100).min(self.latencies.len() - 1);
        self.latencies[i]
    }

    fn line(&self, what: &str) -> String {
        let cpu = match self.cpu {
            Some(cpu) => format!(
                ", Pushpin CPU {:.2} s = {:.0} deliveries per CPU-second",
                cpu.as_secs_f64(),
                self.deliveries as f64 / cpu.as_secs_f64()
            ),
            None => String::new(),
        };
        format!(
            "{what}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} deliveries/s{cpu}; lost {}, duplicated {}, reordered {}",
            crate::ms(self.percentile(50)),
            crate::ms(self.percentile(99)),
            crate::ms(*self.latencies.last().expect("some deliveries")),
            self.rate,
            self.lost,
            self.duplicated,
            self.reordered,
        ) + &match self.duplicated {
            0 => String::new(),
            // On the wire: a WebSocket resume answered after live entries arrived replays
            // them again, and the app's sequencer drops the repeats (docs/BENCHMARKS.md).
            _ => format!(
                " (duplicated on the wire: on SSE {}, on WebSocket {})",
                self.duplicated_by[0], self.duplicated_by[1]
            ),
        } + &match self.lost {
            0 => String::new(),
            _ => format!(
                " (lost on SSE {}, on WebSocket {}; streams cut off before the end: {} SSE, {} WebSocket, e.g. {:?})",
                self.lost_by[0],
                self.lost_by[1],
                self.cut_off[0],
                self.cut_off[1],
                self.cut_reason.as_deref().unwrap_or("-"),
            ),
        }
    }
}

/// Runs the fan-out at each size straight on Pushpin, then `edge_size` through the edge, each
/// next to the bare broadcast.
pub async fn run(sizes: &[usize], edge_size: usize, posts: usize) -> anyhow::Result<()> {
    let mut runs: Vec<(usize, bool)> = sizes.iter().map(|&n| (n, false)).collect();
    if edge_size > 0 {
        runs.push((edge_size, true));
    }
    for (n, edge) in runs {
        let route = match edge {
            true => "through the edge (Viceroy), then Pushpin",
            false => "straight on Pushpin's client port",
        };
        println!(
            "{n} subscribers ({} SSE, {} WebSocket), {route}, a burst of {posts} posts:",
            n.div_ceil(2),
            n / 2
        );
        let burst = through_stack(n, posts, edge).await?;
        let bare = through_bare(n, &burst).await?;
        println!("  {}", bare.line("bare broadcast (baseline)"));
        println!("  {}", burst.figures.line("the stack"));
        let stack = &burst.figures;
        println!(
            "  stack / baseline: p50 {:.1}×, p99 {:.1}×, deliveries/s {:.2}×",
            stack.percentile(50).as_secs_f64() / bare.percentile(50).as_secs_f64(),
            stack.percentile(99).as_secs_f64() / bare.percentile(99).as_secs_f64(),
            stack.rate / bare.rate,
        );
    }
    Ok(())
}

/// A burst through the stack: its figures, the messages posted (the baseline sends the same)
/// and when each post was answered, from the first post's start.
pub struct Burst {
    pub figures: Figures,
    pub messages: Vec<shared::chat::Message>,
    pub answered: Vec<Duration>,
}

/// `n` subscribers on one room of a fresh stack (SQLite), then `posts` posts from one poster,
/// each sent when the previous is answered.
async fn through_stack(n: usize, posts: usize, edge: bool) -> anyhow::Result<Burst> {
    // The origin as a process of its own, as deployed: in this process it would share two
    // worker threads with thousands of subscribers.
    let options = StackOptions {
        edge,
        origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(Db::Sqlite, options).await?;
    let owner = Client::signed_up(stack.front_url(), "owner").await?;
    owner.create_room("fanout", false).await?;
    // One person per subscriber, as in a real room: each stream also joins its session's
    // channel, which is part of what Pushpin holds per connection.
    let tokens = crate::tokens(&stack, "reader", n).await?;
    let target = Target::room(&stack.front_url(), "fanout");
    let (stop, stopped) = watch::channel(false);
    let (live_tx, live) = tokio::sync::mpsc::unbounded_channel();
    let crowd = gather(n, &target, Some((tokens, live_tx)), posts as u64, stopped).await?;
    stack.wait_for_holds("Sse", n.div_ceil(2) as u64).await?;
    stack.wait_for_holds("Ws", (n / 2) as u64).await?;
    first_post(&owner, n, live).await?;

    let pushpin = Tree::new(stack.pushpin.pid().expect("Pushpin runs"));
    let cpu_before = pushpin.cpu();
    let threads_before = pushpin.cpu_by_thread();
    let body = "x".repeat(100);
    let start = Instant::now();
    let mut messages = Vec::with_capacity(posts);
    let mut answered = Vec::with_capacity(posts);
    let mut sent_again = 0;
    for i in 0..posts {
        let (message, again) = post(&owner, &format!("{i} {body}")).await?;
        messages.push(message);
        sent_again += again;
        answered.push(start.elapsed());
    }
    if sent_again > 0 {
        println!("  ({sent_again} posts of the burst sent again after a 5xx, as the app does)");
    }
    ensure!(
        messages.iter().map(|m| m.seq).eq(2..=posts as u64 + 1),
        "the burst's posts got seqs 2..={}",
        posts + 1
    );
    let arrivals = collect(crowd, stop).await?;
    let cpu = pushpin.cpu() - cpu_before;
    busiest_threads(&threads_before, &pushpin.cpu_by_thread());
    // Numbered within the burst, as the subscribers counted them, for the baseline to send.
    for message in &mut messages {
        message.seq -= 1;
    }
    let figures = judge(start, &answered, arrivals, Some(cpu));
    Ok(Burst {
        figures,
        messages,
        answered,
    })
}

/// Posts `body` as the app's outbox does (`frontend/src/pages/room/outbox.rs`): an answer of
/// 5xx (Pushpin's "Error while proxying to origin." when its queues to the origin are full)
/// sends it again with the same `client_id`, which the origin stores once, after 1 s, doubling
/// up to 8 s. The stored message, and how many times it was sent again.
async fn post(owner: &Client, body: &str) -> anyhow::Result<(shared::chat::Message, u32)> {
    let post = PostMessage {
        body: body.to_owned(),
        client_id: e2e::random_hex(8),
    };
    let mut again = 0;
    loop {
        let response = owner.post_raw("fanout", &post).await?;
        if response.status().is_server_error() && again < 5 {
            again += 1;
            // Pacing, as the app's: not a wait for an event.
            tokio::time::sleep(Duration::from_millis(1000 << (again - 1).min(3))).await;
            continue;
        }
        let posted: MessageResponse = expect_status(response, StatusCode::CREATED)
            .await?
            .json()
            .await?;
        return Ok((posted.message, again));
    }
}

/// The same crowd on the bare broadcast, fed the same messages at the pace the stack answered
/// them.
async fn through_bare(n: usize, burst: &Burst) -> anyhow::Result<Figures> {
    let bare = Bare::start(burst.messages.len() * 2 + 16).await?;
    let (stop, stopped) = watch::channel(false);
    let crowd = gather(
        n,
        &bare.target(),
        None,
        burst.messages.len() as u64,
        stopped,
    )
    .await?;
    // Every subscriber has its receiver once its stream is open (`gather` waited for that).
    ensure!(
        bare.subscribers() == n,
        "{} of {n} subscribed",
        bare.subscribers()
    );
    let payloads: Vec<Arc<Payload>> = burst.messages.iter().map(Payload::of).collect();
    let start = Instant::now();
    let mut sent = Vec::with_capacity(payloads.len());
    for (payload, at) in payloads.into_iter().zip(&burst.answered) {
        // Pacing, not synchronisation: the stack's posts were this far apart.
        tokio::time::sleep_until((start + *at).into()).await;
        bare.publish(payload);
        sent.push(start.elapsed());
    }
    let arrivals = collect(crowd, stop).await?;
    Ok(judge(start, &sent, arrivals, None))
}

/// Through the stack, each subscriber has a session (`tokens[i]` is subscriber `i`'s), reads
/// the first post on its own and says so on `live`, then follows the burst after it.
type Sessions = (Vec<String>, UnboundedSender<()>);

/// Opens `n` subscribers (half SSE, half WebSocket), each following until it has the burst's
/// `last` entry or `stop` says so; returns once every stream is open, with the tasks that read
/// them. Arrivals are numbered within the burst (1 is its first post).
async fn gather(
    n: usize,
    target: &Target,
    sessions: Option<Sessions>,
    last: u64,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<Followed>>> {
    let http = crowd::http();
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let (opened_tx, mut opened) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (http, target, opening, opened_tx) = (
            http.clone(),
            target.clone(),
            opening.clone(),
            opened_tx.clone(),
        );
        let token = sessions.as_ref().map(|(t, _)| t[i].clone());
        let live = sessions.as_ref().map(|(_, live)| live.clone());
        let stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let permit = opening.acquire().await.expect("never closed");
            let kind = crowd::kind_of(i);
            let (stream, _) = crowd::open_with_retries(
                &http,
                &target,
                kind,
                token.as_deref(),
                Duration::from_secs(60),
                false,
            )
            .await;
            drop(permit);
            let _ = opened_tx.send(stream.is_ok());
            let Ok(mut stream) = stream else {
                return (kind, Vec::new(), Some("never opened".to_owned()));
            };
            let stop = || {
                let mut stopped = stopped.clone();
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                }
            };
            // One subscription for both steps, as one app tab would have; `before`: the room's
            // entries before the burst (the first post), so the burst is numbered from 1.
            let mut subscription = Stream::subscription();
            let mut before = 0;
            if let Some(live) = live {
                let (first, ended) = stream.follow(&mut subscription, 1, stop()).await;
                if first.is_empty() {
                    return (kind, Vec::new(), ended.or(Some("no first post".to_owned())));
                }
                let _ = live.send(());
                before = 1;
            }
            let (arrivals, ended) = stream
                .follow(&mut subscription, before + last, stop())
                .await;
            let arrivals = arrivals
                .into_iter()
                .map(|(seq, at)| (seq.saturating_sub(before), at))
                .collect();
            (kind, arrivals, ended)
        }));
    }
    drop(opened_tx);
    let mut open = 0;
    for _ in 0..n {
        if opened.recv().await == Some(true) {
            open += 1;
        }
    }
    ensure!(
        open == n,
        "only {open} of {n} subscribers could open their stream"
    );
    Ok(tasks)
}

/// Prints Pushpin's three busiest threads over the burst: deliveries cost CPU in more than
/// one process, but a process that works on one thread cannot use both cores.
fn busiest_threads(
    before: &HashMap<(String, u32), Duration>,
    after: &HashMap<(String, u32), Duration>,
) {
    let mut used: Vec<_> = after
        .iter()
        .map(|(thread, cpu)| {
            let earlier = before.get(thread).copied().unwrap_or_default();
            (cpu.saturating_sub(earlier), thread)
        })
        .collect();
    used.sort_by_key(|(cpu, _)| std::cmp::Reverse(*cpu));
    let top: Vec<String> = used
        .iter()
        .take(3)
        .map(|(cpu, (name, tid))| format!("{name} (thread {tid}) {:.2} s", cpu.as_secs_f64()))
        .collect();
    println!(
        "  Pushpin's busiest threads over the burst: {}",
        top.join(", ")
    );
}

/// Posts the room's first message and waits until every subscriber has it, for at most
/// [`LIVE_PATIENCE`], and says how long that took. Pushpin refreshes each new stream through
/// its next link a second after the stream's channels are first subscribed (`SUBSCRIBED_DELAY`)
/// and holds what is published to it until then, so this is how long after a crowd arrived a
/// post reaches all of it: the refresh backlog. The burst comes after, on live streams.
async fn first_post(
    owner: &Client,
    n: usize,
    mut live: UnboundedReceiver<()>,
) -> anyhow::Result<()> {
    owner.post("fanout", "first").await?;
    let (reached, took) = crowd::reached(&mut live, n, LIVE_PATIENCE).await;
    println!(
        "  the first post reached {reached} of {n} subscribers within {:.1} s of its answer",
        took.as_secs_f64()
    );
    if reached < n {
        println!("  (measuring the burst anyway: it then waits behind the refreshes too)");
    }
    Ok(())
}

/// Waits for every subscriber to have the last entry, for at most [`PATIENCE`] after the burst.
async fn collect(
    crowd: Vec<tokio::task::JoinHandle<Followed>>,
    stop: watch::Sender<bool>,
) -> anyhow::Result<Vec<Followed>> {
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(PATIENCE).await;
        let _ = stop.send(true);
    });
    let mut all = Vec::with_capacity(crowd.len());
    for task in crowd {
        all.push(task.await?);
    }
    stopper.abort();
    Ok(all)
}

/// The figures of one burst: `sent[i]` is when entry `i + 1` was published (from `start`).
fn judge(
    start: Instant,
    sent: &[Duration],
    arrivals: Vec<Followed>,
    cpu: Option<Duration>,
) -> Figures {
    let (mut lost_by, mut duplicated_by, mut cut_off, mut cut_reason) =
        ([0; 2], [0; 2], [0; 2], None);
    let last = sent.len() as u64;
    let (mut lost, mut duplicated, mut reordered) = (0, 0, 0);
    let mut latencies = Vec::with_capacity(arrivals.len() * sent.len());
    let mut end = start;
    for (kind, arrived, ended) in arrivals {
        let k = usize::from(kind == Kind::Ws);
        if let Some(reason) = ended {
            cut_off[k] += 1;
            cut_reason.get_or_insert(reason);
        }
        let mut seen = vec![false; sent.len() + 1];
        let mut highest = 0;
        for (seq, at) in arrived {
            if seq == 0 || seq > last {
                continue;
            }
            if seen[seq as usize] {
                duplicated += 1;
                duplicated_by[k] += 1;
                continue;
            }
            seen[seq as usize] = true;
            if seq < highest {
                reordered += 1;
            }
            highest = highest.max(seq);
            end = end.max(at);
            let published = start + sent[seq as usize - 1];
            latencies.push(at.saturating_duration_since(published));
        }
        let missing = seen[1..].iter().filter(|s| !**s).count();
        lost += missing;
        lost_by[k] += missing;
    }
    latencies.sort();
    let deliveries = latencies.len();
    Figures {
        rate: deliveries as f64 / (end - start).as_secs_f64(),
        latencies,
        deliveries,
        lost,
        duplicated,
        reordered,
        lost_by,
        duplicated_by,
        cut_off,
        cut_reason,
        cpu,
    }
}
