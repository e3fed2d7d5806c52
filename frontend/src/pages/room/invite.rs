//! A private room's invite form: its owner adds someone by name.

use leptos::prelude::*;
use shared::api::AddMember;

use crate::api;

#[component]
pub fn Invite(slug: String) -> impl IntoView {
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
