//! Who is in the room and who is typing. The room's stream brings `joined`, `left` and `typing`
//! signals; this tab's heartbeat (every `HEARTBEAT`) keeps it online and is answered with the
//! whole list, which repairs any signal the stream lost. "… is typing" fades by itself after
//! `TYPING_SHOWN`.

use std::time::Duration;

use futures_util::future::{AbortHandle, Abortable};
use gloo_storage::{SessionStorage, Storage as _};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use shared::chat::{HEARTBEAT, RoomSignal, TYPING_SHOWN};

use crate::api;

/// Session-storage key of this tab's device id: presence counts users, each of whose tabs is a
/// device; a reload keeps the tab's id.
const DEVICE_KEY: &str = "chat.device";

fn millis(d: Duration) -> u32 {
    d.as_millis() as u32
}

/// This tab's device id.
fn device() -> String {
    if let Ok(id) = SessionStorage::get::<String>(DEVICE_KEY) {
        return id;
    }
    let id = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map_or_else(|| "tab".to_owned(), |c| c.random_uuid());
    let _ = SessionStorage::set(DEVICE_KEY, &id);
    id
}

/// The room's presence. Cheap to copy (signals).
#[derive(Clone, Copy)]
pub struct Presence {
    slug: StoredValue<String>,
    /// Who is online, sorted.
    pub online: RwSignal<Vec<String>>,
    /// Who is typing, each with the `Date.now()` until which it shows.
    typing: RwSignal<Vec<(String, f64)>>,
    beating: StoredValue<Option<AbortHandle>, LocalStorage>,
}

impl Presence {
    pub fn new(slug: StoredValue<String>) -> Presence {
        Presence {
            slug,
            online: RwSignal::new(Vec::new()),
            typing: RwSignal::new(Vec::new()),
            beating: StoredValue::new_local(None),
        }
    }

    /// Starts this tab's heartbeats; [`Presence::stop`] ends them and leaves the room.
    pub fn start(self) {
        let (abort, registration) = AbortHandle::new_pair();
        self.beating.set_value(Some(abort));
        leptos::task::spawn_local(async move {
            let beat = async move {
                loop {
                    if let Ok(online) = api::heartbeat(&self.slug.get_value(), &device()).await {
                        self.online.try_set(online);
                    }
                    TimeoutFuture::new(millis(HEARTBEAT)).await;
                }
            };
            let _stopped = Abortable::new(beat, registration).await;
        });
    }

    pub fn stop(self) {
        if let Some(Some(beating)) = self.beating.try_get_value() {
            beating.abort();
            let slug = self.slug.get_value();
            leptos::task::spawn_local(async move {
                let _ = api::leave(&slug, &device()).await;
            });
        }
    }

    pub fn on_signal(self, signal: RoomSignal) {
        match signal {
            RoomSignal::Joined { user } => self.online.update(|online| {
                if let Err(at) = online.binary_search(&user) {
                    online.insert(at, user);
                }
            }),
            RoomSignal::Left { user } => {
                self.online.update(|online| online.retain(|u| *u != user));
            }
            RoomSignal::Typing { user } => {
                let until = js_sys::Date::now() + TYPING_SHOWN.as_millis() as f64;
                self.typing.update(|typing| {
                    typing.retain(|(u, _)| *u != user);
                    typing.push((user, until));
                });
                // Fade by itself: drop whoever's time is over.
                leptos::task::spawn_local(async move {
                    TimeoutFuture::new(millis(TYPING_SHOWN) + 50).await;
                    let now = js_sys::Date::now();
                    self.typing
                        .try_update(|typing| typing.retain(|(_, t)| *t > now));
                });
            }
        }
    }
}

/// The members online, each with a dot.
#[component]
pub fn Members(presence: Presence) -> impl IntoView {
    view! {
        <ul class="members" id="members" aria-label="Online">
            <For
                each=move || presence.online.get()
                key=|name| name.clone()
                children=|name| view! {
                    <li class="member"><span class="online-dot" aria-hidden="true"></span>{name}</li>
                }
            />
        </ul>
    }
}

/// "Ann is typing…" (not for one's own typing).
#[component]
pub fn TypingLine(presence: Presence, me: Signal<String>) -> impl IntoView {
    let line = move || {
        let me = me.get();
        let names: Vec<String> = presence
            .typing
            .get()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| *name != me)
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => format!("{one} is typing…"),
            [one, two] => format!("{one} and {two} are typing…"),
            _ => "Several people are typing…".to_owned(),
        }
    };
    view! { <p class="typing" id="typing" aria-live="polite">{line}</p> }
}
