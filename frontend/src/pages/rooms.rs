//! The room list (public rooms and the private rooms you belong to) and the new-room form.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use shared::api::CreateRoom;

use crate::api;

#[component]
pub fn Rooms() -> impl IntoView {
    let rooms = LocalResource::new(api::rooms);

    view! {
        <section class="card">
            <h1>"Rooms"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading rooms…"</p> }>
                {move || {
                    rooms
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => {
                                view! { <p class="muted">"No rooms yet: create the first one."</p> }
                                    .into_any()
                            }
                            Ok(list) => {
                                view! {
                                    <ul class="rooms" id="rooms">
                                        {list
                                            .into_iter()
                                            .map(|room| {
                                                let href = format!("/rooms/{}", room.slug);
                                                view! {
                                                    <li>
                                                        <A href=href>
                                                            <span class="title">{room.title}</span>
                                                            <span class="slug">"#"{room.slug}</span>
                                                            {room.private.then(|| view! { <span class="badge">"private"</span> })}
                                                        </A>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
        <NewRoom />
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
