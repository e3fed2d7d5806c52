//! The connection indicator every live page shows: connecting, live, or reconnecting (and why,
//! on hover).

use leptos::prelude::*;

use crate::live::Status;

#[component]
pub fn Indicator(status: RwSignal<Status>) -> impl IntoView {
    let key = move || match status.get() {
        Status::Connecting => "connecting",
        Status::Live => "live",
        Status::Reconnecting { .. } => "reconnecting",
    };
    let text = move || match status.get() {
        Status::Connecting => "Connecting…".to_owned(),
        Status::Live => "Live".to_owned(),
        Status::Reconnecting {
            attempt, in_secs, ..
        } => format!("Reconnecting in {in_secs} s (attempt {attempt})"),
    };
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
