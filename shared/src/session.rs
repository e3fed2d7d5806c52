//! The session cookie and the claims of the session token it carries.
//!
//! The token is an HS256 JWT issued by the origin. Its claims live here so the
//! edge can verify the very same token without calling the origin.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Name of the cookie that holds the session token.
pub const COOKIE_NAME: &str = "session";

/// Claims of the session JWT (HS256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user's id.
    pub sub: Uuid,
    /// The user's name, so handlers need no lookup to label a message.
    pub name: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
}
