//! The wire contract every part of the app agrees on.
//!
//! A message travels composer → origin → Pushpin/Fanout → subscribers: the
//! browser posts it to the origin's REST API, the origin stores it and
//! publishes it to the room's channel, and Pushpin (locally) or Fastly Fanout
//! (in production) pushes it to every held SSE stream and WebSocket of that
//! room. The edge, the origin and the frontend all use the types in this
//! crate, so a shape changes in one place and the compiler finds every user.
//!
//! The core is payload-agnostic: a channel carries entries of any type that implements
//! [`event::Entry`]. Chat ([`chat`]) is one such type; the dashboard ([`dashboard`]) is another,
//! built as a fork would build it (docs/FORKING.md).
//!
//! The crate does no I/O and needs no async runtime: it builds for the host,
//! `wasm32-wasip1` (the Fastly edge) and `wasm32-unknown-unknown` (the
//! browser).
//!
//! # Layout
//!
//! - [`paths`]: every route, written once.
//! - [`api`]: REST request and response bodies, input validation, the error body.
//! - [`event`]: the core's events for any entry type: what a subscriber receives
//!   ([`event::ServerEvent`]) and what a WebSocket client sends ([`event::ClientCommand`]).
//! - [`chat`]: chat's entry ([`chat::Message`]), its `send` command and its channels.
//! - [`session`]: the session cookie name, the session token's claims, a session's channel.
//! - [`sse`]: Server-Sent Events encoding and an incremental decoder.
//! - [`wsoh`]: the WebSocket-over-HTTP event codec Pushpin/Fanout speak to the origin.
//! - [`grip`]: GRIP header names and value helpers (hold, channel, keep-alive, links).
//! - [`publish`]: items for the publish API (`POST /publish/`).
//! - [`sequencer`]: the subscriber's reorder buffer: each entry once, in seq order, and when to resume.
//! - [`subscription`]: a subscriber's whole policy across connections (live, resume, give up,
//!   back off), for the browser app and the test followers alike.

pub mod api;
pub mod chat;
pub mod dashboard;
pub mod event;
pub mod grip;
pub mod paths;
pub mod publish;
pub mod sequencer;
pub mod session;
pub mod sse;
pub mod subscription;
pub mod wsoh;

pub use api::{ErrorBody, Invalid, User};
pub use chat::Message;
pub use event::{ClientCommand, Entry, ServerEvent};
