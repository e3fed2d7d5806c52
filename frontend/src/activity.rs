//! What keeps an open room list current: it is fetched, then fetched again a moment after any
//! news on `GET /api/activity` (Server-Sent Events: a message posted, a room read, the rooms
//! one may see changed).
//!
//! The news carry no counts, only that counts changed, and are neither numbered nor replayed,
//! so there is no cursor to resume from: a stream that ended is simply opened again, and the
//! `ready` it sends on opening refetches whatever was missed meanwhile.

use futures_util::StreamExt as _;
use futures_util::future::{AbortHandle, Abortable, Either, select};
use gloo_net::eventsource::EventSourceError;
use gloo_net::eventsource::futures::EventSource;
use gloo_timers::future::TimeoutFuture;
use serde_json::Value;
use shared::chat::{ACTIVITY_EVENT, Activity};
use shared::paths;

/// News heard within this long of the first are answered by one refetch: a busy room does not
/// refetch the list once per message.
const DEBOUNCE_MS: u32 = 300;
/// A stream the browser gave up on is opened again after this long.
const REOPEN_MS: u32 = 3_000;

/// A running watch; dropping it stops it and closes its stream.
pub struct Watch(AbortHandle);

impl Drop for Watch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Calls `refresh` now, and again after news, until the [`Watch`] is dropped.
pub fn watch(refresh: impl AsyncFn() + 'static) -> Watch {
    let (abort, registration) = AbortHandle::new_pair();
    leptos::task::spawn_local(async move {
        let _stopped = Abortable::new(run(refresh), registration).await;
    });
    Watch(abort)
}

/// Why a stream was closed.
enum Ended {
    /// The rooms one may see changed: so must the stream's channels (one per room).
    Reopen,
    /// It failed, or the browser stopped reconnecting it.
    Failed(String),
}

async fn run(refresh: impl AsyncFn()) {
    refresh().await;
    loop {
        if let Ended::Failed(why) = follow(&refresh).await {
            leptos::logging::log!("activity stream ended: {why}");
            TimeoutFuture::new(REOPEN_MS).await;
        }
    }
}

/// One stream, until it ends: each burst of news is answered by one refetch.
async fn follow(refresh: &impl AsyncFn()) -> Ended {
    let mut source = match EventSource::new(paths::ACTIVITY.template()) {
        Ok(source) => source,
        Err(err) => return Ended::Failed(err.to_string()),
    };
    let mut news = match source.subscribe(ACTIVITY_EVENT) {
        Ok(news) => news.map(|item| item.map(|(_, event)| event.data().as_string())),
        Err(err) => return Ended::Failed(err.to_string()),
    };
    loop {
        if let Err(ended) = heard(news.next().await) {
            return ended;
        }
        let mut quiet = TimeoutFuture::new(DEBOUNCE_MS);
        while let Either::Left((next, _)) = select(news.next(), &mut quiet).await {
            if let Err(ended) = heard(next) {
                return ended;
            }
        }
        refresh().await;
    }
}

/// Whether the stream goes on after this item (the data of an `activity` event).
fn heard(next: Option<Result<Option<String>, EventSourceError>>) -> Result<(), Ended> {
    match next {
        // Only `Activity::Rooms` matters, so the news is compared with it as a JSON value (what
        // `shared` writes for it) rather than decoded into an `Activity`: the same answer, and
        // the decoder of an internally tagged enum would be the largest code of this module.
        // Anything else (news this build does not know included) only asks for a refetch.
        Some(Ok(data)) => {
            let news = serde_json::from_str::<Value>(&data.unwrap_or_default());
            match news.ok() == serde_json::to_value(Activity::Rooms).ok() {
                true => Err(Ended::Reopen),
                false => Ok(()),
            }
        }
        Some(Err(err)) => Err(Ended::Failed(err.to_string())),
        None => Err(Ended::Failed("closed".to_owned())),
    }
}
