//! Limits on what one client can make the origin do: how many password hashes run at once, and
//! how often one address, one name or one user may sign in, post, resume, create rooms, say
//! they are typing, send presence heartbeats, search or mark rooms read.
//!
//! Password hashing is slow on purpose (argon2id, 19 MiB each): unbounded, a burst of sign-ins
//! would take every core and the blocking pool's 512 threads. Rate limits use `governor`
//! (GCRA, keyed); over a limit the answer is 429 with `Retry-After`
//! ([`crate::error::ApiError::RateLimited`]).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;

/// One limit: `per` events per `every`, with bursts of up to `burst`.
struct Rate {
    burst: u32,
    per: u32,
    every: Duration,
}

impl Rate {
    fn quota(&self) -> Quota {
        let nonzero = |n: u32| NonZeroU32::new(n).expect("limits are positive");
        Quota::with_period(self.every / self.per)
            .expect("a positive period")
            .allow_burst(nonzero(self.burst))
    }
}

/// Sign-ins, sign-ups and token requests from one address: a person mistyping, or a few
/// people behind one NAT, but not a password-guessing run.
const SIGN_IN_PER_ADDRESS: Rate = Rate {
    burst: 30,
    per: 30,
    every: Duration::from_secs(60),
};
/// Sign-in attempts for one name, from anywhere: guessing one account's password from many
/// addresses is stopped here.
const SIGN_IN_PER_NAME: Rate = Rate {
    burst: 10,
    per: 10,
    every: Duration::from_secs(60),
};
/// Posts (HTTP or WebSocket `send`) by one user: a fast typist and a script catching up, not
/// a flood.
const POSTS_PER_USER: Rate = Rate {
    burst: 200,
    per: 20,
    every: Duration::from_secs(1),
};
/// WebSocket `resume`s by one user, each a database read: generous, since a reconnecting
/// client with several tabs resumes in bursts.
const RESUMES_PER_USER: Rate = Rate {
    burst: 200,
    per: 50,
    every: Duration::from_secs(1),
};
/// Typing signals by one user: the composer sends one every `shared::chat::TYPING_EVERY` at
/// most; more is a flood, refused before anything is published, so it costs nobody else.
const TYPING_PER_USER: Rate = Rate {
    burst: 3,
    per: 1,
    every: Duration::from_secs(1),
};
/// Presence heartbeats by one user, each a database write: one per open room and tab every
/// `shared::chat::HEARTBEAT`, and the bursts of a reconnect.
const HEARTBEATS_PER_USER: Rate = Rate {
    burst: 30,
    per: 2,
    every: Duration::from_secs(1),
};
/// Searches by one user, each a full-text query: someone refining a query, not a scraper.
const SEARCHES_PER_USER: Rate = Rate {
    burst: 20,
    per: 5,
    every: Duration::from_secs(1),
};
/// Read marks by one user: one per room as it is read, bursts when catching up in many tabs.
const READS_PER_USER: Rate = Rate {
    burst: 30,
    per: 5,
    every: Duration::from_secs(1),
};
/// Rooms created by one user.
const ROOMS_PER_USER: Rate = Rate {
    burst: 10,
    per: 20,
    every: Duration::from_secs(3600),
};

/// What is counted against a limit.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    SignIn { address: IpAddr, name: &'a str },
    Post(Uuid),
    Resume(Uuid),
    CreateRoom(Uuid),
    Typing(Uuid),
    Heartbeat(Uuid),
    Search(Uuid),
    MarkRead(Uuid),
}

/// Every limit of the origin; cheap to clone.
#[derive(Clone)]
pub struct Limits {
    hashing: Arc<Semaphore>,
    sign_in_address: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    sign_in_name: Arc<DefaultKeyedRateLimiter<String>>,
    posts: Arc<DefaultKeyedRateLimiter<Uuid>>,
    resumes: Arc<DefaultKeyedRateLimiter<Uuid>>,
    rooms: Arc<DefaultKeyedRateLimiter<Uuid>>,
    typing: Arc<DefaultKeyedRateLimiter<Uuid>>,
    heartbeats: Arc<DefaultKeyedRateLimiter<Uuid>>,
    searches: Arc<DefaultKeyedRateLimiter<Uuid>>,
    reads: Arc<DefaultKeyedRateLimiter<Uuid>>,
}

impl Default for Limits {
    fn default() -> Self {
        // As many hashes at once as there are cores: more would only queue on the CPU while
        // holding 19 MiB each.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Limits {
            hashing: Arc::new(Semaphore::new(cores)),
            sign_in_address: keyed(&SIGN_IN_PER_ADDRESS),
            sign_in_name: keyed(&SIGN_IN_PER_NAME),
            posts: keyed(&POSTS_PER_USER),
            resumes: keyed(&RESUMES_PER_USER),
            rooms: keyed(&ROOMS_PER_USER),
            typing: keyed(&TYPING_PER_USER),
            heartbeats: keyed(&HEARTBEATS_PER_USER),
            searches: keyed(&SEARCHES_PER_USER),
            reads: keyed(&READS_PER_USER),
        }
    }
}

impl Limits {
    /// Counts `action`; `RateLimited` (429, `Retry-After`) when over its limit.
    pub fn check(&self, action: Action<'_>) -> Result<(), ApiError> {
        match action {
            Action::SignIn { address, name } => {
                check(&self.sign_in_address, &address)?;
                check(&self.sign_in_name, &shared::api::name_key(name))
            }
            Action::Post(user) => check(&self.posts, &user),
            Action::Resume(user) => check(&self.resumes, &user),
            Action::CreateRoom(user) => check(&self.rooms, &user),
            Action::Typing(user) => check(&self.typing, &user),
            Action::Heartbeat(user) => check(&self.heartbeats, &user),
            Action::Search(user) => check(&self.searches, &user),
            Action::MarkRead(user) => check(&self.reads, &user),
        }
    }

    /// The semaphore password hashing waits on.
    pub fn hashing(&self) -> Arc<Semaphore> {
        self.hashing.clone()
    }

    /// Forgets keys whose limits have fully recovered, so that memory stays bounded by the
    /// clients of the last few minutes (run every minute).
    pub fn sweep(&self) {
        self.sign_in_address.retain_recent();
        self.sign_in_name.retain_recent();
        self.posts.retain_recent();
        self.resumes.retain_recent();
        self.rooms.retain_recent();
        self.typing.retain_recent();
        self.heartbeats.retain_recent();
        self.searches.retain_recent();
        self.reads.retain_recent();
    }
}

fn keyed<K: Hash + Eq + Clone>(rate: &Rate) -> Arc<DefaultKeyedRateLimiter<K>> {
    Arc::new(RateLimiter::keyed(rate.quota()))
}

fn check<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), ApiError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + 1,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_and_the_next_one_waits() {
        let limits = Limits::default();
        let user = Uuid::from_u128(1);
        for _ in 0..ROOMS_PER_USER.burst {
            limits.check(Action::CreateRoom(user)).unwrap();
        }
        match limits.check(Action::CreateRoom(user)) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=181).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected 429, got {other:?}"),
        }
        assert!(
            limits.check(Action::CreateRoom(Uuid::from_u128(2))).is_ok(),
            "another user has their own limit"
        );
    }

    #[test]
    fn sign_ins_count_per_name_whatever_the_case() {
        let limits = Limits::default();
        for i in 0..SIGN_IN_PER_NAME.burst {
            // From a different address each time: the name's own limit decides.
            let address = IpAddr::from([10, 0, 0, i as u8]);
            let name = if i % 2 == 0 { "ann" } else { "ANN" };
            limits.check(Action::SignIn { address, name }).unwrap();
        }
        let address = IpAddr::from([10, 0, 1, 1]);
        assert!(matches!(
            limits.check(Action::SignIn {
                address,
                name: "Ann"
            }),
            Err(ApiError::RateLimited { .. })
        ));
    }
}
