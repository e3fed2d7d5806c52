//! REST request and response bodies, their validation, and the JSON error body.
//!
//! Request structs reject unknown fields so a typo (`"titel"`) is a clear 422
//! instead of a silently ignored field. Validation lives here, next to the
//! types, so the frontend can check a form with the very rules the origin
//! enforces.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chat::Message;

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
    /// In the room list only: the caller's unread messages in the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unread: Option<Unread>,
}

/// Messages by others after the caller's read mark (`PUT /api/rooms/{slug}/read`). Only the
/// newest [`UNREAD_SCAN`] messages are counted, so a list of rooms costs the same however far
/// behind its reader is: `more` says there are older unread ones ("99+").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unread {
    pub count: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

/// How many of a room's newest entries an unread count looks at.
pub const UNREAD_SCAN: u32 = 100;

/// `PUT /api/rooms/{slug}/read`: the newest message the caller has seen. A mark never moves
/// back (an older tab reporting late changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    pub seq: u64,
}

/// The caller's read mark in a room, after a [`MarkRead`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    pub read: u64,
}

/// Longest search query, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;
/// Most words in a search query (each one narrows it).
pub const MAX_SEARCH_WORDS: usize = 8;
/// Most messages in one page of search results.
pub const SEARCH_PAGE_MAX: u32 = 50;

/// A page of search results, newest first; `next` is the `before` of the next (older) page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// The words of a text as search sees them: runs of letters and digits, lowercased. The
/// origin stores a message's words this way and searches for a query's words this way, so
/// SQLite's FTS5 and Postgres's full-text search, each tokenizing these plain words, find the
/// same messages.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The words of a search query (each a prefix a message's word must start with), without
/// repeats; refused when there are none or too many.
pub fn search_words(q: &str) -> Result<Vec<String>, Invalid> {
    if q.chars().count() > MAX_SEARCH_CHARS {
        return Err(Invalid::new(
            "q",
            format!("must be at most {MAX_SEARCH_CHARS} characters long"),
        ));
    }
    let mut found: Vec<String> = Vec::new();
    for word in words(q) {
        if !found.contains(&word) {
            found.push(word);
        }
    }
    match found.len() {
        0 => Err(Invalid::new("q", "must contain a letter or a digit")),
        n if n > MAX_SEARCH_WORDS => Err(Invalid::new(
            "q",
            format!("must have at most {MAX_SEARCH_WORDS} words"),
        )),
        _ => Ok(found),
    }
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

/// `PATCH /api/rooms/{slug}/messages/{seq}`: the message's new text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    pub body: String,
}

impl EditMessage {
    pub fn validate(&self) -> Result<(), Invalid> {
        validate_body(&self.body)
    }
}

/// The answer to a presence heartbeat: who is online in the room now (names, sorted), the
/// caller included. It repairs whatever `joined`/`left` signals a client missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub online: Vec<String>,
}

/// Longest device id (the app uses a UUID, 36 characters).
pub const MAX_DEVICE_CHARS: usize = 64;

/// A device id names one browser tab (or app) of a user: presence counts users, not
/// connections, and a user is online while any of their devices is.
pub fn validate_device(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= MAX_DEVICE_CHARS
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    match ok {
        true => Ok(()),
        false => Err(Invalid::new(
            "device",
            format!("must be 1 to {MAX_DEVICE_CHARS} characters of [A-Za-z0-9-]"),
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageResponse {
    pub message: Message,
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
    pub code: ErrorCode,
    pub message: String,
}

/// The `code` of every error the edge and the origin answer: one list, so a program can match
/// on them and a new one is added in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A field broke its rule (422), or the body had the wrong fields.
    Invalid,
    BadJson,
    NotJson,
    TooLarge,
    BadQuery,
    BadCursor,
    BadWebsocketEvents,
    /// No session, an ended one, or conflicting credentials (401).
    Unauthenticated,
    BadCredentials,
    BadOrigin,
    RateLimited,
    Overloaded,
    Timeout,
    NotViaGrip,
    BadCapability,
    Forbidden,
    NotFound,
    Conflict,
    NoRoute,
    MethodNotAllowed,
    Internal,
    /// The edge: the origin or Fanout could not be reached (503).
    Unavailable,
    /// The edge: the origin answered something that is not HTTP (502).
    BadGateway,
    /// A code this build does not know (a newer server): read the message.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Invalid => "invalid",
            BadJson => "bad_json",
            NotJson => "not_json",
            TooLarge => "too_large",
            BadQuery => "bad_query",
            BadCursor => "bad_cursor",
            BadWebsocketEvents => "bad_websocket_events",
            Unauthenticated => "unauthenticated",
            BadCredentials => "bad_credentials",
            BadOrigin => "bad_origin",
            RateLimited => "rate_limited",
            Overloaded => "overloaded",
            Timeout => "timeout",
            NotViaGrip => "not_via_grip",
            BadCapability => "bad_capability",
            Forbidden => "forbidden",
            NotFound => "not_found",
            Conflict => "conflict",
            NoRoute => "no_route",
            MethodNotAllowed => "method_not_allowed",
            Internal => "internal",
            Unavailable => "unavailable",
            BadGateway => "bad_gateway",
            Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

impl From<Invalid> for ErrorBody {
    /// A validation failure, with the code the origin answers 422 with.
    fn from(invalid: Invalid) -> Self {
        Self::new(ErrorCode::Invalid, invalid.to_string())
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
