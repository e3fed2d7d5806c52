//! The chat's browser app: Leptos, rendered in the browser, served by the origin through the edge.
//!
//! ```text
//! pages::login  ── api (fetch) ──▶ /api/auth/*                 (session cookie, HttpOnly)
//! pages::rooms  ── api ──────────▶ /api/rooms                  (list with unread counts, create)
//!               ── activity ─────▶ /api/activity               (news, through Fanout: refetch)
//! pages::room   ── api ──────────▶ /api/rooms/{slug}/messages  (history pages, posting)
//!                                  /api/rooms/{slug}/read      (read marks)
//!                                  /api/rooms/{slug}/search
//!               ── live ─────────▶ /api/rooms/{slug}/events | ws | poll  (through Fanout)
//! pages::dashboard ─ api ────────▶ /api/dashboards/system/samples
//!               ── live ─────────▶ /api/dashboards/system/events | ws | poll
//! ```
//!
//! Every body, event and path is a `shared` type or constant: the browser, the edge and the
//! origin agree by construction. `live` turns any channel's stream into entries shown once, in
//! order, across reconnects.

mod activity;
mod api;
mod app;
mod indicator;
mod live;
mod pages;
mod session;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
