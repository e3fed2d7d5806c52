//! Where the message list is scrolled: pinned to the end while the reader follows it, kept in
//! place while older messages load above, and centred on a message a search result jumps to.

use leptos::html;
use leptos::prelude::*;
use web_sys::{ScrollIntoViewOptions, ScrollLogicalPosition};

/// Scrolled this close to the top, the previous page loads; this close to the bottom, new
/// messages keep the view pinned to the end.
pub const EDGE_PX: i32 = 48;

/// The scrolled message list. Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct Scroll {
    pub list: NodeRef<html::Ol>,
    /// The seq of the message the last jump went to, highlighted until the next jump.
    pub current: RwSignal<Option<u64>>,
}

impl Scroll {
    pub fn new() -> Scroll {
        Scroll {
            list: NodeRef::new(),
            current: RwSignal::new(None),
        }
    }

    /// The reader is at (or near) the end.
    pub fn near_bottom(self) -> bool {
        self.list
            .get_untracked()
            .is_none_or(|el| el.scroll_height() - el.scroll_top() - el.client_height() < EDGE_PX)
    }

    /// The reader is at (or near) the top.
    pub fn near_top(self) -> bool {
        self.list
            .get_untracked()
            .is_some_and(|el| el.scroll_top() < EDGE_PX)
    }

    /// Scrolls to the end once the new content is laid out.
    pub fn to_bottom(self) {
        // A frame later: the room may have been left meanwhile.
        request_animation_frame(move || {
            if let Some(Some(el)) = self.list.try_get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    }

    /// Runs `grow` (which adds content at the top) and keeps what the reader sees in place.
    pub fn keep_in_place(self, grow: impl FnOnce()) {
        let before = self.list.get_untracked().map(|el| el.scroll_height());
        grow();
        request_animation_frame(move || {
            if let (Some(Some(el)), Some(before)) = (self.list.try_get_untracked(), before) {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - before);
            }
        });
    }

    /// Makes message `seq` the current one and scrolls it to the middle of the list, once the
    /// content added for it is laid out.
    pub fn show(self, seq: u64) {
        self.current.set(Some(seq));
        request_animation_frame(move || {
            let Some(Some(list)) = self.list.try_get_untracked() else {
                return;
            };
            let selector = format!("li.message[data-seq=\"{seq}\"]");
            if let Ok(Some(message)) = list.query_selector(&selector) {
                let options = ScrollIntoViewOptions::new();
                options.set_block(ScrollLogicalPosition::Center);
                message.scroll_into_view_with_scroll_into_view_options(&options);
            }
        });
    }
}
