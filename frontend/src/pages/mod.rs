//! One module per screen.

pub mod dashboard;
pub mod login;
pub mod room;
pub mod rooms;
