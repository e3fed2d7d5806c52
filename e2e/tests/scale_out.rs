//! Scaling out: the origin keeps no per-connection state, so two origin processes on one
//! Postgres, publishing to one Pushpin, serve one room together, and either may die.
//!
//! Pushpin 1.36 lists both in one route but does not balance between them: every request goes to
//! the first, and to the second only when connecting to the first fails
//! (`e2e::pushpin::routes`). So posters reach each origin directly, as clients behind a load
//! balancer would, and through Pushpin. Subscribers follow the room through Pushpin like the app
//! (SSE, WebSocket, long-poll), and must show exactly the stored messages, once each, in order:
//! the two origins' publishes interleave out of chain order, and Pushpin's next-link fetches (or,
//! on WebSocket, the client's resume) put them back.
//!
//! Postgres only: two processes on one SQLite file is not how the app is deployed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use e2e::client::Client;
use e2e::follower::{Follower, Transport};
use e2e::{Db, OriginMode, Stack, StackOptions, wait_until};
use reqwest::StatusCode;
use shared::api::{MessageResponse, PostMessage};

const ROOM: &str = "lobby";
/// Messages each poster sends.
const EACH: usize = 40;
/// How long every follower has, after the last post, to show the whole room. A WebSocket whose
/// session Pushpin opened on the killed origin may need most of it: Pushpin 1.36 sends that
/// session's requests (the client's `resume`) to that origin only, retries five times, waiting
/// 1, 2, 4, 8 and 16 s (plus up to 1 s each), and then drops the client, whose next connection
/// fails over (`req_error` in Pushpin's `src/proxy/websocketoverhttp.cpp`).
const CATCH_UP: Duration = Duration::from_secs(45);

/// Posts through both origins at once reach every subscriber once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_through_two_origins_reach_every_subscriber_once_in_order() -> anyhow::Result<()> {
    let started = Instant::now();
    let (stack, followers, posters) = two_origins().await?;
    let first = stack.origin.url();
    let second = stack.more_origins[0].url();
    let pushpin = stack.pushpin.client_url();
    let acks = Acks::default();
    let mut posting = Vec::new();
    let vias = [&first, &second, &pushpin, &first, &second, &pushpin];
    for (i, (poster, via)) in posters.into_iter().zip(vias).enumerate() {
        let poster = poster.with_base(via.clone());
        posting.push(tokio::spawn(post_all(poster, vec![], i, acks.clone())));
    }
    for task in posting {
        task.await??;
    }

    let stored = check_stored(&stack, &acks).await?;
    check_followers(&followers, &stored).await?;
    let recoveries = recoveries(&stack).await?;
    println!(
        "{} messages through two origins, {recoveries} next-link fetches by Pushpin; {:.1?}",
        stored.len(),
        started.elapsed()
    );
    Ok(())
}

/// `kill -9` of the origin Pushpin routes to, in the middle of the posts: Pushpin fails over to
/// the second, the first's own posters come back through Pushpin with the same `client_id`, and
/// nothing acknowledged or stored is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_killed_under_traffic_loses_nothing() -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut stack, followers, posters) = two_origins().await?;
    let first = stack.origin.url();
    let second = stack.more_origins[0].url();
    let pushpin = stack.pushpin.client_url();
    let acks = Acks::default();
    let mut posting = Vec::new();
    let vias = [
        (&first, Some(&pushpin)),
        (&second, None),
        (&pushpin, None),
        (&first, Some(&pushpin)),
        (&second, None),
        (&pushpin, None),
    ];
    for (i, (poster, (via, then))) in posters.into_iter().zip(vias).enumerate() {
        let poster = poster.with_base(via.clone());
        let fallback = then.into_iter().cloned().collect();
        posting.push(tokio::spawn(post_all(poster, fallback, i, acks.clone())));
    }

    // A third of the way through, the first origin dies with posts and publishes in flight.
    let total = 6 * EACH;
    wait_until("a third of the posts", CATCH_UP, || async {
        Ok(acks.count() >= total / 3)
    })
    .await?;
    stack.origin.kill()?;
    let at_kill = acks.count();
    for task in posting {
        task.await??;
    }
    ensure!(
        at_kill < total,
        "every post was answered before the kill: nothing was in flight"
    );

    let stored = check_stored(&stack, &acks).await?;
    ensure!(
        acks.via(&first) > 0,
        "the first origin stored posts before it died"
    );
    check_followers(&followers, &stored).await?;
    // Pushpin goes on without the first origin: the long-polls after the kill reach the second.
    let second_origin = &stack.more_origins[0];
    wait_until(
        "a long-poll held by the second origin",
        CATCH_UP,
        || async {
            Ok(second_origin
                .counter("chat_stream_holds_total{transport=\"Poll\"}")
                .await?
                > 0)
        },
    )
    .await?;
    println!(
        "{} messages, {at_kill} answered before the kill, {} through Pushpin after it; {:.1?}",
        stored.len(),
        acks.via(&pushpin),
        started.elapsed()
    );
    Ok(())
}

/// A stack with two origin processes, a room, two followers on each transport through Pushpin
/// (held before the first post), and six signed-in posters (posts are rate-limited per user).
async fn two_origins() -> anyhow::Result<(Stack, Vec<Follower>, Vec<Client>)> {
    let options = StackOptions {
        origins: 2,
        origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(Db::Postgres, options).await?;
    let owner = Client::signed_up(stack.pushpin.client_url(), "owner").await?;
    owner.create_room(ROOM, false).await?;
    let followers = [Transport::Sse, Transport::Ws, Transport::Poll]
        .into_iter()
        .flat_map(|transport| [transport, transport])
        .map(|transport| Follower::start(owner.clone(), ROOM, transport))
        .collect();
    for transport in ["Sse", "Ws", "Poll"] {
        stack.wait_for_holds(transport, 2).await?;
    }
    let mut posters = Vec::new();
    for i in 0..6 {
        posters.push(Client::signed_up(stack.pushpin.client_url(), &format!("poster{i}")).await?);
    }
    Ok((stack, followers, posters))
}

/// Posts acknowledged so far: client_id → (seq, the base URL that answered).
#[derive(Clone, Default)]
struct Acks(Arc<Mutex<HashMap<String, (u64, String)>>>);

impl Acks {
    fn add(&self, client_id: String, seq: u64, via: &str) {
        let mut acks = self.0.lock().expect("acks lock");
        let earlier = acks.insert(client_id.clone(), (seq, via.to_owned()));
        assert!(earlier.is_none(), "{client_id} acknowledged twice");
    }

    fn count(&self) -> usize {
        self.0.lock().expect("acks lock").len()
    }

    fn via(&self, base: &str) -> usize {
        let acks = self.0.lock().expect("acks lock");
        acks.values().filter(|(_, via)| via == base).count()
    }
}

/// Sends [`EACH`] messages, one after another, through `poster`'s base URL. A message that gets
/// no answer (its origin died) is sent again with the same `client_id`, through the next of
/// `fallback` if there is one: the origin stores it once however often it comes.
async fn post_all(
    poster: Client,
    fallback: Vec<String>,
    id: usize,
    acks: Acks,
) -> anyhow::Result<()> {
    let mut via = poster;
    let mut fallback = fallback.into_iter();
    for n in 0..EACH {
        let post = PostMessage {
            body: format!("poster {id}, message {n}"),
            client_id: format!("p{id}-{n}"),
        };
        let mut tries = 0;
        loop {
            match via.post_raw(ROOM, &post).await {
                Ok(response)
                    if matches!(response.status(), StatusCode::CREATED | StatusCode::OK) =>
                {
                    let message = response.json::<MessageResponse>().await?.message;
                    acks.add(post.client_id, message.seq, via.base());
                    break;
                }
                answer => {
                    tries += 1;
                    ensure!(tries < 50, "{} refused {post:?}: {answer:?}", via.base());
                    if let Some(next) = fallback.next() {
                        via = via.with_base(next);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Ok(())
}

/// The room is stored as 1, 2, 3…, and holds every acknowledged post once, under the seq its
/// poster was told; returns the stored client_ids in seq order.
async fn check_stored(stack: &Stack, acks: &Acks) -> anyhow::Result<Vec<String>> {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&stack.database_url).await?;
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT entries.payload FROM entries JOIN rooms ON rooms.channel_id = entries.channel_id \
         WHERE rooms.slug = $1 ORDER BY entries.seq",
    )
    .bind(ROOM)
    .fetch_all(&db)
    .await?;
    db.close().await;
    let mut stored = Vec::new();
    for (i, (payload,)) in rows.iter().enumerate() {
        let message: shared::chat::Message = serde_json::from_str(payload)?;
        ensure!(
            message.seq == i as u64 + 1,
            "seq {} at {}",
            message.seq,
            i + 1
        );
        stored.push(message.client_id);
    }
    let acks = acks.0.lock().expect("acks lock");
    ensure!(
        stored.len() == acks.len(),
        "{} stored for {} acknowledged",
        stored.len(),
        acks.len()
    );
    for (client_id, (seq, _)) in acks.iter() {
        ensure!(
            stored.get(*seq as usize - 1) == Some(client_id),
            "{client_id} was acknowledged as seq {seq}, which stores another"
        );
    }
    Ok(stored)
}

/// Every follower shows exactly `stored`, in order, within [`CATCH_UP`].
async fn check_followers(followers: &[Follower], stored: &[String]) -> anyhow::Result<()> {
    let all = stored.len() as u64;
    wait_until("every follower to show the whole room", CATCH_UP, || {
        let done = followers.iter().all(|f| f.last() >= all);
        async move { Ok(done) }
    })
    .await
    .with_context(|| {
        let behind: Vec<String> = followers
            .iter()
            .filter(|f| f.last() < all)
            .map(|f| {
                let (at, errors) = (f.last(), f.log().last_errors.clone());
                format!(
                    "{} at {at} of {all}, last errors {errors:?}",
                    f.transport.name()
                )
            })
            .collect();
        behind.join("\n")
    })?;
    for follower in followers {
        let log = follower.log();
        let shown: Vec<&str> = log
            .delivered
            .iter()
            .map(|(m, _)| m.client_id.as_str())
            .collect();
        ensure!(
            shown == stored,
            "{} showed {} messages, not the {all} stored in order",
            follower.transport.name(),
            shown.len()
        );
        ensure!(log.resets == 0, "{} was reset", follower.transport.name());
    }
    Ok(())
}

/// Next-link fetches Pushpin made, summed over both origins (with the refresh it makes a second
/// after a channel's first subscriber).
async fn recoveries(stack: &Stack) -> anyhow::Result<u64> {
    let mut total = 0;
    for origin in stack.origins() {
        for transport in ["Sse", "Poll"] {
            let series = format!("chat_stream_recoveries_total{{transport=\"{transport}\"}}");
            total += origin.counter(&series).await?;
        }
    }
    Ok(total)
}
