//! Older messages: history pages added above the first message shown, one load at a time. A
//! page when the reader scrolls up; as many as it takes when a search result jumps to a message
//! further back.

use std::future::Future;

use futures_util::future::{AbortHandle, Abortable};
use leptos::prelude::*;
use shared::api::HISTORY_PAGE_MAX;
use shared::paths::ROOM_MESSAGES;

use super::PAGE;
use super::scroll::Scroll;
use super::timeline::Timeline;
use crate::api::{self, ApiResult};

/// Most pages a jump loads (of [`HISTORY_PAGE_MAX`] messages each) before giving up.
const JUMP_PAGES: u32 = 20;

/// Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct Older {
    slug: StoredValue<String>,
    timeline: Timeline,
    scroll: Scroll,
    /// Pages are loading: no other load starts, and the stream keeps every message shown
    /// (a jump is reading the past, even if the list is still scrolled to its end).
    pub loading: RwSignal<bool>,
    /// The running load, aborted by a jump or when the room is left.
    task: StoredValue<Option<AbortHandle>>,
}

impl Older {
    pub fn new(slug: StoredValue<String>, timeline: Timeline, scroll: Scroll) -> Older {
        Older {
            slug,
            timeline,
            scroll,
            loading: RwSignal::new(false),
            task: StoredValue::new(None),
        }
    }

    /// The page before the first message shown; a failure is said in `error`.
    pub fn load(self, error: RwSignal<Option<String>>) {
        let Some(first) = self.timeline.first_seq() else {
            return;
        };
        if self.loading.get_untracked() || !self.timeline.has_older.get_untracked() {
            return;
        }
        self.run(async move {
            if let Err(err) = self.page(first, PAGE).await {
                error.set(Some(err.to_string()));
            }
        });
    }

    /// Shows message `seq` in context: loads the pages before it, then scrolls to it and makes
    /// it the current message. Why it could not is said in `error`.
    pub fn jump(self, seq: u64, error: RwSignal<Option<String>>) {
        self.run(async move {
            match self.reach(seq).await {
                Ok(true) => {
                    error.set(None);
                    self.scroll.show(seq);
                }
                Ok(false) => error.set(Some("That message is too far back to show.".to_owned())),
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    }

    /// Loads pages until the first message shown is `seq` or older; whether it is.
    async fn reach(self, seq: u64) -> ApiResult<bool> {
        for _ in 0..JUMP_PAGES {
            match self.timeline.first_seq() {
                Some(first) if first > seq && self.timeline.has_older.get_untracked() => {
                    self.page(first, HISTORY_PAGE_MAX).await?;
                }
                _ => break,
            }
        }
        Ok(self.timeline.first_seq().is_some_and(|first| first <= seq))
    }

    /// Adds the `limit` messages before `before` at the top, keeping the reader's place.
    async fn page(self, before: u64, limit: u32) -> ApiResult<()> {
        let page = api::history(ROOM_MESSAGES, &self.slug.get_value(), Some(before), limit).await?;
        self.scroll
            .keep_in_place(move || self.timeline.prepend(page));
        Ok(())
    }

    /// Runs `load` as the only load: one already running is aborted (between two pages, so
    /// nothing is shown twice) and `loading` is set until it ends.
    fn run(self, load: impl Future<Output = ()> + 'static) {
        let (abort, registration) = AbortHandle::new_pair();
        if let Some(running) = self.task.get_value() {
            running.abort();
        }
        self.task.set_value(Some(abort));
        self.loading.set(true);
        leptos::task::spawn_local(async move {
            // An aborted load leaves `loading` to the one that replaced it.
            if Abortable::new(load, registration).await.is_ok() {
                self.loading.set(false);
            }
        });
    }

    /// Stops the running load (the room is left).
    pub fn stop(self) {
        if let Some(Some(running)) = self.task.try_get_value() {
            running.abort();
        }
    }
}
