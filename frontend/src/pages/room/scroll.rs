//! Where the message list is scrolled: pinned to the end while the reader follows it, kept in
//! place while older messages load above.

use leptos::html;
use leptos::prelude::*;

/// Scrolled this close to the top, the previous page loads; this close to the bottom, new
/// messages keep the view pinned to the end.
pub const EDGE_PX: i32 = 48;

/// The scrolled message list.
#[derive(Clone, Copy)]
pub struct Scroll(pub NodeRef<html::Ol>);

impl Scroll {
    /// The reader is at (or near) the end.
    pub fn near_bottom(self) -> bool {
        self.0
            .get_untracked()
            .is_none_or(|el| el.scroll_height() - el.scroll_top() - el.client_height() < EDGE_PX)
    }

    /// The reader is at (or near) the top.
    pub fn near_top(self) -> bool {
        self.0
            .get_untracked()
            .is_some_and(|el| el.scroll_top() < EDGE_PX)
    }

    /// Scrolls to the end once the new content is laid out.
    pub fn to_bottom(self) {
        request_animation_frame(move || {
            if let Some(el) = self.0.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    }

    /// Runs `grow` (which adds content at the top) and keeps what the reader sees in place.
    pub fn keep_in_place(self, grow: impl FnOnce()) {
        let before = self.0.get_untracked().map(|el| el.scroll_height());
        grow();
        request_animation_frame(move || {
            if let (Some(el), Some(before)) = (self.0.get_untracked(), before) {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - before);
            }
        });
    }
}
