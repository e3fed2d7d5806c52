//! The room's outgoing messages: the composer, and each message you sent until the stream
//! brings it back (matched by `client_id`, so it is never shown twice). A message that does not
//! come back in time makes the room reconnect: the connection may be open but dead.

use leptos::prelude::*;
use shared::api::PostMessage;
use shared::chat::{Message, TYPING_EVERY};

use crate::api;

/// How long a stored message may take to come back on the stream before the stream is
/// suspected dead-but-open and reconnected (from the last seq shown, so nothing is lost).
const DELIVERY_GRACE_MS: u32 = 5_000;

/// A message of ours that the stream has not delivered yet.
#[derive(Clone, PartialEq)]
pub struct Pending {
    client_id: String,
    body: String,
    state: Sending,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Sending {
    /// The POST is in flight.
    Posting,
    /// The server stored it; waiting for the stream to bring it.
    Stored,
    Failed(String),
}

/// Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct Outbox {
    slug: StoredValue<String>,
    pending: RwSignal<Vec<Pending>>,
    /// Bumped when a stored message does not come back in time; the room reconnects.
    pub overdue: RwSignal<u32>,
}

impl Outbox {
    pub fn new(slug: StoredValue<String>) -> Outbox {
        Outbox {
            slug,
            pending: RwSignal::new(Vec::new()),
            overdue: RwSignal::new(0),
        }
    }

    /// Messages that arrived (from the stream or a history page): ours among them are no
    /// longer pending.
    pub fn arrived(self, messages: &[Message]) {
        self.pending.update(|pending| {
            pending.retain(|p| !messages.iter().any(|m| m.client_id == p.client_id))
        });
    }

    fn set(self, client_id: &str, state: Sending) {
        self.pending.update(|list| {
            if let Some(p) = list.iter_mut().find(|p| p.client_id == client_id) {
                p.state = state;
            }
        })
    }

    /// Posts (or re-posts, with the same `client_id`: the server stores it once) a message.
    fn post(self, body: String, client_id: String) {
        self.set(&client_id, Sending::Posting);
        leptos::task::spawn_local(async move {
            let message = PostMessage {
                body,
                client_id: client_id.clone(),
            };
            match api::post_message(&self.slug.get_value(), &message).await {
                Ok(_) => self.set(&client_id, Sending::Stored),
                Err(err) => return self.set(&client_id, Sending::Failed(err.to_string())),
            }
            gloo_timers::future::TimeoutFuture::new(DELIVERY_GRACE_MS).await;
            let overdue = self.pending.try_with_untracked(|list| {
                list.iter()
                    .any(|p| p.client_id == client_id && p.state == Sending::Stored)
            });
            if overdue == Some(true) {
                self.overdue.try_update(|n| *n += 1);
            }
        });
    }
}

/// The pending messages, below the room's messages.
#[component]
pub fn PendingList(outbox: Outbox) -> impl IntoView {
    view! {
        <For
            each=move || outbox.pending.get()
            key=|p| (p.client_id.clone(), p.state.clone())
            children=move |p| view! { <PendingItem item=p outbox /> }
        />
    }
}

#[component]
fn PendingItem(item: Pending, outbox: Outbox) -> impl IntoView {
    let (label, failed) = match &item.state {
        Sending::Posting => ("sending…".to_owned(), false),
        Sending::Stored => ("sent, waiting for the stream…".to_owned(), false),
        Sending::Failed(why) => (format!("not sent: {why}"), true),
    };
    let retry = {
        let item = item.clone();
        move |_| outbox.post(item.body.clone(), item.client_id.clone())
    };
    view! {
        <li class="message mine pending" data-client-id=item.client_id.clone()>
            <span class="meta">
                <span class="author">"you"</span>
                <span class="state">{label}</span>
            </span>
            <span class="body">{item.body.clone()}</span>
            {failed.then(|| view! { <button class="link" on:click=retry>"Retry"</button> })}
        </li>
    }
}

#[component]
pub fn Composer(outbox: Outbox) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // Others see "… is typing": said at most every `TYPING_EVERY` while keys are pressed.
    let last_typing = StoredValue::new(0.0_f64);
    let say_typing = move || {
        let now = js_sys::Date::now();
        if now - last_typing.get_value() < TYPING_EVERY.as_millis() as f64 {
            return;
        }
        last_typing.set_value(now);
        let slug = outbox.slug.get_value();
        leptos::task::spawn_local(async move {
            let _ = api::typing(&slug).await;
        });
    };

    let send = move || {
        let body = draft.get_untracked();
        if body.trim().is_empty() {
            return;
        }
        let client_id = match web_sys::window().map(|w| w.crypto().map(|c| c.random_uuid())) {
            Some(Ok(id)) => id,
            _ => {
                error.set(Some("this browser cannot make message ids".into()));
                return;
            }
        };
        let message = PostMessage {
            body: body.clone(),
            client_id: client_id.clone(),
        };
        if let Err(invalid) = message.validate() {
            error.set(Some(invalid.to_string()));
            return;
        }
        error.set(None);
        draft.set(String::new());
        outbox.pending.update(|list| {
            list.push(Pending {
                client_id: client_id.clone(),
                body: body.clone(),
                state: Sending::Posting,
            })
        });
        outbox.post(body, client_id);
    };

    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                send();
            }
        >
            <label for="composer" class="visually-hidden">"Message"</label>
            <textarea
                id="composer"
                rows="1"
                placeholder="Write a message…"
                title="Enter sends; Shift+Enter starts a new line"
                bind:value=draft
                on:input=move |_| say_typing()
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                        ev.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <button type="submit" id="send">"Send"</button>
            <p class="error" role="alert">{move || error.get()}</p>
        </form>
    }
}
