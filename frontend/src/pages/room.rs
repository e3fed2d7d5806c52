//! A room: its history (older pages load as you scroll up), live messages, the composer with
//! pending messages, the connection indicator, and (private rooms) the invite form.
//!
//! The list only ever grows by the stream's deliveries (in seq order, each once) or by older
//! history pages at the top; a message you send shows as pending until its copy comes back on
//! the stream, matched by `client_id`, so it is never shown twice.

use leptos::html;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::api::{AddMember, PostMessage};
use shared::message::Message;

use crate::api;
use crate::app::Preferences;
use crate::live::{self, Delivery, Follow, Status};
use crate::session::Session;

/// Messages per history page.
const PAGE: u32 = 50;

/// Scrolled this close to the top, the previous page loads; this close to the bottom, new
/// messages keep the view pinned to the end.
const EDGE_PX: i32 = 48;

#[component]
pub fn RoomPage() -> impl IntoView {
    let params = use_params_map();
    // A new `Room` per slug: leaving a room drops its stream.
    move || {
        let slug = params.read().get("slug").unwrap_or_default();
        view! { <Room slug /> }
    }
}

/// A message of ours that the stream has not delivered yet.
#[derive(Clone, PartialEq)]
struct Pending {
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

#[component]
fn Room(slug: String) -> impl IntoView {
    let session = Session::get();
    let transport = expect_context::<Preferences>().transport;
    let messages = RwSignal::new(Vec::<Message>::new());
    let pending = RwSignal::new(Vec::<Pending>::new());
    let status = RwSignal::new(Status::Connecting);
    let error = RwSignal::new(None::<String>);
    let has_older = RwSignal::new(false);
    let loading_older = RwSignal::new(false);
    let loaded = RwSignal::new(false);
    // Bumped when the server says our position is unknown: reload everything.
    let generation = RwSignal::new(0u32);
    let follow = StoredValue::new_local(None::<Follow>);
    let list = NodeRef::<html::Ol>::new();
    let slug = StoredValue::new(slug);
    let outbox = Outbox {
        slug,
        pending,
        overdue: RwSignal::new(0),
    };
    on_cleanup(move || follow.set_value(None));

    let room_info = LocalResource::new(move || {
        let slug = slug.get_value();
        async move { api::room(&slug).await.ok() }
    });

    let near_bottom = move || {
        list.get_untracked()
            .is_none_or(|el| el.scroll_height() - el.scroll_top() - el.client_height() < EDGE_PX)
    };
    let scroll_to_bottom = move || {
        request_animation_frame(move || {
            if let Some(el) = list.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        })
    };

    // (Re)starts the stream after the last message shown, on the chosen transport.
    let start = move || {
        let after = messages.with_untracked(|list| list.last().map_or(0, |m| m.seq));
        let deliver = move |delivery| match delivery {
            Delivery::Messages(new) => {
                let pinned = near_bottom();
                pending.update(|p| p.retain(|x| !new.iter().any(|m| m.client_id == x.client_id)));
                messages.update(|list| list.extend(new));
                if pinned {
                    scroll_to_bottom();
                }
            }
            Delivery::Reset => generation.update(|g| *g += 1),
        };
        let stream = live::follow(
            slug.get_value(),
            after,
            transport.get_untracked(),
            status.write_only(),
            deliver,
        );
        follow.set_value(Some(stream));
    };

    // Loads the newest page, then follows from its end. Runs again after a reset.
    Effect::new(move || {
        generation.track();
        follow.set_value(None);
        loaded.set(false);
        status.set(Status::Connecting);
        leptos::task::spawn_local(async move {
            match api::history(&slug.get_value(), None, PAGE).await {
                Ok(page) => {
                    has_older.set(page.first().is_some_and(|m| m.seq > 1));
                    // Our own messages in the page are no longer pending.
                    pending
                        .update(|p| p.retain(|x| !page.iter().any(|m| m.client_id == x.client_id)));
                    messages.set(page);
                    error.set(None);
                    loaded.set(true);
                    start();
                    scroll_to_bottom();
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    });

    // Switching transport restarts the stream from the last message shown; so does a message
    // of ours that the stream did not bring back in time (an open connection that went dead).
    Effect::new(move |previous: Option<(live::Transport, u32)>| {
        let now = (transport.get(), outbox.overdue.get());
        if previous.is_some_and(|p| p != now) && loaded.get_untracked() {
            status.set(Status::Connecting);
            start();
        }
        now
    });

    let load_older = move || {
        if loading_older.get_untracked() || !has_older.get_untracked() {
            return;
        }
        let Some(first) = messages.with_untracked(|list| list.first().map(|m| m.seq)) else {
            return;
        };
        loading_older.set(true);
        leptos::task::spawn_local(async move {
            let result = api::history(&slug.get_value(), Some(first), PAGE).await;
            loading_older.set(false);
            match result {
                Ok(page) => {
                    has_older.set(page.first().is_some_and(|m| m.seq > 1));
                    let before = list.get_untracked().map(|el| el.scroll_height());
                    messages.update(|list| {
                        list.splice(0..0, page);
                    });
                    // Keep the message you were reading where it was.
                    request_animation_frame(move || {
                        if let (Some(el), Some(before)) = (list.get_untracked(), before) {
                            el.set_scroll_top(el.scroll_top() + el.scroll_height() - before);
                        }
                    });
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    let me = move || session.user.get().map(|u| u.name).unwrap_or_default();

    view! {
        <section class="room">
            <header class="room-head">
                <A href="/" attr:class="back">"← Rooms"</A>
                <h1 class="room-title">
                    {move || {
                        room_info
                            .get()
                            .flatten()
                            .map(|r| r.title)
                            .unwrap_or_else(|| slug.get_value())
                    }}
                </h1>
                <Indicator status />
            </header>
            <p class="error" role="alert">{move || error.get()}</p>
            <ol
                class="messages"
                id="messages"
                node_ref=list
                aria-label="Messages"
                aria-live="polite"
                on:scroll=move |_| {
                    if list.get_untracked().is_some_and(|el| el.scroll_top() < EDGE_PX) {
                        load_older();
                    }
                }
            >
                <Show when=move || has_older.get()>
                    <li class="older">
                        <button class="link" id="load-older" on:click=move |_| load_older()>
                            {move || if loading_older.get() { "Loading…" } else { "Load older messages" }}
                        </button>
                    </li>
                </Show>
                <For
                    each=move || messages.get()
                    // The id, not the seq: a database restored from a backup hands seqs out
                    // again, and a reused key would keep showing the old message.
                    key=|m| m.id
                    children=move |m| {
                        let mine = m.author == me();
                        view! { <MessageItem message=m mine /> }
                    }
                />
                <For
                    each=move || pending.get()
                    key=|p| (p.client_id.clone(), p.state.clone())
                    children=move |p| view! { <PendingItem item=p outbox /> }
                />
            </ol>
            <Composer outbox />
            <Show when=move || room_info.get().flatten().is_some_and(|r| r.private)>
                <Invite slug=slug.get_value() />
            </Show>
        </section>
    }
}

#[component]
fn Indicator(status: RwSignal<Status>) -> impl IntoView {
    let (key, text) = (
        move || match status.get() {
            Status::Connecting => "connecting",
            Status::Live => "live",
            Status::Reconnecting { .. } => "reconnecting",
        },
        move || match status.get() {
            Status::Connecting => "Connecting…".to_owned(),
            Status::Live => "Live".to_owned(),
            Status::Reconnecting {
                attempt, in_secs, ..
            } => {
                format!("Reconnecting in {in_secs} s (attempt {attempt})")
            }
        },
    );
    // Why the last connection ended, on hover (and for the browser test's failure report).
    let why = move || match status.get() {
        Status::Reconnecting { why, .. } => Some(why),
        _ => None,
    };
    view! {
        <p class="status" id="status" data-status=key title=why role="status">
            <span class="dot" aria-hidden="true"></span>
            {text}
        </p>
    }
}

#[component]
fn MessageItem(message: Message, mine: bool) -> impl IntoView {
    let time = clock(&message);
    let datetime = message.sent_at.to_string();
    // Text nodes, never HTML: a body is shown exactly as typed.
    view! {
        <li class="message" class:mine=mine data-seq=message.seq>
            <span class="meta">
                <span class="author">{message.author}</span>
                <time datetime=datetime>{time}</time>
            </span>
            <span class="body">{message.body}</span>
        </li>
    }
}

/// `HH:MM` in the reader's time zone.
fn clock(message: &Message) -> String {
    let millis = (message.sent_at.unix_timestamp_nanos() / 1_000_000) as f64;
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis));
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
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

/// How long a stored message may take to come back on the stream before the stream is
/// suspected dead-but-open and reconnected (from the last seq shown, so nothing is lost).
const DELIVERY_GRACE_MS: u32 = 5_000;

/// The room's outgoing messages: posts them and tracks them until the stream delivers them.
#[derive(Clone, Copy)]
struct Outbox {
    slug: StoredValue<String>,
    pending: RwSignal<Vec<Pending>>,
    /// Bumped when a stored message does not come back in time; the room reconnects.
    overdue: RwSignal<u32>,
}

impl Outbox {
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

#[component]
fn Composer(outbox: Outbox) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

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

#[component]
fn Invite(slug: String) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let note = RwSignal::new(None::<String>);
    let slug = StoredValue::new(slug);
    let invite = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let member = AddMember {
            name: name.get_untracked().trim().to_owned(),
        };
        if let Err(invalid) = member.validate() {
            note.set(Some(invalid.to_string()));
            return;
        }
        leptos::task::spawn_local(async move {
            note.set(Some(
                match api::add_member(&slug.get_value(), &member).await {
                    Ok(()) => format!("{} can now read and write here.", member.name),
                    Err(err) => err.to_string(),
                },
            ));
            name.set(String::new());
        });
    };
    view! {
        <form class="invite" on:submit=invite>
            <label for="invite-name">"Invite by name"</label>
            <input id="invite-name" required bind:value=name />
            <button type="submit">"Invite"</button>
            <p class="note" role="status">{move || note.get()}</p>
        </form>
    }
}
