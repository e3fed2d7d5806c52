//! The room list (public rooms and the private rooms you belong to), each with its unread
//! count and kept current while the page is open ([`crate::activity`]), and the new-room form.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::api::{CreateRoom, Room};

use crate::activity;
use crate::api::{self, ApiResult};

/// What the list area shows; it changes far less often than the list itself.
#[derive(Clone, PartialEq)]
enum Shape {
    Loading,
    Failed(String),
    Empty,
    Listed,
}

#[component]
pub fn Rooms() -> impl IntoView {
    // `None` until the first answer.
    let rooms = RwSignal::new(None::<ApiResult<Vec<Room>>>);
    // Fetched now and again after news, for as long as the page is open. A failed refetch
    // keeps the list shown: the next news (or the reopened stream's `ready`) fetches again.
    let watch = activity::watch(async move || {
        let answer = api::rooms().await;
        let shown = matches!(rooms.try_get_untracked(), Some(Some(Ok(_))));
        if answer.is_ok() || !shown {
            rooms.try_set(Some(answer));
        }
    });
    on_cleanup(move || drop(watch));

    let shape = Memo::new(move |_| {
        rooms.with(|rooms| match rooms {
            None => Shape::Loading,
            Some(Err(err)) => Shape::Failed(err.to_string()),
            Some(Ok(list)) if list.is_empty() => Shape::Empty,
            Some(Ok(_)) => Shape::Listed,
        })
    });
    let list = move || match rooms.get() {
        Some(Ok(list)) => list,
        _ => Vec::new(),
    };

    view! {
        <section class="card">
            <h1>"Rooms"</h1>
            {move || match shape.get() {
                Shape::Loading => view! { <p class="muted">"Loading rooms…"</p> }.into_any(),
                Shape::Failed(err) => view! { <p class="error" role="alert">{err}</p> }.into_any(),
                Shape::Empty => {
                    view! { <p class="muted">"No rooms yet: create the first one."</p> }.into_any()
                }
                // A refetch redraws only the rooms that changed (a new count, a new room).
                Shape::Listed => view! {
                    <ul class="rooms" id="rooms">
                        <For
                            each=list
                            key=|room| {
                                let unread = room.unread.map(|u| (u.count, u.more));
                                (room.slug.clone(), room.title.clone(), room.private, unread)
                            }
                            children=|room| view! { <RoomItem room /> }
                        />
                    </ul>
                }
                    .into_any(),
            }}
        </section>
        <NewRoom />
    }
}

/// One room of the list, with its unread count when there is one.
#[component]
fn RoomItem(room: Room) -> impl IntoView {
    let slug = room.slug.clone();
    let href = format!("/rooms/{slug}");
    let unread = room.unread.filter(|u| u.count > 0).map(|u| {
        // `more`: older unread messages were not counted.
        let count = match u.more {
            true => format!("{}+", u.count),
            false => u.count.to_string(),
        };
        let label = format!("{count} unread messages");
        view! { <span class="unread" aria-label=label>{count}</span> }
    });
    view! {
        <li data-slug=slug>
            <A href=href>
                <span class="title">{room.title}</span>
                <span class="slug">"#"{room.slug}</span>
                {room.private.then(|| view! { <span class="badge">"private"</span> })}
                {unread}
            </A>
        </li>
    }
}

#[component]
fn NewRoom() -> impl IntoView {
    let slug = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let room = CreateRoom {
            slug: slug.get_untracked().trim().to_owned(),
            title: title.get_untracked().trim().to_owned(),
            private: private.get_untracked(),
        };
        if let Err(invalid) = room.validate() {
            error.set(Some(invalid.to_string()));
            return;
        }
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match api::create_room(&room).await {
                Ok(room) => navigate(&format!("/rooms/{}", room.slug), Default::default()),
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <form class="card" id="new-room" on:submit=create>
            <h2>"New room"</h2>
            <label for="room-title">"Title"</label>
            <input id="room-title" required maxlength="100" bind:value=title />
            <label for="room-slug">"Address"</label>
            <input
                id="room-slug"
                required
                pattern="[a-z0-9][a-z0-9-]{0,63}"
                placeholder="lowercase-with-dashes"
                bind:value=slug
            />
            <label class="check">
                <input id="room-private" type="checkbox" bind:checked=private />
                "Private (members only)"
            </label>
            <p class="error" role="alert">{move || error.get()}</p>
            <button type="submit">"Create room"</button>
        </form>
    }
}
