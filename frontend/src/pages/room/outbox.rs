//! The room's outgoing messages: the composer, and each message you wrote until the room shows
//! it (from the stream or a history page, matched by `client_id`, so it is never shown twice).
//!
//! Nothing you write is lost to a bad connection: a message waits here, and in local storage
//! (a reload keeps it), until the server has it, and is sent again after a failure (at once
//! when the browser is back online). The `client_id` makes sending again harmless: the server
//! stores a message once however often it is sent. Messages go one at a time, in the order
//! written. One the server refuses stays, with the reason, until you discard it.
//!
//! A stored message that does not come back in time makes the room reconnect: the connection
//! may be open but dead.

use futures_util::future::{AbortHandle, Abortable};
use gloo_storage::Storage as _;
use gloo_timers::future::TimeoutFuture;
use leptos::ev;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use shared::api::PostMessage;
use shared::chat::{Message, TYPING_EVERY};

use super::timeline::Timeline;
use crate::api::{self, ApiError};

/// How long a stored message may take to come back on the stream before the stream is
/// suspected dead-but-open and reconnected (from the last seq shown, so nothing is lost).
const DELIVERY_GRACE_MS: u32 = 5_000;
/// The wait before sending again after a failure; it doubles after each failure, up to
/// [`RETRY_MAX_MS`].
const RETRY_FIRST_MS: u32 = 1_000;
const RETRY_MAX_MS: u32 = 8_000;

/// A message of ours that the room does not show yet.
#[derive(Clone, PartialEq)]
pub struct Pending {
    client_id: String,
    body: String,
    state: Sending,
}

/// What local storage keeps of a pending message.
#[derive(Serialize, Deserialize)]
struct Kept {
    client_id: String,
    body: String,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Sending {
    /// Being sent, or waiting for the messages before it.
    Posting,
    /// The server stored it as message `seq`; waiting for the stream to bring it.
    Stored(u64),
    /// Not sent (offline, or the server failed): sent again soon, by itself.
    Retrying(String),
    /// The server refused it: not sent again.
    Refused(String),
}

/// Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct Outbox {
    slug: StoredValue<String>,
    /// Local-storage key of the pending messages: per user (several may share a browser) and
    /// room.
    key: StoredValue<String>,
    timeline: Timeline,
    pending: RwSignal<Vec<Pending>>,
    /// Bumped when a stored message does not come back in time; the room reconnects.
    pub overdue: RwSignal<u32>,
    /// The task sending the pending messages, while there are some.
    sender: StoredValue<Option<AbortHandle>>,
    /// The sender's wait before sending again; cut short by news that it may work now.
    pause: StoredValue<Option<AbortHandle>>,
    online: StoredValue<Option<WindowListenerHandle>>,
}

impl Outbox {
    /// The outbox of `user` in the room, with what an earlier visit left unsent, which is sent
    /// now.
    pub fn new(slug: StoredValue<String>, user: &str, timeline: Timeline) -> Outbox {
        let key = format!("chat.outbox.{user}.{}", slug.get_value());
        let kept: Vec<Kept> = gloo_storage::LocalStorage::get(&key).unwrap_or_default();
        let pending = kept
            .into_iter()
            .map(|k| Pending {
                client_id: k.client_id,
                body: k.body,
                state: Sending::Posting,
            })
            .collect();
        let outbox = Outbox {
            slug,
            key: StoredValue::new(key),
            timeline,
            pending: RwSignal::new(pending),
            overdue: RwSignal::new(0),
            sender: StoredValue::new(None),
            pause: StoredValue::new(None),
            online: StoredValue::new(None),
        };
        let online = window_event_listener(ev::online, move |_| outbox.wake());
        outbox.online.set_value(Some(online));
        outbox.send();
        outbox
    }

    /// Stops sending (the room is left); what is unsent stays in local storage.
    pub fn stop(self) {
        if let Some(Some(sender)) = self.sender.try_get_value() {
            sender.abort();
        }
        if let Some(Some(online)) = self.online.try_update_value(Option::take) {
            online.remove();
        }
    }

    /// Messages that arrived (from the stream or a history page): ours among them are no
    /// longer pending, nor are stored ones they went past (those are further back in the
    /// room's history: the stream, which goes on from here, will never bring them).
    pub fn arrived(self, messages: &[Message]) {
        let Some(newest) = messages.iter().map(|m| m.seq).max() else {
            return;
        };
        let gone = |p: &Pending| {
            messages.iter().any(|m| m.client_id == p.client_id)
                || matches!(p.state, Sending::Stored(seq) if seq <= newest)
        };
        let leaving = self
            .pending
            .try_with_untracked(|list| list.iter().any(gone));
        if leaving == Some(true) {
            self.change(|list| list.retain(|p| !gone(p)));
        }
    }

    /// Changes which messages are pending, and keeps the list in local storage.
    fn change(self, f: impl FnOnce(&mut Vec<Pending>)) {
        let Some(kept) = self.pending.try_update(|pending| {
            f(pending);
            pending
                .iter()
                .map(|p| Kept {
                    client_id: p.client_id.clone(),
                    body: p.body.clone(),
                })
                .collect::<Vec<_>>()
        }) else {
            return;
        };
        let key = self.key.get_value();
        match kept.is_empty() {
            true => gloo_storage::LocalStorage::delete(&key),
            // Storage can be full or disabled: the messages are then kept until the page closes.
            false => {
                let _ = gloo_storage::LocalStorage::set(&key, &kept);
            }
        }
    }

    fn set(self, client_id: &str, state: Sending) {
        self.pending.update(|list| {
            if let Some(p) = list.iter_mut().find(|p| p.client_id == client_id) {
                p.state = state;
            }
        })
    }

    /// Sends the pending messages, unless that is under way (then it goes on at once).
    fn send(self) {
        if self.sender.get_value().is_some() {
            return self.wake();
        }
        let (abort, registration) = AbortHandle::new_pair();
        self.sender.set_value(Some(abort));
        leptos::task::spawn_local(async move {
            let _stopped = Abortable::new(self.send_all(), registration).await;
        });
    }

    /// Cuts the wait before sending again short.
    fn wake(self) {
        if let Some(Some(pause)) = self.pause.try_get_value() {
            pause.abort();
        }
    }

    /// Sends each pending message in turn, until none is left to send.
    async fn send_all(self) {
        let mut delay = RETRY_FIRST_MS;
        loop {
            let Some((client_id, body)) = self.next_to_send() else {
                // In the same turn as the check above: a message written now starts a new
                // sender.
                return self.sender.set_value(None);
            };
            // A message being sent again keeps saying why until it is stored: no flicker.
            let message = PostMessage {
                body,
                client_id: client_id.clone(),
            };
            match api::post_message(&self.slug.get_value(), &message).await {
                Ok(stored) => {
                    delay = RETRY_FIRST_MS;
                    self.stored(client_id, stored.seq);
                }
                Err(err) if err.is_transient() => {
                    let why = match err {
                        ApiError::Network(_) => "offline".to_owned(),
                        err => err.to_string(),
                    };
                    // The messages after it wait for it: they are not sent yet either.
                    self.pending.update(|list| {
                        for p in list {
                            if matches!(p.state, Sending::Posting | Sending::Retrying(_)) {
                                p.state = Sending::Retrying(why.clone());
                            }
                        }
                    });
                    self.wait(delay).await;
                    delay = (delay * 2).min(RETRY_MAX_MS);
                }
                Err(err) => self.set(&client_id, Sending::Refused(err.to_string())),
            }
        }
    }

    /// The oldest message not yet stored nor refused.
    fn next_to_send(self) -> Option<(String, String)> {
        self.pending.try_with_untracked(|list| {
            list.iter()
                .find(|p| matches!(p.state, Sending::Posting | Sending::Retrying(_)))
                .map(|p| (p.client_id.clone(), p.body.clone()))
        })?
    }

    /// The server stored the message as `seq`: now the stream should bring it.
    fn stored(self, client_id: String, seq: u64) {
        // Already shown further on than `seq` (a retry of a message stored long ago): it is in
        // the history above, and the stream will not bring it again.
        if seq <= self.timeline.last_seq() {
            return self.change(|list| list.retain(|p| p.client_id != client_id));
        }
        self.set(&client_id, Sending::Stored(seq));
        leptos::task::spawn_local(async move {
            TimeoutFuture::new(DELIVERY_GRACE_MS).await;
            let overdue = self.pending.try_with_untracked(|list| {
                list.iter()
                    .any(|p| p.client_id == client_id && matches!(p.state, Sending::Stored(_)))
            });
            if overdue == Some(true) {
                self.overdue.try_update(|n| *n += 1);
            }
        });
    }

    /// Waits `ms`, or less if woken.
    async fn wait(self, ms: u32) {
        let (wake, registration) = AbortHandle::new_pair();
        self.pause.set_value(Some(wake));
        let _woken = Abortable::new(TimeoutFuture::new(ms), registration).await;
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
    let (state, label) = match &item.state {
        Sending::Posting => ("posting", "sending…".to_owned()),
        Sending::Stored(_) => ("stored", "sent, waiting for the stream…".to_owned()),
        Sending::Retrying(why) => ("retrying", format!("{why} — will retry…")),
        Sending::Refused(why) => ("refused", format!("not sent: {why}")),
    };
    let client_id = item.client_id.clone();
    let discard = move |_| outbox.change(|list| list.retain(|p| p.client_id != client_id));
    view! {
        <li class="message mine pending" data-client-id=item.client_id.clone() data-state=state>
            <span class="meta">
                <span class="author">"you"</span>
                <span class="state">{label}</span>
                {matches!(item.state, Sending::Retrying(_)).then(|| view! {
                    <button class="link retry" on:click=move |_| outbox.wake()>"Retry now"</button>
                })}
                {matches!(item.state, Sending::Refused(_)).then(move || view! {
                    <button class="link discard" on:click=discard>"Discard"</button>
                })}
            </span>
            <span class="body">{item.body.clone()}</span>
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
        outbox.change(|list| {
            list.push(Pending {
                client_id,
                body,
                state: Sending::Posting,
            })
        });
        outbox.send();
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
