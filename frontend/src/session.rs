//! Who is signed in, shared by every page through Leptos context.

use leptos::prelude::*;
use shared::api::User;

use crate::api;

/// The signed-in user (`None`: signed out), loaded once from `/api/me` and updated by the
/// sign-in and sign-out pages.
#[derive(Clone, Copy)]
pub struct Session {
    pub user: RwSignal<Option<User>>,
    /// `false` until `/api/me` has answered, so pages do not flash the sign-in form.
    pub known: RwSignal<bool>,
}

impl Session {
    pub fn provide() -> Session {
        let session = Session {
            user: RwSignal::new(None),
            known: RwSignal::new(false),
        };
        leptos::task::spawn_local(async move {
            // A network error leaves the visitor signed out; the sign-in form says what failed.
            session.user.set(api::me().await.ok().flatten());
            session.known.set(true);
        });
        provide_context(session);
        session
    }

    pub fn get() -> Session {
        expect_context::<Session>()
    }
}
