//! A room: its history (older pages load as you scroll up), live messages, search, the
//! composer with pending messages, the connection indicator, and (private rooms) the invite
//! form.
//!
//! One module per job: [`timeline`] (what is shown), [`older`] (history pages above it),
//! [`stream`] (the live stream's life), [`outbox`] (what you send until it comes back),
//! [`read`] (how far you have read), [`search`], [`presence`] (who is here and typing),
//! [`scroll`] (where the list is scrolled), [`invite`]. This file wires them together.

mod invite;
mod older;
mod outbox;
mod presence;
mod read;
mod scroll;
mod search;
mod stream;
mod timeline;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use shared::paths::ROOM_MESSAGES;
use shared::subscription::Transport;

use self::invite::Invite;
use self::older::Older;
use self::outbox::{Composer, Outbox, PendingList};
use self::presence::{Members, Presence, TypingLine};
use self::read::ReadMarks;
use self::scroll::Scroll;
use self::search::Search;
use self::stream::RoomStream;
use self::timeline::{MessageItem, Timeline};
use crate::api;
use crate::indicator::Indicator;
use crate::session::Session;

/// Messages per history page.
const PAGE: u32 = 50;

#[component]
pub fn RoomPage(transport: RwSignal<Transport>) -> impl IntoView {
    let params = use_params_map();
    // A new `Room` per slug: leaving a room drops its stream.
    move || {
        let slug = params.read().get("slug").unwrap_or_default();
        view! { <Room slug transport /> }
    }
}

#[component]
fn Room(slug: String, transport: RwSignal<Transport>) -> impl IntoView {
    let session = Session::get();
    // Rooms are routed to only while someone is signed in.
    let user = session
        .user
        .get_untracked()
        .map(|u| u.name)
        .unwrap_or_default();
    let slug = StoredValue::new(slug);
    let timeline = Timeline::new();
    let scroll = Scroll::new();
    let outbox = Outbox::new(slug, &user, timeline);
    let presence = Presence::new(slug);
    let older = Older::new(slug, timeline, scroll);
    let stream = RoomStream::new(slug, timeline, outbox, presence, scroll, older);
    let error = RwSignal::new(None::<String>);
    let loaded = RwSignal::new(false);
    presence.start();
    let reads = ReadMarks::start(slug, timeline, scroll);
    on_cleanup(move || {
        stream.stop();
        presence.stop();
        outbox.stop();
        older.stop();
        reads.stop();
    });

    let room_info = LocalResource::new(move || {
        let slug = slug.get_value();
        async move { api::room(&slug).await.ok() }
    });

    // Loads the newest page, then follows from its end. Runs again after a reset.
    Effect::new(move || {
        stream.generation.track();
        stream.stop();
        loaded.set(false);
        leptos::task::spawn_local(async move {
            match api::history(ROOM_MESSAGES, &slug.get_value(), None, PAGE).await {
                Ok(page) => {
                    outbox.arrived(&page);
                    timeline.reset(page);
                    error.set(None);
                    loaded.set(true);
                    stream.start(transport.get_untracked());
                    scroll.to_bottom();
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    });

    // Switching transport restarts the stream from the last message shown; so does a message
    // of ours that the stream did not bring back in time (an open connection that went dead).
    Effect::new(move |previous: Option<(Transport, u32)>| {
        let now = (transport.get(), outbox.overdue.get());
        if previous.is_some_and(|p| p != now) && loaded.get_untracked() {
            stream.start(now.0);
        }
        now
    });

    let me = Signal::derive(move || session.user.get().map(|u| u.name).unwrap_or_default());

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
                <Indicator status=stream.status />
            </header>
            <Search slug older />
            <Members presence />
            <p class="error" role="alert">{move || error.get()}</p>
            <ol
                class="messages"
                id="messages"
                node_ref=scroll.list
                aria-label="Messages"
                aria-live="polite"
                data-read=move || reads.read.get()
                on:scroll=move |_| {
                    if scroll.near_top() {
                        older.load(error);
                    }
                    reads.check();
                }
            >
                <Show when=move || timeline.has_older.get()>
                    <li class="older">
                        <button class="link" id="load-older" on:click=move |_| older.load(error)>
                            {move || if older.loading.get() { "Loading…" } else { "Load older messages" }}
                        </button>
                    </li>
                </Show>
                <For
                    each=move || timeline.messages.get()
                    // The id, not the seq: a database restored from a backup hands seqs out
                    // again, and a reused key would keep showing the old message. An edit or
                    // a delete changes the key, so the line is drawn again.
                    key=|m| (m.id, m.edited_at, m.deleted)
                    children=move |m| {
                        let mine = m.author == me.get_untracked();
                        let seq = m.seq;
                        let current = Signal::derive(move || scroll.current.get() == Some(seq));
                        view! { <MessageItem message=m mine slug current /> }
                    }
                />
                <PendingList outbox />
            </ol>
            <TypingLine presence me />
            <Composer outbox />
            <Show when=move || room_info.get().flatten().is_some_and(|r| r.private)>
                <Invite slug=slug.get_value() />
            </Show>
        </section>
    }
}
