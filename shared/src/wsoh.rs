//! WebSocket-over-HTTP event codec (`application/websocket-events`), as Pushpin/Fanout speak it.
//!
//! Pushpin and Fanout carry a client's WebSocket to a stateless backend as
//! plain HTTP requests.
//!
//! Each request body lists what happened on the client's socket; each response
//! body lists what the backend wants sent back, plus GRIP control messages
//! such as [`subscribe`]. An event is `TYPE\r\n`, or `TYPE <hex size>\r\n`
//! followed by that many bytes of content and `\r\n`.

use serde_json::json;

/// Content type of WebSocket-over-HTTP request and response bodies.
pub const CONTENT_TYPE: &str = "application/websocket-events";

/// Prefix of a TEXT event that is a GRIP control message rather than a frame for the client.
pub const CONTROL_PREFIX: &str = "c:";

/// Value of the `Sec-WebSocket-Extensions` response header that tells
/// Pushpin/Fanout this backend speaks GRIP and that plain TEXT frames need no
/// "m:" prefix (without it Pushpin drops unprefixed messages).
pub const GRIP_EXTENSION: &str = "grip; message-prefix=\"\"";

/// One event on a WebSocket-over-HTTP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// The client connected (request), or the backend accepts it (response).
    Open,
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A close frame, with or without a status code.
    Close(Option<CloseFrame>),
    /// The connection is gone without a close handshake, or the backend drops it.
    Disconnect,
}

/// Status code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    pub code: u16,
    pub reason: String,
}

impl CloseFrame {
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

impl WsEvent {
    /// The event's type as written on the wire.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Text(_) => "TEXT",
            Self::Binary(_) => "BINARY",
            Self::Ping(_) => "PING",
            Self::Pong(_) => "PONG",
            Self::Close(_) => "CLOSE",
            Self::Disconnect => "DISCONNECT",
        }
    }
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum WsohError {
    #[error("unknown WebSocket-over-HTTP event type {0:?}")]
    UnknownType(String),
    #[error("bad WebSocket-over-HTTP content size {0:?}")]
    BadSize(String),
    #[error("WebSocket-over-HTTP body ends inside an event")]
    Truncated,
    #[error("WebSocket-over-HTTP event content not followed by CRLF")]
    MissingCrlf,
    #[error("WebSocket-over-HTTP TEXT or close reason is not valid UTF-8")]
    InvalidUtf8,
    #[error("WebSocket-over-HTTP CLOSE content shorter than a status code")]
    BadClose,
}

/// Encodes events as a body. Sizes are lowercase hex, as Pushpin writes them.
pub fn encode(events: &[WsEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        let name = event.type_name().as_bytes();
        match event {
            WsEvent::Open | WsEvent::Disconnect | WsEvent::Close(None) => {
                out.extend_from_slice(name);
                out.extend_from_slice(b"\r\n");
            }
            WsEvent::Text(text) => write_with_content(&mut out, name, text.as_bytes()),
            WsEvent::Binary(bytes) | WsEvent::Ping(bytes) | WsEvent::Pong(bytes) => {
                write_with_content(&mut out, name, bytes);
            }
            WsEvent::Close(Some(frame)) => {
                let mut content = Vec::with_capacity(2 + frame.reason.len());
                content.extend_from_slice(&frame.code.to_be_bytes());
                content.extend_from_slice(frame.reason.as_bytes());
                write_with_content(&mut out, name, &content);
            }
        }
    }
    out
}

fn write_with_content(out: &mut Vec<u8>, name: &[u8], content: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(format!(" {:x}\r\n", content.len()).as_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(b"\r\n");
}

/// Decodes a body into events. Never panics: any malformed input is an error.
///
/// Sizes may be upper- or lowercase hex. Content on OPEN and DISCONNECT is
/// accepted and ignored; a TEXT, BINARY, PING or PONG without a size has empty
/// content; a CLOSE without content (or with empty content) has no status code.
pub fn decode(body: &[u8]) -> Result<Vec<WsEvent>, WsohError> {
    let mut events = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let header_end = find_crlf(rest).ok_or(WsohError::Truncated)?;
        let header = &rest[..header_end];
        rest = &rest[header_end + 2..];

        let (name, content) = match header.iter().position(|&b| b == b' ') {
            None => (header, None),
            Some(space) => {
                let size_text = &header[space + 1..];
                let size = parse_hex_size(size_text)
                    .ok_or_else(|| WsohError::BadSize(lossy_prefix(size_text)))?;
                if size > rest.len() {
                    return Err(WsohError::Truncated);
                }
                let (content, after) = rest.split_at(size);
                rest = after.strip_prefix(b"\r\n").ok_or(WsohError::MissingCrlf)?;
                (&header[..space], Some(content))
            }
        };
        let content = content.unwrap_or_default();

        let event = match name {
            b"OPEN" => WsEvent::Open,
            b"DISCONNECT" => WsEvent::Disconnect,
            b"TEXT" => WsEvent::Text(
                String::from_utf8(content.to_vec()).map_err(|_| WsohError::InvalidUtf8)?,
            ),
            b"BINARY" => WsEvent::Binary(content.to_vec()),
            b"PING" => WsEvent::Ping(content.to_vec()),
            b"PONG" => WsEvent::Pong(content.to_vec()),
            b"CLOSE" => WsEvent::Close(decode_close(content)?),
            _ => return Err(WsohError::UnknownType(lossy_prefix(name))),
        };
        events.push(event);
    }
    Ok(events)
}

fn decode_close(content: &[u8]) -> Result<Option<CloseFrame>, WsohError> {
    match content {
        [] => Ok(None),
        [_] => Err(WsohError::BadClose),
        [hi, lo, reason @ ..] => Ok(Some(CloseFrame {
            code: u16::from_be_bytes([*hi, *lo]),
            reason: std::str::from_utf8(reason)
                .map_err(|_| WsohError::InvalidUtf8)?
                .to_owned(),
        })),
    }
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// Strict hex: no sign, no spaces, at least one digit, no overflow.
fn parse_hex_size(text: &[u8]) -> Option<usize> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0usize, |size, &b| {
        let digit = char::from(b).to_digit(16)?;
        size.checked_mul(16)?.checked_add(digit as usize)
    })
}

/// The start of some untrusted bytes, for an error message of bounded size.
fn lossy_prefix(bytes: &[u8]) -> String {
    const MAX: usize = 64;
    let shown = &bytes[..bytes.len().min(MAX)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if bytes.len() > MAX {
        text.push('…');
    }
    text
}

/// The GRIP control message that subscribes this connection to `channel`.
pub fn subscribe(channel: &str) -> WsEvent {
    control(&json!({ "type": "subscribe", "channel": channel }))
}

/// The GRIP control message that unsubscribes this connection from `channel`.
pub fn unsubscribe(channel: &str) -> WsEvent {
    control(&json!({ "type": "unsubscribe", "channel": channel }))
}

fn control(message: &serde_json::Value) -> WsEvent {
    WsEvent::Text(format!("{CONTROL_PREFIX}{message}"))
}
