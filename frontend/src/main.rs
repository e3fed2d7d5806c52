//! The chat's browser app: Leptos, rendered in the browser, served by the origin through the edge.
//!
//! ```text
//! pages::login  ── api (fetch) ──▶ /api/auth/*                 (session cookie, HttpOnly)
//! pages::rooms  ── api ──────────▶ /api/rooms                  (list, create)
//! pages::room   ── api ──────────▶ /api/rooms/{slug}/messages  (history pages, posting)
//!               ── live ─────────▶ /api/rooms/{slug}/events | ws | poll  (through Fanout)
//! ```
//!
//! Every body and event is a `shared` type: the browser, the edge and the origin agree by
//! construction. `live` turns a stream into messages shown once, in order, across reconnects.

mod api;
mod app;
mod live;
mod pages;
mod session;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
