//! Search in the room: the messages that have every word of a query, newest first, a page at a
//! time. Choosing a result shows that message in context in the list below ([`Older::jump`]).

use leptos::prelude::*;
use shared::api::search_words;
use shared::chat::Message;

use super::older::Older;
use super::timeline::{day_and_clock, iso};
use crate::api;

#[component]
pub fn Search(slug: StoredValue<String>, older: Older) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let results = RwSignal::new(Vec::<Message>::new());
    // The query whose results are shown (`None`: no search yet), and where its next page starts.
    let searched = RwSignal::new(None::<String>);
    let next = RwSignal::new(None::<u64>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // Only the latest request's answer is shown, however the answers are ordered.
    let asked = StoredValue::new(0_u32);

    let find = move |q: String, before: Option<u64>| {
        let ticket = asked.get_value() + 1;
        asked.set_value(ticket);
        busy.set(true);
        let slug = slug.get_value();
        leptos::task::spawn_local(async move {
            let answer = api::search(&slug, &q, before).await;
            if asked.try_get_value() != Some(ticket) {
                return;
            }
            busy.set(false);
            match answer {
                Ok(page) => {
                    match before {
                        Some(_) => results.update(|shown| shown.extend(page.messages)),
                        None => results.set(page.messages),
                    }
                    next.set(page.next);
                    searched.set(Some(q));
                    error.set(None);
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = query.get_untracked();
        // The origin's own rules: a query it would refuse is not sent.
        if let Err(invalid) = search_words(&q) {
            // Nor is the answer to an earlier query, if one is still on its way.
            asked.update_value(|n| *n += 1);
            busy.set(false);
            results.set(Vec::new());
            searched.set(None);
            next.set(None);
            error.set(Some(invalid.to_string()));
            return;
        }
        find(q, None);
    };
    let more = move |_| {
        if let (Some(q), Some(before)) = (searched.get_untracked(), next.get_untracked()) {
            find(q, Some(before));
        }
    };

    view! {
        <details class="search" id="search">
            <summary>"Search"</summary>
            <form class="search-form" id="search-form" on:submit=submit>
                <label for="search-query" class="visually-hidden">"Search this room"</label>
                <input
                    id="search-query"
                    type="search"
                    placeholder="Words to find"
                    bind:value=query
                />
                <button type="submit">"Search"</button>
            </form>
            <p class="error" role="alert">{move || error.get()}</p>
            <ol
                class="search-results"
                id="search-results"
                aria-label="Search results"
                aria-busy=move || busy.get().to_string()
            >
                <For
                    each=move || results.get()
                    key=|m| (m.id, m.edited_at, m.deleted)
                    children=move |m| view! { <Found message=m older error /> }
                />
            </ol>
            <Show when=move || next.get().is_some()>
                <button type="button" class="link" id="search-more" on:click=more>
                    "Older results"
                </button>
            </Show>
            <Show when=move || searched.get().is_some() && results.with(Vec::is_empty)>
                <p class="muted">"No messages match."</p>
            </Show>
        </details>
    }
}

/// One result: choosing it shows the message in the list.
#[component]
fn Found(message: Message, older: Older, error: RwSignal<Option<String>>) -> impl IntoView {
    let seq = message.seq;
    view! {
        <li>
            <button
                type="button"
                class="result"
                data-seq=seq
                on:click=move |_| older.jump(seq, error)
            >
                <span class="meta">
                    <span class="author">{message.author.clone()}</span>
                    <time datetime=iso(&message)>{day_and_clock(&message)}</time>
                </span>
                <span class="body">{message.body}</span>
            </button>
        </li>
    }
}
