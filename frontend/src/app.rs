//! The shell: header (who is signed in, which transport), and the router that picks a page.

use gloo_storage::{LocalStorage, Storage as _};
use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;

use shared::subscription::Transport;

use crate::api;
use crate::pages::{dashboard::DashboardPage, login::Login, room::RoomPage, rooms::Rooms};
use crate::session::Session;

/// Local-storage key of the chosen transport, so a reload keeps it.
const TRANSPORT_KEY: &str = "chat.transport";

#[component]
pub fn App() -> impl IntoView {
    let session = Session::provide();
    let saved = LocalStorage::get::<String>(TRANSPORT_KEY)
        .ok()
        .and_then(|key| Transport::from_key(&key))
        .unwrap_or(Transport::EventSource);
    // The transport every live page uses, chosen in the header; passed to the pages that stream.
    let transport = RwSignal::new(saved);
    Effect::new(move || {
        // Storage can be full or disabled; the choice then lasts until the reload.
        let _ = LocalStorage::set(TRANSPORT_KEY, transport.get().key());
    });

    view! {
        <Router>
            <header class="bar">
                <A href="/" attr:class="brand">"Fanout chat"</A>
                <Show when=move || session.user.get().is_some()>
                    <A href="/dashboard" attr:class="nav" attr:id="nav-dashboard">"Dashboard"</A>
                    <label class="transport">
                        <span>"Transport"</span>
                        <select
                            id="transport"
                            on:change=move |ev| {
                                if let Some(t) = Transport::from_key(&event_target_value(&ev)) {
                                    transport.set(t);
                                }
                            }
                        >
                            {Transport::ALL
                                .into_iter()
                                .map(|t| {
                                    view! {
                                        <option value=t.key() selected=move || transport.get() == t>
                                            {t.label()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <span class="who">{move || session.user.get().map(|u| u.name)}</span>
                    <button id="sign-out" class="link" on:click=move |_| sign_out(session, false)>
                        "Sign out"
                    </button>
                    <button
                        id="sign-out-everywhere"
                        class="link"
                        title="End your sessions on every device"
                        on:click=move |_| sign_out(session, true)
                    >
                        "Everywhere"
                    </button>
                </Show>
            </header>
            <main>
                <Show
                    when=move || session.known.get()
                    fallback=|| view! { <p class="muted">"Loading…"</p> }
                >
                    <Show when=move || session.user.get().is_some() fallback=Login>
                        <Routes fallback=|| view! { <p>"No such page. " <A href="/">"Rooms"</A></p> }>
                            <Route path=path!("/") view=Rooms />
                            <Route path=path!("/rooms/:slug") view=move || view! { <RoomPage transport /> } />
                            <Route path=path!("/dashboard") view=move || view! { <DashboardPage transport /> } />
                        </Routes>
                    </Show>
                </Show>
            </main>
        </Router>
    }
}

/// Signs out of this session, or of every session of the user (`everywhere`).
fn sign_out(session: Session, everywhere: bool) {
    leptos::task::spawn_local(async move {
        // Signed out locally even if the server is unreachable: the cookie expires anyway.
        let _ = api::logout(everywhere).await;
        session.user.set(None);
    });
}
