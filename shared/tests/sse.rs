//! SSE encoding and decoding: spec cases, chunking, round trips and hostile input.

use proptest::prelude::*;
use shared::sse::{SseDecoder, SseError, SseEvent, comment};

fn decode_all(bytes: &[u8]) -> Vec<SseEvent> {
    SseDecoder::new().push(bytes).expect("valid stream")
}

/// Feeds `bytes` cut at `cuts` (sorted, deduplicated, in range).
fn decode_split(bytes: &[u8], cuts: &[usize]) -> Result<Vec<SseEvent>, SseError> {
    let mut decoder = SseDecoder::new();
    let mut events = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        events.extend(decoder.push(&bytes[start..cut])?);
        start = cut;
    }
    Ok(events)
}

#[test]
fn encodes_fields_in_order() {
    let event = SseEvent::message("a\nb").with_id("7").with_event("message");
    assert_eq!(
        event.encode(),
        "id: 7\nevent: message\ndata: a\ndata: b\n\n"
    );
    assert_eq!(SseEvent::message("").encode(), "data: \n\n");
    assert_eq!(
        SseEvent::message("x\r\ny\rz").encode(),
        "data: x\ndata: y\ndata: z\n\n"
    );
}

#[test]
fn encode_cannot_inject_fields() {
    let event = SseEvent {
        id: Some("1\ndata: evil\r".into()),
        event: Some("ping\r\nid: 9".into()),
        data: "ok".into(),
    };
    let encoded = event.encode();
    assert_eq!(encoded, "id: 1data: evil\nevent: pingid: 9\ndata: ok\n\n");
    let decoded = decode_all(encoded.as_bytes());
    assert_eq!(decoded.len(), 1);
    assert_eq!(decoded[0].data, "ok");
    // An event name that is only line breaks is dropped, not written empty.
    assert_eq!(
        SseEvent::message("x").with_event("\n").encode(),
        "data: x\n\n"
    );
}

#[test]
fn comment_is_safe_against_newlines() {
    assert_eq!(comment("keep-alive"), ": keep-alive\n\n");
    assert_eq!(comment("a\ndata: evil"), ": a\n: data: evil\n\n");
    assert_eq!(comment(""), ":\n\n");
    let mut decoder = SseDecoder::new();
    assert!(
        decoder
            .push(comment("a\r\nevent: x\ndata: y").as_bytes())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn decodes_spec_examples() {
    let stream = b"data: YHOO\ndata: +2\ndata: 10\n\n";
    assert_eq!(decode_all(stream), vec![SseEvent::message("YHOO\n+2\n10")]);

    let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    assert_eq!(
        decode_all(stream),
        vec![
            SseEvent::message("first event").with_id("1"),
            SseEvent::message("second event").with_id(""),
            SseEvent::message(" third event"),
        ]
    );

    // "data" with no colon is a data line with an empty value; two of them make "\n".
    let stream = b"data\n\ndata\ndata\n\ndata:\n";
    assert_eq!(
        decode_all(stream),
        vec![SseEvent::message(""), SseEvent::message("\n")]
    );

    assert_eq!(
        decode_all(b"data:test\n\ndata: test\n\n"),
        vec![SseEvent::message("test"), SseEvent::message("test")]
    );
}

#[test]
fn line_endings_and_bom() {
    let stream = b"\xEF\xBB\xBFevent: a\r\ndata: 1\r\rdata: 2\n\n";
    assert_eq!(
        decode_all(stream),
        vec![
            SseEvent::message("1").with_event("a"),
            SseEvent::message("2"),
        ]
    );
    // A BOM later in the stream is not skipped: it makes an unknown field.
    assert!(decode_all(b"\n\xEF\xBB\xBFdata: x\n\n").is_empty());
}

#[test]
fn cr_at_chunk_end_then_lf_is_one_line_break() {
    let mut decoder = SseDecoder::new();
    assert!(decoder.push(b"data: a\r").unwrap().is_empty());
    // If the LF were a second line break this would dispatch an event now.
    assert!(decoder.push(b"\n").unwrap().is_empty());
    assert!(decoder.push(b"").unwrap().is_empty());
    assert_eq!(decoder.push(b"\r").unwrap(), vec![SseEvent::message("a")]);
    assert!(decoder.push(b"\ndata: b\n\n").unwrap().len() == 1);
}

#[test]
fn split_utf8_and_bom() {
    let stream = "\u{feff}data: h\u{e9}llo \u{1f600}\n\n".as_bytes();
    for cut in 0..stream.len() {
        assert_eq!(
            decode_split(stream, &[cut]).unwrap(),
            vec![SseEvent::message("h\u{e9}llo \u{1f600}")],
            "cut at {cut}"
        );
    }
}

#[test]
fn id_tracking() {
    let mut decoder = SseDecoder::new();
    assert_eq!(decoder.last_event_id(), None);
    let events = decoder.push(b"id: 3\ndata: a\n\ndata: b\n\n").unwrap();
    assert_eq!(events[0].id.as_deref(), Some("3"));
    // The second event sets no id of its own, but the stream's last id persists.
    assert_eq!(events[1].id, None);
    assert_eq!(decoder.last_event_id(), Some("3"));

    // An id without data dispatches nothing but still moves the last id.
    assert!(decoder.push(b"id: 4\n\n").unwrap().is_empty());
    assert_eq!(decoder.last_event_id(), Some("4"));

    // An id containing NUL is ignored.
    let events = decoder.push(b"id: 5\0\ndata: c\n\n").unwrap();
    assert_eq!(events, vec![SseEvent::message("c")]);
    assert_eq!(decoder.last_event_id(), Some("4"));

    // An empty id clears it.
    decoder.push(b"id\n\n").unwrap();
    assert_eq!(decoder.last_event_id(), None);
}

#[test]
fn ignores_retry_and_unknown_fields() {
    assert_eq!(
        decode_all(b"retry: 1000\nfoo: bar\ndata: x\nevent\n\n"),
        vec![SseEvent::message("x")]
    );
}

#[test]
fn event_type_resets_after_each_block() {
    assert_eq!(
        decode_all(b"event: a\n\ndata: x\n\n"),
        vec![SseEvent::message("x")]
    );
}

#[test]
fn incomplete_event_at_end_is_not_dispatched() {
    assert!(decode_all(b"data: x\n").is_empty());
    assert!(decode_all(b"data: x").is_empty());
}

#[test]
fn invalid_utf8_is_an_error_and_the_decoder_recovers() {
    let mut decoder = SseDecoder::new();
    assert_eq!(
        decoder.push(b"data: \xff\n\ndata: ok\n\n"),
        Err(SseError::InvalidUtf8)
    );
    assert_eq!(
        decoder.push(b"data: next\n\n").unwrap(),
        vec![SseEvent::message("next")]
    );
}

#[test]
fn long_lines_are_refused_without_buffering_them() {
    let mut decoder = SseDecoder::with_max_line(8);
    assert_eq!(decoder.push(b"data: 12"), Ok(vec![]));
    assert_eq!(
        decoder.push(b"3456789"),
        Err(SseError::LineTooLong { limit: 8 })
    );
    // The rest of the long line is dropped quietly; the next line is read.
    assert_eq!(decoder.push(b"more\n"), Ok(vec![]));
    assert_eq!(
        decoder.push(b"data: ok\n\n").unwrap(),
        vec![SseEvent::message("ok")]
    );

    let mut decoder = SseDecoder::with_max_line(8);
    assert_eq!(
        decoder.push(b"data: 12\n\n").unwrap(),
        vec![SseEvent::message("12")]
    );
}

fn arb_event() -> impl Strategy<Value = SseEvent> {
    (
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<String>()),
        // Bias towards line breaks, the interesting part of the data.
        proptest::collection::vec(
            prop_oneof![
                3 => any::<char>().prop_map(String::from),
                1 => Just("\r\n".to_owned()),
                1 => Just("\r".to_owned()),
                1 => Just("\n".to_owned()),
            ],
            0..40,
        ),
    )
        .prop_map(|(id, event, data)| SseEvent {
            id,
            event,
            data: data.concat(),
        })
}

/// What a decoder yields for `event`, given the documented encoding: line
/// breaks in data come back as LF, CR/LF (and NUL, for ids) are removed from
/// id and event, and an empty event name is no event name.
///
/// Empty data still round-trips: `encode` always writes one `data:` line, and
/// the decoder dispatches whenever a block had a `data:` line. Only a block
/// with no `data:` line at all is not dispatched (the spec's "data buffer is
/// empty" case), and `encode` never produces one.
fn expected(event: &SseEvent) -> SseEvent {
    let strip = |s: &str, extra: &[char]| -> String {
        s.chars()
            .filter(|c| !matches!(c, '\r' | '\n') && !extra.contains(c))
            .collect()
    };
    SseEvent {
        id: event.id.as_deref().map(|id| strip(id, &['\0'])),
        event: event
            .event
            .as_deref()
            .map(|e| strip(e, &[]))
            .filter(|e| !e.is_empty()),
        data: event.data.replace("\r\n", "\n").replace('\r', "\n"),
    }
}

proptest! {
    #[test]
    fn round_trip(events in proptest::collection::vec(arb_event(), 0..8)) {
        let encoded: String = events.iter().map(SseEvent::encode).collect();
        let decoded = decode_all(encoded.as_bytes());
        let want: Vec<_> = events.iter().map(expected).collect();
        prop_assert_eq!(decoded, want);
    }

    #[test]
    fn round_trip_in_arbitrary_chunks(
        events in proptest::collection::vec(arb_event(), 0..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let encoded: String = events.iter().map(SseEvent::encode).collect();
        let bytes = encoded.as_bytes();
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let decoded = decode_split(bytes, &cuts).unwrap();
        let want: Vec<_> = events.iter().map(expected).collect();
        prop_assert_eq!(decoded, want);
    }

    #[test]
    fn last_event_id_is_the_last_id_written(events in proptest::collection::vec(arb_event(), 1..6)) {
        let encoded: String = events.iter().map(SseEvent::encode).collect();
        let mut decoder = SseDecoder::new();
        decoder.push(encoded.as_bytes()).unwrap();
        let want = events
            .iter()
            .rev()
            .find_map(|e| expected(e).id)
            .filter(|id| !id.is_empty());
        prop_assert_eq!(decoder.last_event_id(), want.as_deref());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        limit in 0usize..32,
    ) {
        let mut decoder = SseDecoder::with_max_line(limit);
        for chunk in &chunks {
            let _ = decoder.push(chunk);
        }
        let mut decoder = SseDecoder::new();
        for chunk in &chunks {
            let _ = decoder.push(chunk);
        }
    }

    #[test]
    fn stream_like_bytes_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(&b"data:"[..]), Just(&b"id:"[..]), Just(&b"event:"[..]), Just(&b":"[..]),
                Just(&b"\r"[..]), Just(&b"\n"[..]), Just(&b" "[..]), Just(&b"\xEF\xBB\xBF"[..]),
                Just(&b"\xC3"[..]), Just(&b"\xA9"[..]), Just(&b"x"[..]), Just(&b"\0"[..]),
            ],
            0..64,
        ),
        split in any::<prop::sample::Index>(),
    ) {
        let bytes: Vec<u8> = parts.concat();
        let cut = split.index(bytes.len() + 1);
        let mut decoder = SseDecoder::with_max_line(16);
        let _ = decoder.push(&bytes[..cut]);
        let _ = decoder.push(&bytes[cut..]);
    }
}
