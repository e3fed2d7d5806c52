//! What a room shows: its messages in seq order, each once, grown by the stream at the bottom
//! and by older history pages at the top, with edits and deletes applied in place (an
//! amendment is never a line of its own: `shared::chat::Change`).
//!
//! Messages are kept as `Arc`s, so that re-rendering after a delivery copies pointers, not
//! messages; and while the reader follows the end of the room, only the newest [`WINDOW`] are
//! kept (older ones load again on scrolling up).

use std::sync::Arc;

use leptos::prelude::*;
use shared::api::EditMessage;
use shared::chat::{Change, Message};

use crate::api;

/// Messages kept while following the end of the room.
const WINDOW: usize = 500;

/// The room's messages and whether older ones exist. Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct Timeline {
    pub messages: RwSignal<Vec<Arc<Message>>>,
    /// There are messages before the first one shown.
    pub has_older: RwSignal<bool>,
}

impl Timeline {
    pub fn new() -> Timeline {
        Timeline {
            messages: RwSignal::new(Vec::new()),
            has_older: RwSignal::new(false),
        }
    }

    /// The newest page, replacing everything shown.
    pub fn reset(self, page: Vec<Message>) {
        self.has_older.set(has_older(&page));
        self.messages.set(Self::apply(Vec::new(), page));
    }

    /// Entries from the stream. `following`: the reader is at the end of the room, so the
    /// oldest beyond [`WINDOW`] can go.
    pub fn append(self, new: Vec<Message>, following: bool) {
        self.messages.update(|list| {
            *list = Self::apply(std::mem::take(list), new);
            if following && list.len() > WINDOW {
                list.drain(..list.len() - WINDOW);
                self.has_older.set(true);
            }
        });
    }

    /// An older page, at the top.
    pub fn prepend(self, page: Vec<Message>) {
        self.has_older.set(has_older(&page));
        self.messages.update(|list| {
            let older = Self::apply(Vec::new(), page);
            drop(list.splice(0..0, older));
        });
    }

    /// `list` with `entries` applied in order: new messages at the end, amendments in place.
    fn apply(mut list: Vec<Arc<Message>>, entries: Vec<Message>) -> Vec<Arc<Message>> {
        for entry in entries {
            match entry.change() {
                Change::New(message) => list.push(Arc::new(message)),
                Change::Amend(message) => {
                    if let Some(shown) = list.iter_mut().find(|m| m.seq == message.seq) {
                        *shown = Arc::new(message);
                    }
                }
            }
        }
        list
    }

    /// The seq of the newest message shown (0: none), where the stream continues.
    pub fn last_seq(self) -> u64 {
        self.messages
            .with_untracked(|list| list.last().map_or(0, |m| m.seq))
    }

    /// The seq of the oldest message shown, for the page before it.
    pub fn first_seq(self) -> Option<u64> {
        self.messages
            .with_untracked(|list| list.first().map(|m| m.seq))
    }
}

/// Whether messages come before a page that starts at its first message.
fn has_older(page: &[Message]) -> bool {
    page.first().is_some_and(|m| m.seq > 1)
}

/// One message. The author's own get Edit and Delete; the change comes back on the stream like
/// every entry, so this view only ever shows what the room stored.
#[component]
pub fn MessageItem(
    message: Arc<Message>,
    mine: bool,
    slug: StoredValue<String>,
    /// The message a search result jumped to.
    current: Signal<bool>,
) -> impl IntoView {
    let time = clock(&message);
    let datetime = iso(&message);
    let seq = message.seq;
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(message.body.clone());
    let error = RwSignal::new(None::<String>);
    let save = move || {
        let edit = EditMessage {
            body: draft.get_untracked(),
        };
        if let Err(invalid) = edit.validate() {
            return error.set(Some(invalid.to_string()));
        }
        leptos::task::spawn_local(async move {
            match api::edit_message(&slug.get_value(), seq, &edit).await {
                Ok(_) => editing.set(false),
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };
    let delete = move |_| {
        leptos::task::spawn_local(async move {
            if let Err(err) = api::delete_message(&slug.get_value(), seq).await {
                error.set(Some(err.to_string()));
            }
        });
    };
    let deleted = message.deleted;
    let body = message.body.clone();
    // Text nodes, never HTML: a body is shown exactly as typed.
    view! {
        <li
            class="message"
            class:mine=mine
            class:deleted=deleted
            class:current=current
            aria-current=move || current.get().then_some("true")
            data-seq=seq
        >
            <span class="meta">
                <span class="author">{message.author.clone()}</span>
                <time datetime=datetime>{time}</time>
                {message.edited_at.is_some().then(|| view! { <span class="edited">"edited"</span> })}
                {(mine && !deleted).then(|| view! {
                    <button class="link edit" on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
                    <button class="link delete" on:click=delete>"Delete"</button>
                })}
            </span>
            {match deleted {
                true => view! { <span class="body tombstone">"message deleted"</span> }.into_any(),
                false => view! {
                    <Show
                        when=move || editing.get()
                        fallback=move || view! { <span class="body">{body.clone()}</span> }
                    >
                        <form class="edit-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                            <textarea class="edit-body" aria-label="Edit message" bind:value=draft></textarea>
                            <button type="submit" class="save">"Save"</button>
                        </form>
                    </Show>
                }.into_any(),
            }}
            <span class="error" role="alert">{move || error.get()}</span>
        </li>
    }
}

/// When the message was sent, in the reader's time zone.
fn sent_at(message: &Message) -> js_sys::Date {
    // Seconds and milliseconds apart: `unix_timestamp_nanos` is an i128, whose division costs
    // code of its own.
    let at = message.sent_at;
    let millis = at.unix_timestamp() as f64 * 1000.0 + f64::from(at.millisecond());
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis))
}

/// When the message was sent, in ISO 8601 (UTC) for a `datetime` attribute: from the browser's
/// `Date`, as `time`'s `Display` is not that format and would add its code to the download.
pub fn iso(message: &Message) -> String {
    sent_at(message).to_iso_string().into()
}

/// `HH:MM` in the reader's time zone.
fn clock(message: &Message) -> String {
    let date = sent_at(message);
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// `YYYY-MM-DD HH:MM` in the reader's time zone, for lists that span days (search results).
pub fn day_and_clock(message: &Message) -> String {
    let date = sent_at(message);
    format!(
        "{}-{:02}-{:02} {}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        clock(message)
    )
}
