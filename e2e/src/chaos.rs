//! The chaos suite: the whole stack (edge in Viceroy → Pushpin → origin as its own process →
//! SQLite or Postgres) under real faults, with every message counted.
//!
//! Followers over SSE, WebSocket and long-poll (through the edge, and one slow SSE reader
//! straight on Pushpin) follow several rooms while senders post over HTTP and WebSocket. Meanwhile
//! Pushpin and the origin are killed with SIGKILL and restarted, the publish API refuses or hangs
//! for a while, and followers are disconnected at random. At the end every follower must have
//! delivered exactly the stored sequence of its room: nothing lost, nothing twice, nothing out of
//! order. The run is driven by one seed (printed), so a failure can be replayed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use futures_util::{SinkExt as _, StreamExt as _};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use reqwest::StatusCode;
use shared::api::{MessageResponse, PostMessage};
use shared::chat::{ChatCommand, ChatEvent, Command};
use shared::event::ServerEvent;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

use crate::client::Client;
use crate::faults::Fault;
use crate::follower::{Follower, Transport};
use crate::{Db, OriginMode, Stack, StackOptions};

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub name: &'static str,
    pub rooms: usize,
    /// Followers through the edge, spread over SSE, WebSocket and long-poll and over the rooms.
    pub followers: usize,
    /// Half post over HTTP, half send over WebSocket.
    pub senders: usize,
    /// Each fault kind happens this many times, in a shuffled order.
    pub rounds: usize,
    /// How long a refuse or hang window of the publish API lasts, at most. Past the publisher's
    /// retries (about 11 s) it gives items up, which `heads` must then repair.
    pub longest_window: Duration,
    /// How long, after the last fault, every follower has to catch up.
    pub settle: Duration,
}

impl Profile {
    /// Inside `cargo xtask test`: every fault once, about half a minute per database.
    pub const SHORT: Profile = Profile {
        name: "short",
        rooms: 3,
        followers: 30,
        senders: 4,
        rounds: 1,
        longest_window: Duration::from_secs(4),
        settle: Duration::from_secs(60),
    };

    /// `cargo xtask chaos`: three rounds, more clients, publish windows long enough that the
    /// publisher gives up.
    pub const FULL: Profile = Profile {
        name: "full",
        rooms: 4,
        followers: 60,
        senders: 8,
        rounds: 3,
        longest_window: Duration::from_secs(15),
        settle: Duration::from_secs(120),
    };

    pub fn named(name: &str) -> anyhow::Result<Profile> {
        match name {
            "short" => Ok(Profile::SHORT),
            "full" => Ok(Profile::FULL),
            other => bail!("unknown chaos profile {other:?}: use short or full"),
        }
    }
}

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: Profile,
    pub seed: u64,
    pub db: Db,
    /// The origin binary to run and kill (`CARGO_BIN_EXE_e2e-origin`).
    pub origin_binary: PathBuf,
}

/// A fault the run injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    PushpinKill,
    OriginKill,
    PublishRefused,
    PublishHung,
    Disconnect,
}

impl FaultKind {
    fn name(self) -> &'static str {
        match self {
            FaultKind::PushpinKill => "Pushpin kill -9, restart",
            FaultKind::OriginKill => "origin kill -9, restart",
            FaultKind::PublishRefused => "publish API refuses (503)",
            FaultKind::PublishHung => "publish API hangs",
            FaultKind::Disconnect => "client disconnected",
        }
    }
}

/// A fault and when it ended (when things were back to normal).
#[derive(Debug, Clone, Copy)]
struct Injected {
    kind: FaultKind,
    ended: Instant,
}

/// A message a sender got acknowledged.
#[derive(Debug, Clone)]
struct Ack {
    room: String,
    seq: u64,
    client_id: String,
    at: Instant,
}

/// Per transport: what its followers delivered, and what went wrong.
#[derive(Debug, Default, Clone)]
pub struct TransportTotals {
    pub clients: usize,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub repeats_dropped: u64,
    pub reconnects: u64,
}

/// Catch-up times of one fault kind.
#[derive(Debug, Clone)]
pub struct CatchUp {
    pub faults: usize,
    pub p50: Duration,
    pub max: Duration,
    /// Who took `max`.
    pub slowest: Transport,
}

/// What a run saw.
#[derive(Debug, Clone)]
pub struct Report {
    pub settings: Settings,
    pub rooms: usize,
    pub senders: usize,
    pub sent: usize,
    pub transports: BTreeMap<Transport, TransportTotals>,
    pub faults: BTreeMap<FaultKind, usize>,
    pub catch_up: BTreeMap<FaultKind, CatchUp>,
    pub took: Duration,
}

impl Report {
    /// No follower lost, repeated or reordered anything.
    pub fn clean(&self) -> bool {
        self.transports
            .values()
            .all(|t| t.lost == 0 && t.duplicated == 0 && t.reordered == 0)
    }
}

/// Runs one chaos run and returns its report; fails if a follower's delivery is not exactly the
/// stored sequence of its room (or the stack itself fails).
pub async fn run(settings: Settings) -> anyhow::Result<Report> {
    let started = Instant::now();
    let profile = settings.profile;
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let options = StackOptions {
        edge: true,
        origin: OriginMode::Process(settings.origin_binary.clone()),
        publish_faults: true,
        ..StackOptions::default()
    };
    let stack = Arc::new(Mutex::new(Stack::start_with(settings.db, options).await?));
    let (front, pushpin_url) = {
        let stack = stack.lock().await;
        (stack.front_url(), stack.pushpin.client_url())
    };

    // People and rooms. Followers share a few accounts; each sender has its own.
    let owner = Client::signed_up(front.clone(), "owner").await?;
    let rooms: Vec<String> = (0..profile.rooms).map(|r| format!("room-{r}")).collect();
    for room in &rooms {
        owner.create_room(room, false).await?;
    }
    let mut readers = Vec::new();
    for r in 0..profile.followers.div_ceil(10) {
        readers.push(Client::signed_up(front.clone(), &format!("reader{r}")).await?);
    }
    let transports = [Transport::Sse, Transport::Ws, Transport::Poll];
    let mut followers: Vec<Follower> = (0..profile.followers)
        .map(|i| {
            let client = readers[i % readers.len()].clone();
            Follower::start(client, &rooms[i % rooms.len()], transports[i % 3])
        })
        .collect();
    // The slow reader goes straight to Pushpin: the edge in Viceroy would read its stream
    // eagerly and buffer it, while Fanout holds the client's own connection.
    followers.push(Follower::start(
        readers[0].with_base(pushpin_url),
        &rooms[0],
        Transport::SlowSse,
    ));
    let followers = Arc::new(followers);

    // Senders post until the faults are over.
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(std::sync::Mutex::new(Vec::<Ack>::new()));
    let mut sending = Vec::new();
    for s in 0..profile.senders {
        let client = Client::signed_up(front.clone(), &format!("sender{s}")).await?;
        let sender = Sender {
            client,
            rooms: rooms.clone(),
            rng: StdRng::seed_from_u64(rng.r#gen()),
            acks: acks.clone(),
            stop: stop.clone(),
            name: format!("s{s}"),
        };
        sending.push(match s % 2 {
            0 => tokio::spawn(sender.over_http()),
            _ => tokio::spawn(sender.over_websocket()),
        });
    }

    // Faults, one after the other, with random disconnects all along.
    let disconnecting = tokio::spawn(disconnect_at_random(
        followers.clone(),
        StdRng::seed_from_u64(rng.r#gen()),
        stop.clone(),
    ));
    let mut plan: Vec<FaultKind> = (0..profile.rounds)
        .flat_map(|_| {
            [
                FaultKind::PushpinKill,
                FaultKind::OriginKill,
                FaultKind::PublishRefused,
                FaultKind::PublishHung,
            ]
        })
        .collect();
    plan.shuffle(&mut rng);
    let mut injected = Vec::new();
    tokio::time::sleep(Duration::from_secs(1)).await; // traffic before the first fault
    for kind in plan {
        let calm = Duration::from_millis(rng.gen_range(500..2000));
        tokio::time::sleep(calm).await;
        let ended = inject(&stack, kind, &mut rng, profile.longest_window)
            .await
            .with_context(|| format!("injecting {}", kind.name()))?;
        println!("chaos: {} (over at +{:.1?})", kind.name(), ended - started);
        injected.push(Injected { kind, ended });
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // traffic after the last fault
    stop.store(true, Ordering::Relaxed);
    for sender in sending {
        sender.await??;
    }
    let disconnects = disconnecting.await?;
    let last_fault = Instant::now();

    // Everyone catches up, or the run fails.
    let stored = {
        let stack = stack.lock().await;
        stored_messages(&stack.database_url).await?
    };
    let acks = std::mem::take(&mut *acks.lock().expect("acks lock"));
    check_stored(&stored, &acks)?;
    let caught_up = crate::wait_until("every follower to catch up", profile.settle, || {
        let done = followers
            .iter()
            .all(|f| f.last() >= stored.get(&f.room).map_or(0, |m| m.len() as u64));
        async move { Ok(done) }
    })
    .await;
    if let Err(err) = caught_up {
        let behind: Vec<String> = followers
            .iter()
            .filter(|f| f.last() < stored.get(&f.room).map_or(0, |m| m.len() as u64))
            .map(|f| {
                format!(
                    "{} on {} at {} of {}; last errors: {:?}",
                    f.transport.name(),
                    f.room,
                    f.last(),
                    stored.get(&f.room).map_or(0, Vec::len),
                    f.log().last_errors
                )
            })
            .collect();
        bail!(
            "{err:#} within {:?} after the last fault (seed {}):\n{}",
            profile.settle,
            settings.seed,
            behind.join("\n")
        );
    }
    println!(
        "chaos: every follower caught up {:.1?} after the last fault",
        last_fault.elapsed()
    );

    let mut totals: BTreeMap<Transport, TransportTotals> = BTreeMap::new();
    for follower in followers.iter() {
        let log = follower.log();
        let expected = stored.get(&follower.room).map(Vec::as_slice).unwrap_or(&[]);
        let seqs: Vec<u64> = log.delivered.iter().map(|(m, _)| m.seq).collect();
        let total = totals.entry(follower.transport).or_default();
        total.clients += 1;
        total.delivered += seqs.len() as u64;
        total.repeats_dropped += log.repeats_dropped;
        total.reconnects += log.reconnects;
        let mut distinct = seqs.clone();
        distinct.sort_unstable();
        distinct.dedup();
        total.duplicated += (seqs.len() - distinct.len()) as u64;
        total.reordered += seqs.windows(2).filter(|w| w[1] < w[0]).count() as u64;
        total.lost += expected
            .iter()
            .filter(|m| distinct.binary_search(&m.seq).is_err())
            .count() as u64;
        // Each delivered message is the stored one with that seq (not just the right number).
        for (message, _) in &log.delivered {
            let Some(want) = expected.get(message.seq as usize - 1) else {
                bail!(
                    "{} delivered seq {} that was never stored",
                    follower.transport.name(),
                    message.seq
                );
            };
            ensure!(
                want.client_id == message.client_id,
                "{} delivered a different message as seq {}",
                follower.transport.name(),
                message.seq
            );
        }
        ensure!(log.resets == 0, "a follower was told to reset");
    }

    let mut faults: BTreeMap<FaultKind, usize> = BTreeMap::new();
    for fault in &injected {
        *faults.entry(fault.kind).or_default() += 1;
    }
    faults.insert(FaultKind::Disconnect, disconnects.len());
    let mut catch_up = catch_up_times(&injected, &acks, &followers, None);
    let disconnected: Vec<Injected> = disconnects
        .iter()
        .map(|(_, at)| Injected {
            kind: FaultKind::Disconnect,
            ended: *at,
        })
        .collect();
    for (one, (follower, _)) in disconnected.iter().zip(&disconnects) {
        let times = catch_up_times(
            std::slice::from_ref(one),
            &acks,
            &followers,
            Some(*follower),
        );
        merge(&mut catch_up, times);
    }
    let report = Report {
        rooms: profile.rooms,
        senders: profile.senders,
        sent: acks.len(),
        transports: totals,
        faults,
        catch_up: summarise(catch_up),
        took: started.elapsed(),
        settings,
    };
    Ok(report)
}

/// Injects one fault and returns when it is over.
async fn inject(
    stack: &Mutex<Stack>,
    kind: FaultKind,
    rng: &mut StdRng,
    longest_window: Duration,
) -> anyhow::Result<Instant> {
    let down = Duration::from_millis(rng.gen_range(500..2000));
    let window = Duration::from_millis(rng.gen_range(2000..=longest_window.as_millis() as u64));
    match kind {
        FaultKind::PushpinKill => {
            stack.lock().await.pushpin.kill();
            tokio::time::sleep(down).await;
            stack.lock().await.pushpin.restart().await?;
        }
        FaultKind::OriginKill => {
            stack.lock().await.origin.kill()?;
            tokio::time::sleep(down).await;
            stack.lock().await.origin.restart().await?;
        }
        FaultKind::PublishRefused | FaultKind::PublishHung => {
            let fault = match kind {
                FaultKind::PublishRefused => Fault::Refuse(503),
                _ => Fault::Hang,
            };
            stack.lock().await.faults()?.set(fault);
            tokio::time::sleep(window).await;
            stack.lock().await.faults()?.set(Fault::None);
        }
        FaultKind::Disconnect => unreachable!("disconnects run on their own"),
    }
    Ok(Instant::now())
}

/// Cuts a random follower's connection every 0.2–1 s until `stop`; returns which and when.
async fn disconnect_at_random(
    followers: Arc<Vec<Follower>>,
    mut rng: StdRng,
    stop: Arc<AtomicBool>,
) -> Vec<(usize, Instant)> {
    let mut done = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1000))).await;
        let which = rng.gen_range(0..followers.len());
        followers[which].disconnect();
        done.push((which, Instant::now()));
    }
    done
}

/// A sender: posts to random rooms at random intervals until told to stop, retrying each message
/// with its `client_id` until it is acknowledged (the origin stores it once however often it
/// comes).
struct Sender {
    client: Client,
    rooms: Vec<String>,
    rng: StdRng,
    acks: Arc<std::sync::Mutex<Vec<Ack>>>,
    stop: Arc<AtomicBool>,
    name: String,
}

/// Pause between retries of one message.
const RETRY: Duration = Duration::from_millis(200);

impl Sender {
    fn next(&mut self, n: usize) -> Option<(String, PostMessage)> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let room = self.rooms.choose(&mut self.rng).expect("rooms").clone();
        let post = PostMessage {
            body: format!("{} #{n}", self.name),
            client_id: format!("{}-{n}", self.name),
        };
        Some((room, post))
    }

    fn acked(&self, room: String, seq: u64, client_id: String) {
        let ack = Ack {
            room,
            seq,
            client_id,
            at: Instant::now(),
        };
        self.acks.lock().expect("acks lock").push(ack);
    }

    async fn pause(&mut self) {
        let pause = Duration::from_millis(self.rng.gen_range(20..150));
        tokio::time::sleep(pause).await;
    }

    async fn over_http(mut self) -> anyhow::Result<()> {
        for n in 0.. {
            let Some((room, post)) = self.next(n) else {
                return Ok(());
            };
            loop {
                match self.client.post_raw(&room, &post).await {
                    Ok(response)
                        if matches!(response.status(), StatusCode::CREATED | StatusCode::OK) =>
                    {
                        let message = response.json::<MessageResponse>().await?.message;
                        self.acked(room, message.seq, post.client_id);
                        break;
                    }
                    // The origin, Pushpin or the edge is down or restarting: same message again.
                    _ => tokio::time::sleep(RETRY).await,
                }
            }
            self.pause().await;
        }
        Ok(())
    }

    async fn over_websocket(mut self) -> anyhow::Result<()> {
        let mut sockets: HashMap<String, Socket> = HashMap::new();
        for n in 0.. {
            let Some((room, post)) = self.next(n) else {
                return Ok(());
            };
            loop {
                match self.send_over(&mut sockets, &room, &post).await {
                    Ok(seq) => {
                        self.acked(room, seq, post.client_id);
                        break;
                    }
                    Err(_) => {
                        sockets.remove(&room);
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
            self.pause().await;
        }
        Ok(())
    }

    /// Sends over the room's socket (opening one if needed) and waits for the `ack`.
    async fn send_over(
        &self,
        sockets: &mut HashMap<String, Socket>,
        room: &str,
        post: &PostMessage,
    ) -> anyhow::Result<u64> {
        if !sockets.contains_key(room) {
            let url = format!(
                "{}/api/rooms/{room}/ws",
                self.client.base().replacen("http", "ws", 1)
            );
            let mut request = url.into_client_request()?;
            let token = self.client.token().context("signed in")?;
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
            let (socket, _) = tokio::time::timeout(
                Duration::from_secs(5),
                tokio_tungstenite::connect_async(request),
            )
            .await??;
            sockets.insert(room.to_owned(), socket);
        }
        let socket = sockets.get_mut(room).expect("just opened");
        let command = ChatCommand::Own(Command::Send {
            body: post.body.clone(),
            client_id: post.client_id.clone(),
        });
        socket.send(Frame::text(command.to_json())).await?;
        let ack = async {
            while let Some(frame) = socket.next().await {
                if let Frame::Text(text) = frame?
                    && let Ok(ServerEvent::Ack { client_id, seq }) = ChatEvent::from_json(&text)
                    && client_id == post.client_id
                {
                    return Ok(seq);
                }
            }
            bail!("the socket closed")
        };
        tokio::time::timeout(Duration::from_secs(3), ack).await?
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Every stored message, by room, in seq order: (seq, client_id).
async fn stored_messages(
    database_url: &str,
) -> anyhow::Result<HashMap<String, Vec<StoredMessage>>> {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(database_url).await?;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT rooms.slug, entries.payload FROM entries \
         JOIN rooms ON rooms.channel_id = entries.channel_id ORDER BY rooms.slug, entries.seq",
    )
    .fetch_all(&db)
    .await?;
    db.close().await;
    let mut out: HashMap<String, Vec<StoredMessage>> = HashMap::new();
    for (room, payload) in rows {
        let message: shared::chat::Message = serde_json::from_str(&payload)?;
        out.entry(room).or_default().push(StoredMessage {
            seq: message.seq,
            client_id: message.client_id,
        });
    }
    Ok(out)
}

#[derive(Debug, Clone)]
struct StoredMessage {
    seq: u64,
    client_id: String,
}

/// The store holds each room's messages as 1, 2, 3… and every acknowledged message exactly once,
/// under the seq its sender was told.
fn check_stored(stored: &HashMap<String, Vec<StoredMessage>>, acks: &[Ack]) -> anyhow::Result<()> {
    for (room, messages) in stored {
        for (i, message) in messages.iter().enumerate() {
            ensure!(
                message.seq == i as u64 + 1,
                "room {room} stores seq {} at position {}",
                message.seq,
                i + 1
            );
        }
    }
    for ack in acks {
        let found = stored
            .get(&ack.room)
            .and_then(|m| m.get(ack.seq as usize - 1))
            .is_some_and(|m| m.client_id == ack.client_id);
        ensure!(found, "acknowledged {ack:?} is not stored as acknowledged");
    }
    let total: usize = stored.values().map(Vec::len).sum();
    ensure!(
        total == acks.len(),
        "{total} messages stored for {} acknowledged (each must be stored once)",
        acks.len()
    );
    Ok(())
}

/// For each fault: how long after it ended each follower (or only follower `only`) had
/// delivered every message of its room that was acknowledged by then.
fn catch_up_times(
    injected: &[Injected],
    acks: &[Ack],
    followers: &[Follower],
    only: Option<usize>,
) -> BTreeMap<FaultKind, Times> {
    let mut times: BTreeMap<FaultKind, Times> = BTreeMap::new();
    for fault in injected {
        let entry = times.entry(fault.kind).or_default();
        entry.0 += 1;
        let affected = followers
            .iter()
            .enumerate()
            .filter(|(i, _)| only.is_none_or(|only| only == *i));
        for (_, follower) in affected {
            let target = acks
                .iter()
                .filter(|a| a.room == follower.room && a.at <= fault.ended)
                .map(|a| a.seq)
                .max()
                .unwrap_or(0);
            let log = follower.log();
            let reached = log
                .delivered
                .iter()
                .find(|(m, _)| m.seq >= target)
                .map(|(_, at)| *at);
            if let Some(at) = reached {
                entry.1.push((
                    at.saturating_duration_since(fault.ended),
                    follower.transport,
                ));
            }
        }
    }
    times
}

/// How many faults of a kind, and each follower's catch-up after each.
type Times = (usize, Vec<(Duration, Transport)>);

/// Adds `more` catch-up times to `into`.
fn merge(into: &mut BTreeMap<FaultKind, Times>, more: BTreeMap<FaultKind, Times>) {
    for (kind, (faults, durations)) in more {
        let entry = into.entry(kind).or_default();
        entry.0 += faults;
        entry.1.extend(durations);
    }
}

/// p50 and max of each fault kind's catch-up times.
fn summarise(times: BTreeMap<FaultKind, Times>) -> BTreeMap<FaultKind, CatchUp> {
    times
        .into_iter()
        .filter(|(_, (_, durations))| !durations.is_empty())
        .map(|(kind, (faults, mut durations))| {
            durations.sort_unstable();
            let p50 = durations[durations.len() / 2].0;
            let (max, slowest) = durations[durations.len() - 1];
            let catch_up = CatchUp {
                faults,
                p50,
                max,
                slowest,
            };
            (kind, catch_up)
        })
        .collect()
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "chaos: profile {}, seed {}, {:?}, {} rooms, {} senders (HTTP POST and WebSocket send), {:.0?}",
            s.profile.name, s.seed, s.db, self.rooms, self.senders, self.took
        )?;
        writeln!(
            f,
            "messages sent (acknowledged, each stored once): {}",
            self.sent
        )?;
        writeln!(
            f,
            "\n| transport | clients | delivered | lost | duplicated | reordered | repeats the sequencer dropped | reconnects |"
        )?;
        writeln!(
            f,
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        )?;
        for (transport, t) in &self.transports {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                transport.name(),
                t.clients,
                t.delivered,
                t.lost,
                t.duplicated,
                t.reordered,
                t.repeats_dropped,
                t.reconnects
            )?;
        }
        writeln!(
            f,
            "\n| fault | times | catch-up p50 | catch-up max | slowest |"
        )?;
        writeln!(f, "| --- | ---: | ---: | ---: | --- |")?;
        for (kind, count) in &self.faults {
            match self.catch_up.get(kind) {
                Some(c) => writeln!(
                    f,
                    "| {} | {count} | {:.2} s | {:.2} s | {} |",
                    kind.name(),
                    c.p50.as_secs_f64(),
                    c.max.as_secs_f64(),
                    c.slowest.name()
                )?,
                None => writeln!(f, "| {} | {count} | – | – | – |", kind.name())?,
            }
        }
        Ok(())
    }
}
