//! One module per screen.

pub mod login;
pub mod room;
pub mod rooms;
