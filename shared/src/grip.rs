//! GRIP header names and helpers to write and read their values.
//!
//! The origin answers a stream request with `Grip-Hold`, `Grip-Channel` and
//! friends; Pushpin/Fanout then holds the connection open and feeds it what is
//! published to those channels. On a reliable stream's recovery request the
//! proxy tells the origin, in `Grip-Last`, the last id each channel delivered.

use std::borrow::Cow;

/// Response header: hold the request open (`stream` or `response`).
pub const HOLD: &str = "grip-hold";
/// Response header: the channels the held request subscribes to.
pub const CHANNEL: &str = "grip-channel";
/// Response header: what to send, and when, to keep an idle stream open.
pub const KEEP_ALIVE: &str = "grip-keep-alive";
/// Response header: where the proxy fetches what comes next (reliable streams).
pub const LINK: &str = "grip-link";
/// Request header: the last id delivered on each channel of a recovering stream.
pub const LAST: &str = "grip-last";
/// Request header: the proxy's signature (a JWT), proving the request passed through it.
pub const SIG: &str = "grip-sig";
/// Response header: how long a response hold lasts, in seconds.
pub const TIMEOUT: &str = "grip-timeout";

/// The kind of hold asked for in `Grip-Hold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Keep the response open and append each published item (SSE).
    Stream,
    /// Long-polling: hold until one item is published or the hold times out.
    Response,
}

impl Hold {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Response => "response",
        }
    }
}

/// A `Grip-Channel` value: the channel name, plus the id of the last item the
/// client already has, so the proxy can tell whether it missed one.
pub fn channel(name: &str, prev_id: Option<&str>) -> String {
    match prev_id {
        None => name.to_owned(),
        Some(prev_id) => format!("{name}; prev-id={}", param_value(prev_id)),
    }
}

/// A `Grip-Keep-Alive` value sending `data` after `timeout_secs` of silence.
///
/// `data` is written in Pushpin's `cstring` format, so it may contain line
/// breaks (an SSE comment needs them). Besides `\\`, `\n` and `\r`, every
/// byte a header parameter parser would trip on (`;`, `,`, `=`, `"`, spaces at
/// either end, control and non-ASCII bytes) is written as `\xHH`. Pushpin
/// rejects empty keep-alive data.
pub fn keep_alive(data: &str, timeout_secs: u32) -> String {
    let bytes = data.as_bytes();
    let mut out = String::with_capacity(data.len() + 32);
    for (i, &b) in bytes.iter().enumerate() {
        let at_edge = i == 0 || i + 1 == bytes.len();
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b' ' if !at_edge => out.push(' '),
            b'!'..=b'~' if !matches!(b, b';' | b',' | b'=' | b'"') => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push_str(&format!("; format=cstring; timeout={timeout_secs}"));
    out
}

/// A `Grip-Link` value pointing the proxy at the next part of a reliable
/// stream; it follows the link after `timeout_secs` (Pushpin's default: 120).
pub fn link_next(uri: &str, timeout_secs: Option<u32>) -> String {
    match timeout_secs {
        None => format!("<{uri}>; rel=next"),
        Some(timeout) => format!("<{uri}>; rel=next; timeout={timeout}"),
    }
}

/// One entry of a `Grip-Last` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastId {
    pub channel: String,
    pub last_id: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GripError {
    #[error("malformed Grip-Last header: {0}")]
    MalformedLast(String),
}

/// Writes entries as a `Grip-Last` value (`room-42; last-id=4, room-7; last-id=9`),
/// quoting ids that are not plain tokens. Channel names are written as they are.
pub fn format_last(entries: &[LastId]) -> String {
    entries
        .iter()
        .map(|e| format!("{}; last-id={}", e.channel, param_value(&e.last_id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses a `Grip-Last` value: comma-separated `channel; last-id=ID` entries,
/// where ID may be a quoted string. Unknown parameters are ignored, and empty
/// list elements skipped, as HTTP list syntax allows.
pub fn parse_last(value: &str) -> Result<Vec<LastId>, GripError> {
    let mut out = Vec::new();
    for entry in split_unquoted(value, ',').ok_or_else(|| malformed(value))? {
        let entry = entry.trim_matches(is_ows);
        if entry.is_empty() {
            continue;
        }
        let mut parts = split_unquoted(entry, ';')
            .ok_or_else(|| malformed(entry))?
            .into_iter();
        let channel = parts.next().unwrap_or_default().trim_matches(is_ows);
        if channel.is_empty() || channel.contains(['"', '=']) {
            return Err(malformed(entry));
        }
        let mut last_id = None;
        for param in parts {
            let param = param.trim_matches(is_ows);
            if param.is_empty() {
                continue;
            }
            let (key, raw) = param.split_once('=').ok_or_else(|| malformed(entry))?;
            let id = unquote(raw.trim_matches(is_ows)).ok_or_else(|| malformed(entry))?;
            if key.trim_matches(is_ows).eq_ignore_ascii_case("last-id") {
                last_id = Some(id);
            }
        }
        let last_id = last_id.ok_or_else(|| malformed(entry))?;
        out.push(LastId {
            channel: channel.to_owned(),
            last_id,
        });
    }
    Ok(out)
}

fn malformed(text: &str) -> GripError {
    // Bounded, so a huge hostile header does not make a huge log line.
    const MAX: usize = 100;
    let mut shown: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        shown.push('…');
    }
    GripError::MalformedLast(shown)
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Splits on `sep` outside quoted strings; `None` if a quote is left open.
fn split_unquoted(s: &str, sep: char) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if in_quotes {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_quotes = false,
                _ => {}
            }
        } else if c == '"' {
            in_quotes = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    if in_quotes {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// A parameter value as a token or a quoted string; `None` if malformed.
fn unquote(raw: &str) -> Option<String> {
    let Some(inner) = raw.strip_prefix('"') else {
        return (!raw.contains('"')).then(|| raw.to_owned());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.as_str().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None
}

/// Writes a parameter value as a bare token when it is one, else quoted.
fn param_value(value: &str) -> Cow<'_, str> {
    let is_token = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if is_token {
        return Cow::Borrowed(value);
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    Cow::Owned(quoted)
}
