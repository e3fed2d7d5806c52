//! The wire contract every part of the chat app agrees on.
//!
//! A message travels composer → origin → Pushpin/Fanout → subscribers: the
//! browser posts it to the origin's REST API, the origin stores it and
//! publishes it to the room's channel, and Pushpin (locally) or Fastly Fanout
//! (in production) pushes it to every held SSE stream and WebSocket of that
//! room. The edge, the origin and the frontend all use the types in this
//! crate, so a shape changes in one place and the compiler finds every user.
//!
//! The crate does no I/O and needs no async runtime: it builds for the host,
//! `wasm32-wasip1` (the Fastly edge) and `wasm32-unknown-unknown` (the
//! browser).
//!
//! # Layout
//!
//! - [`api`]: REST request and response bodies, input validation, the error body.
//! - [`message`]: a stored chat message and the Fanout channel of a room.
//! - [`session`]: the session cookie name and the session token's claims.
//! - [`event`]: what a subscriber receives ([`event::ServerEvent`]) and what a
//!   WebSocket client sends ([`event::ClientCommand`]).
//! - [`sse`]: Server-Sent Events encoding and an incremental decoder.
//! - [`wsoh`]: the WebSocket-over-HTTP event codec Pushpin/Fanout speak to the origin.
//! - [`grip`]: GRIP header names and value helpers (hold, channel, keep-alive, links).
//! - [`publish`]: items for the publish API (`POST /publish/`).
//! - [`sequencer`]: the subscriber's reorder buffer: each message once, in seq order, and when to resume.

pub mod api;
pub mod event;
pub mod grip;
pub mod message;
pub mod publish;
pub mod sequencer;
pub mod session;
pub mod sse;
pub mod wsoh;

pub use api::{ErrorBody, Invalid, User};
pub use event::{ClientCommand, ServerEvent};
pub use message::Message;
