//! Sign in, or create an account: one form, two buttons.

use leptos::prelude::*;
use shared::api::Credentials;

use crate::api;
use crate::session::Session;

#[derive(Clone, Copy, PartialEq)]
enum Intent {
    SignIn,
    SignUp,
}

#[component]
pub fn Login() -> impl IntoView {
    let session = Session::get();
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |intent: Intent| {
        let credentials = Credentials {
            name: name.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        // The server's own rules, checked here first for a quicker answer.
        if let Err(invalid) = credentials.validate() {
            error.set(Some(invalid.to_string()));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = match intent {
                Intent::SignIn => api::login(&credentials).await,
                Intent::SignUp => api::register(&credentials).await,
            };
            busy.set(false);
            match result {
                Ok(user) => session.user.set(Some(user)),
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    };

    view! {
        <form
            class="card auth"
            on:submit=move |ev| {
                ev.prevent_default();
                submit(Intent::SignIn);
            }
        >
            <h1>"Welcome"</h1>
            <p class="muted">"Sign in, or pick a name and password to create an account."</p>
            <label for="name">"Name"</label>
            <input id="name" autocomplete="username" required bind:value=name />
            <label for="password">"Password"</label>
            <input
                id="password"
                type="password"
                autocomplete="current-password"
                required
                bind:value=password
            />
            <p class="error" role="alert">{move || error.get()}</p>
            <div class="actions">
                <button id="sign-in" type="submit" disabled=move || busy.get()>"Sign in"</button>
                <button
                    id="sign-up"
                    type="button"
                    class="secondary"
                    disabled=move || busy.get()
                    on:click=move |_| submit(Intent::SignUp)
                >
                    "Create account"
                </button>
            </div>
        </form>
    }
}
