//! REST request and response bodies, their validation, and the JSON error body.
//!
//! Request structs reject unknown fields so a typo (`"titel"`) is a clear 422
//! instead of a silently ignored field. Validation lives here, next to the
//! types, so the frontend can check a form with the very rules the origin
//! enforces.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::message::Message;

/// Longest message body, in characters (not bytes, so every script gets the same room).
pub const MAX_BODY_CHARS: usize = 4000;
/// Most messages one history request returns.
pub const HISTORY_PAGE_MAX: u32 = 100;
/// Messages replayed to a subscriber that arrives without a cursor.
pub const REPLAY_FIRST_VISIT: u32 = 50;

/// Longest room slug, in bytes (slugs are ASCII).
pub const MAX_SLUG_LEN: usize = 64;
/// Longest user name, in characters.
pub const MAX_USER_NAME_CHARS: usize = 32;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters; bounds the work of hashing it.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest room title, in characters, after trimming.
pub const MAX_TITLE_CHARS: usize = 100;
/// Set by the edge on every request it passes on (a client's own copy is removed first). The
/// origin refuses next-link capabilities on requests that carry it: those are for Fanout's own
/// fetches, which never come through the edge.
pub const VIA_EDGE_HEADER: &str = "x-via-edge";

/// Longest client id, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// A registered user as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    pub name: String,
}

/// Body of `register` and `login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub name: String,
    pub password: String,
}

// Hand-written so a logged request never shows the password.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &self.name)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_user_name(&self.name)?;
        validate_password(&self.password)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserResponse {
    pub user: User,
}

/// Reply to `POST /api/auth/token`: a session token for scripts, which send it as
/// `Authorization: Bearer`. Browsers sign in with `login` instead and never see their token
/// (an HttpOnly cookie carries it), so a script injected into the page cannot read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub user: User,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Room {
    pub slug: String,
    pub title: String,
    pub private: bool,
}

/// Answer to creating a room: `{"room": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomResponse {
    pub room: Room,
}
/// A page of the rooms the caller may see, by slug: `next` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoomsResponse {
    pub rooms: Vec<Room>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Most rooms in one page of `GET /api/rooms` (`?limit=` asks for fewer).
pub const ROOMS_PAGE_MAX: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    pub slug: String,
    pub title: String,
    /// Rooms are public unless asked otherwise.
    #[serde(default)]
    pub private: bool,
}

impl CreateRoom {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_slug(&self.slug)?;
        validate_title(&self.title)
    }
}

/// Body that adds a user, by name, to a private room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub name: String,
}

impl AddMember {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_user_name(&self.name)
    }
}

/// Body that posts a message. `client_id` is chosen by the composer so it can
/// match the published copy of its own message to the one it shows optimistically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    pub body: String,
    pub client_id: String,
}

impl PostMessage {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_body(&self.body)?;
        validate_client_id(&self.client_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageResponse {
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessagesResponse {
    pub messages: Vec<Message>,
}

/// A long-poll's answer (`GET /api/rooms/{slug}/poll?after=SEQ`): the messages after `SEQ`,
/// oldest first, or none when the hold timed out or the room only announced its position.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PollResponse {
    pub messages: Vec<Message>,
    /// `SEQ` was ahead of the room (its database was restored from a backup, say): drop what is
    /// shown; `messages` are the room's latest, to start over from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

/// Every non-2xx JSON reply: `{"error":{"code":"...","message":"..."}}`.
///
/// `code` is stable and meant for programs; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

impl From<Invalid> for ErrorBody {
    /// A validation failure, with the code the origin answers 422 with.
    fn from(invalid: Invalid) -> Self {
        Self::new("invalid", invalid.to_string())
    }
}

/// Why an input was refused: which field, and a reason meant for people.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

impl Invalid {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Room slugs appear in URLs and channel names, so they are plain lowercase ASCII.
pub fn validate_slug(s: &str) -> Result<(), Invalid> {
    let bytes = s.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_SLUG_LEN
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new("slug", "must match ^[a-z0-9][a-z0-9-]{0,63}$"))
    }
}

/// Names are shown next to every message and used to add members, so they stay
/// short and free of look-alike or invisible characters: ASCII letters, digits and `_.-`. They
/// are unique regardless of case ([`name_key`]).
pub fn validate_user_name(s: &str) -> Result<(), Invalid> {
    let len = s.chars().count();
    if len == 0 || len > MAX_USER_NAME_CHARS {
        return Err(Invalid::new(
            "name",
            format!("must be 1 to {MAX_USER_NAME_CHARS} characters long"),
        ));
    }
    let starts_alnum = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let allowed = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if starts_alnum && allowed {
        Ok(())
    } else {
        Err(Invalid::new(
            "name",
            "must start with a letter or digit and contain only letters, digits, '_', '.' and '-'",
        ))
    }
}

/// What makes two names the same name: `Ann` and `ann` are one account. Names are ASCII
/// ([`validate_user_name`]), so Unicode normalisation leaves them as they are and lowercasing
/// is the whole comparison.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

pub fn validate_password(s: &str) -> Result<(), Invalid> {
    let len = s.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&len) {
        Ok(())
    } else {
        Err(Invalid::new(
            "password",
            format!("must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters long"),
        ))
    }
}

/// Titles are single-line labels: control characters (newlines included) are
/// refused anywhere, and the length counts what is left after trimming.
pub fn validate_title(s: &str) -> Result<(), Invalid> {
    if s.chars().any(char::is_control) {
        return Err(Invalid::new("title", "must not contain control characters"));
    }
    let len = s.trim().chars().count();
    if len == 0 || len > MAX_TITLE_CHARS {
        return Err(Invalid::new(
            "title",
            format!(
                "must be 1 to {MAX_TITLE_CHARS} characters long, not counting surrounding spaces"
            ),
        ));
    }
    Ok(())
}

/// Bodies may span several lines, but a message of only whitespace shows as nothing. Control
/// characters other than newline and tab are refused: NUL cannot be stored by Postgres, and the
/// others only hide or garble text.
pub fn validate_body(s: &str) -> Result<(), Invalid> {
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(Invalid::new(
            "body",
            "must not contain control characters other than newline and tab",
        ));
    }
    if s.chars().count() > MAX_BODY_CHARS {
        return Err(Invalid::new(
            "body",
            format!("must be at most {MAX_BODY_CHARS} characters long"),
        ));
    }
    if s.trim().is_empty() {
        return Err(Invalid::new("body", "must not be empty or only whitespace"));
    }
    Ok(())
}

/// Client ids are echoed in acks and events, so they are short and URL/JSON-safe.
pub fn validate_client_id(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= MAX_CLIENT_ID_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "client_id",
            format!("must be 1 to {MAX_CLIENT_ID_CHARS} characters of [A-Za-z0-9_-]"),
        ))
    }
}
