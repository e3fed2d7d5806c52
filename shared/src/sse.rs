//! Server-Sent Events: encoding, and an incremental decoder per the WHATWG spec.
//!
//! The decoder follows the HTML specification's "event stream
//! interpretation" (section 9.2, Server-sent events).
//!
//! The origin encodes events it sends or publishes through Fanout; the
//! end-to-end tests and any Rust client decode what arrives, in whatever
//! chunks the network hands over.

/// Longest line [`SseDecoder::new`] accepts, in bytes (1 MiB).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// One event of an event stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `id` field, which becomes the client's `Last-Event-ID`.
    pub id: Option<String>,
    /// The `event` field; `None` means the default, `message`.
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// An unnamed event without id.
    pub fn message(data: impl Into<String>) -> Self {
        Self {
            id: None,
            event: None,
            data: data.into(),
        }
    }

    /// The same event with `id` set.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The same event with `event` set.
    pub fn with_event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }

    /// The event in wire form, ending with the blank line that dispatches it.
    ///
    /// `data` is written as one `data:` line per line, splitting on CRLF, CR
    /// and LF; a decoder joins them with LF, so line endings come back as LF.
    /// Empty data still gets one `data:` line, so the event is dispatched
    /// (a block without any `data:` line is not).
    ///
    /// `id` and `event` are single-line fields: a CR or LF in them would end
    /// the field early and let the rest inject another field (`\ndata: …`),
    /// so both are removed. A NUL is removed from `id` too, because decoders
    /// ignore an `id` containing NUL. An `event` that ends up empty is left
    /// out: it means the default, `message`, anyway.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.data.len() + 64);
        if let Some(id) = &self.id {
            out.push_str("id: ");
            out.extend(id.chars().filter(|c| !matches!(c, '\r' | '\n' | '\0')));
            out.push('\n');
        }
        if let Some(event) = &self.event {
            let event: String = event
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect();
            if !event.is_empty() {
                out.push_str("event: ");
                out.push_str(&event);
                out.push('\n');
            }
        }
        for line in lines(&self.data) {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }
}

/// A comment block (`: text` then a blank line), e.g. as a keep-alive.
///
/// Each line of `text` becomes its own comment line, so a newline in `text`
/// cannot start a real field.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for line in lines(text) {
        if line.is_empty() {
            out.push_str(":\n");
        } else {
            out.push_str(": ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// Splits on CRLF, CR and LF, as the SSE grammar does; always yields at least
/// one (possibly empty) line, and a trailing line break yields a final empty line.
fn lines(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(i) => {
                let after = if current[i..].starts_with("\r\n") {
                    i + 2
                } else {
                    i + 1
                };
                rest = Some(&current[after..]);
                Some(&current[..i])
            }
        }
    })
}

/// Why a chunk could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SseError {
    #[error("event stream line is not valid UTF-8")]
    InvalidUtf8,
    #[error("event stream line longer than {limit} bytes")]
    LineTooLong { limit: usize },
}

/// Incremental event stream decoder.
///
/// Feed it the body in chunks of any size: a chunk may end inside a line,
/// inside a multi-byte UTF-8 character, or between the CR and LF of a CRLF.
///
/// On an error, [`SseDecoder::push`] still consumes the whole chunk, dropping
/// only the offending line, so the decoder stays in step with the stream; but
/// the events completed in that chunk are not returned. A stream that yields
/// errors is broken, and the caller should normally give up on it.
///
/// The line limit bounds the memory one line can take. It does not bound an
/// event made of many lines, which only a trusted server should send.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_line: usize,
    /// Bytes of the line being read (without its terminator).
    line: Vec<u8>,
    /// The current line went over the limit: drop bytes until it ends.
    skipping: bool,
    /// The previous chunk ended with CR: an LF opening the next chunk belongs to it.
    after_cr: bool,
    /// No line has ended yet, so the current line may start with a BOM.
    at_start: bool,
    data: String,
    event: String,
    /// The `id` field of the event being read, if it had one.
    id: Option<String>,
    last_event_id: String,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder for a new stream, accepting lines of up to [`DEFAULT_MAX_LINE`] bytes.
    pub fn new() -> Self {
        Self::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A decoder for a new stream, accepting lines of up to `limit` bytes.
    pub fn with_max_line(limit: usize) -> Self {
        Self {
            max_line: limit,
            line: Vec::new(),
            skipping: false,
            after_cr: false,
            at_start: true,
            data: String::new(),
            event: String::new(),
            id: None,
            last_event_id: String::new(),
        }
    }

    /// The last `id` the stream set, to send as `Last-Event-ID` when
    /// reconnecting; `None` if there was none or the stream cleared it with an
    /// empty `id`.
    pub fn last_event_id(&self) -> Option<&str> {
        (!self.last_event_id.is_empty()).then_some(self.last_event_id.as_str())
    }

    /// Decodes the next chunk of the stream and returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let mut events = Vec::new();
        let mut error = None;
        let mut rest = chunk;

        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }

        while !rest.is_empty() {
            let Some(end) = rest.iter().position(|&b| b == b'\r' || b == b'\n') else {
                self.append(rest, &mut error);
                break;
            };
            self.append(&rest[..end], &mut error);
            let terminator = rest[end];
            rest = &rest[end + 1..];
            if terminator == b'\r' {
                match rest.first() {
                    None => self.after_cr = true,
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                }
            }
            self.end_line(&mut events, &mut error);
        }

        match error {
            Some(error) => Err(error),
            None => Ok(events),
        }
    }

    fn append(&mut self, part: &[u8], error: &mut Option<SseError>) {
        if self.skipping || part.is_empty() {
            return;
        }
        if self.line.len().saturating_add(part.len()) > self.max_line {
            error.get_or_insert(SseError::LineTooLong {
                limit: self.max_line,
            });
            self.line = Vec::new();
            self.skipping = true;
            return;
        }
        self.line.extend_from_slice(part);
    }

    fn end_line(&mut self, events: &mut Vec<SseEvent>, error: &mut Option<SseError>) {
        let at_start = std::mem::replace(&mut self.at_start, false);
        if std::mem::replace(&mut self.skipping, false) {
            return;
        }
        let line = std::mem::take(&mut self.line);
        let bytes = match line.strip_prefix("\u{feff}".as_bytes()) {
            Some(rest) if at_start => rest,
            _ => &line[..],
        };
        // Line breaks are ASCII and never occur inside a multi-byte
        // character, so a whole line is always a whole UTF-8 sequence.
        match std::str::from_utf8(bytes) {
            Ok(text) => self.process_line(text, events),
            Err(_) => {
                error.get_or_insert(SseError::InvalidUtf8);
            }
        }
        // Give back big buffers; keep small ones for the next line.
        if line.capacity() <= 8 * 1024 {
            self.line = line;
            self.line.clear();
        }
    }

    fn process_line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            // The spec ignores an id with NUL: it could not be sent back in
            // a Last-Event-ID header.
            "id" if !value.contains('\0') => {
                value.clone_into(&mut self.last_event_id);
                self.id = Some(value.to_owned());
            }
            // `retry` only matters to a reconnecting client, which can read
            // it itself; unknown fields are ignored by the spec.
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let id = self.id.take();
        let event = std::mem::take(&mut self.event);
        // No `data:` line means nothing to dispatch; the block may still
        // have moved the last event id.
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the "\n" after the last data line
        events.push(SseEvent {
            id,
            event: (!event.is_empty()).then_some(event),
            data,
        });
    }
}
