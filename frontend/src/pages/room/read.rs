//! Read marks: when the newest message is on screen (the list scrolled to its end, the tab
//! visible), the server is told how far the reader has read, which clears the room's unread
//! count in every room list of theirs. Checked when messages are shown, when the list is
//! scrolled, and when the tab comes back into view.
//!
//! One request at a time: marks that come meanwhile wait, and only the newest of them is sent.
//! A failed mark is not retried by itself; the next check sends it again (a refused one is
//! never sent again, so a mark the server will not take cannot loop).

use leptos::ev;
use leptos::prelude::*;

use super::scroll::Scroll;
use super::timeline::Timeline;
use crate::api;

#[derive(Clone, Copy, Default)]
struct Progress {
    /// The newest message the reader has had on screen.
    seen: u64,
    /// The newest mark sent (or being sent).
    sent: u64,
    /// A mark is being sent.
    busy: bool,
}

/// Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct ReadMarks {
    slug: StoredValue<String>,
    timeline: Timeline,
    scroll: Scroll,
    /// The mark the server keeps (0: none known yet).
    pub read: RwSignal<u64>,
    progress: StoredValue<Progress>,
    visibility: StoredValue<Option<WindowListenerHandle>>,
}

impl ReadMarks {
    /// Starts checking; [`ReadMarks::stop`] ends it.
    pub fn start(slug: StoredValue<String>, timeline: Timeline, scroll: Scroll) -> ReadMarks {
        let marks = ReadMarks {
            slug,
            timeline,
            scroll,
            read: RwSignal::new(0),
            progress: StoredValue::new(Progress::default()),
            visibility: StoredValue::new(None),
        };
        // Messages shown (the first page, the stream's): checked once they are laid out and
        // the list pinned to its end again.
        Effect::new(move || {
            timeline.messages.track();
            request_animation_frame(move || marks.check());
        });
        let visibility = window_event_listener(ev::visibilitychange, move |_| marks.check());
        marks.visibility.set_value(Some(visibility));
        marks
    }

    pub fn stop(self) {
        if let Some(Some(visibility)) = self.visibility.try_update_value(Option::take) {
            visibility.remove();
        }
    }

    /// Notes the newest message as seen if it is on screen, and sends what is not sent yet.
    pub fn check(self) {
        let Some(progress) = self.progress.try_get_value() else {
            return; // the room was left
        };
        let newest = self.timeline.last_seq();
        if newest > progress.seen && !document().hidden() && self.scroll.near_bottom() {
            self.progress.update_value(|p| p.seen = newest);
        }
        self.send();
    }

    fn send(self) {
        let Some(Progress { seen, sent, busy }) = self.progress.try_get_value() else {
            return;
        };
        if busy || seen <= sent {
            return;
        }
        self.progress.update_value(|p| {
            p.busy = true;
            p.sent = seen;
        });
        let slug = self.slug.get_value();
        leptos::task::spawn_local(async move {
            let answer = api::mark_read(&slug, seen).await;
            let acknowledged = self.read.try_get_untracked().unwrap_or_default();
            let more = self.progress.try_update_value(|p| {
                p.busy = false;
                match &answer {
                    // Another tab may have marked further: no need to send less.
                    Ok(read) => {
                        p.sent = p.sent.max(*read);
                        true
                    }
                    // Sent again by the next check.
                    Err(err) if err.is_transient() => {
                        p.sent = acknowledged;
                        false
                    }
                    // Refused: never sent again; a newer mark may be.
                    Err(_) => true,
                }
            });
            if let Ok(read) = answer {
                self.read.set(read);
            }
            if more == Some(true) {
                self.send();
            }
        });
    }
}
