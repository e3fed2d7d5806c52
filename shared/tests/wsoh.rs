//! WebSocket-over-HTTP codec: wire shapes, round trips and malformed bodies.

use proptest::prelude::*;
use shared::wsoh::{self, CloseFrame, WsEvent, WsohError, decode, encode};

#[test]
fn encodes_wire_format() {
    let body = encode(&[
        WsEvent::Open,
        WsEvent::Text("hello".into()),
        WsEvent::Binary(vec![0; 26]),
        WsEvent::Ping(vec![]),
        WsEvent::Close(Some(CloseFrame::new(1000, "bye"))),
        WsEvent::Close(None),
        WsEvent::Disconnect,
    ]);
    let mut want = b"OPEN\r\nTEXT 5\r\nhello\r\nBINARY 1a\r\n".to_vec();
    want.extend_from_slice(&[0; 26]);
    want.extend_from_slice(b"\r\nPING 0\r\n\r\nCLOSE 5\r\n\x03\xe8bye\r\nCLOSE\r\nDISCONNECT\r\n");
    assert_eq!(body, want);
}

#[test]
fn decodes_what_pushpin_sends() {
    let body = b"OPEN\r\nTEXT 5\r\nhello\r\nTEXT 1A\r\nabcdefghijklmnopqrstuvwxyz\r\nPING\r\nCLOSE 2\r\n\x03\xe9\r\nDISCONNECT\r\n";
    assert_eq!(
        decode(body).unwrap(),
        vec![
            WsEvent::Open,
            WsEvent::Text("hello".into()),
            WsEvent::Text("abcdefghijklmnopqrstuvwxyz".into()),
            WsEvent::Ping(vec![]),
            WsEvent::Close(Some(CloseFrame::new(1001, ""))),
            WsEvent::Disconnect,
        ]
    );
    assert_eq!(decode(b"").unwrap(), vec![]);
    assert_eq!(
        decode(b"TEXT\r\n").unwrap(),
        vec![WsEvent::Text(String::new())]
    );
    assert_eq!(
        decode(b"CLOSE 0\r\n\r\n").unwrap(),
        vec![WsEvent::Close(None)]
    );
    // Content on OPEN is tolerated and ignored.
    assert_eq!(decode(b"OPEN 2\r\nxy\r\n").unwrap(), vec![WsEvent::Open]);
    // Content may itself contain CRLF: the size, not a delimiter, bounds it.
    assert_eq!(
        decode(b"TEXT 4\r\na\r\nb\r\n").unwrap(),
        vec![WsEvent::Text("a\r\nb".into())]
    );
}

#[test]
fn malformed_bodies_are_errors() {
    let cases: &[(&[u8], WsohError)] = &[
        (b"TEXT zz\r\nhello\r\n", WsohError::BadSize("zz".into())),
        (b"TEXT +5\r\nhello\r\n", WsohError::BadSize("+5".into())),
        (b"TEXT \r\n\r\n", WsohError::BadSize(String::new())),
        (b"TEXT 5 \r\nhello\r\n", WsohError::BadSize("5 ".into())),
        (
            b"TEXT fffffffffffffffffffff\r\nx\r\n",
            WsohError::BadSize("fffffffffffffffffffff".into()),
        ),
        (b"TEXT 6\r\nhello\r\n", WsohError::MissingCrlf),
        (b"TEXT 9\r\nhello\r\n", WsohError::Truncated),
        (b"TEXT 5\r\nhello", WsohError::MissingCrlf),
        (b"TEXT 5\r\nhelloXY", WsohError::MissingCrlf),
        (b"TEXT 5\r\nhello\r", WsohError::MissingCrlf),
        (b"TEXT 5\r\nhel", WsohError::Truncated),
        (b"OPEN", WsohError::Truncated),
        (b"OPEN\r\nTEXT 5", WsohError::Truncated),
        (b"HELLO\r\n", WsohError::UnknownType("HELLO".into())),
        (b"text 1\r\na\r\n", WsohError::UnknownType("text".into())),
        (b"\r\n", WsohError::UnknownType(String::new())),
        (b"TEXT 2\r\n\xc3\x28\r\n", WsohError::InvalidUtf8),
        (b"CLOSE 3\r\n\x03\xe8\xff\r\n", WsohError::InvalidUtf8),
        (b"CLOSE 1\r\n\x03\r\n", WsohError::BadClose),
    ];
    for (body, error) in cases {
        assert_eq!(
            decode(body).as_ref(),
            Err(error),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn control_messages() {
    let WsEvent::Text(text) = wsoh::subscribe("room-lobby") else {
        panic!("subscribe is a TEXT event");
    };
    let json = text.strip_prefix(wsoh::CONTROL_PREFIX).expect("c: prefix");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(json).unwrap(),
        serde_json::json!({"type": "subscribe", "channel": "room-lobby"})
    );
    let WsEvent::Text(text) = wsoh::unsubscribe("room-\"x\"") else {
        panic!("unsubscribe is a TEXT event");
    };
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text[2..]).unwrap(),
        serde_json::json!({"type": "unsubscribe", "channel": "room-\"x\""})
    );
    assert_eq!(wsoh::GRIP_EXTENSION, "grip; message-prefix=\"\"");
}

fn arb_event() -> impl Strategy<Value = WsEvent> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        Just(WsEvent::Open),
        Just(WsEvent::Disconnect),
        any::<String>().prop_map(WsEvent::Text),
        // "\r\n" inside content must not confuse the decoder.
        "[a\r\n]{0,8}".prop_map(WsEvent::Text),
        bytes().prop_map(WsEvent::Binary),
        bytes().prop_map(WsEvent::Ping),
        bytes().prop_map(WsEvent::Pong),
        proptest::option::of(
            (any::<u16>(), any::<String>()).prop_map(|(code, reason)| CloseFrame { code, reason })
        )
        .prop_map(WsEvent::Close),
    ]
}

proptest! {
    #[test]
    fn round_trip(events in proptest::collection::vec(arb_event(), 0..10)) {
        prop_assert_eq!(decode(&encode(&events)), Ok(events));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&body);
    }

    #[test]
    fn plausible_bodies_never_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(&b"TEXT"[..]), Just(&b"CLOSE"[..]), Just(&b"OPEN"[..]), Just(&b"BINARY"[..]),
                Just(&b" "[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..]), Just(&b"1"[..]),
                Just(&b"F"[..]), Just(&b"ffffffffffffffff"[..]), Just(&b"x"[..]), Just(&b"\xff"[..]),
            ],
            0..40,
        ),
    ) {
        let _ = decode(&parts.concat());
    }

    #[test]
    fn truncated_encodings_are_errors(
        events in proptest::collection::vec(arb_event(), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = encode(&events);
        let cut = cut.index(body.len());
        // A strict prefix either decodes to a prefix of the events (cut at an
        // event boundary) or is an error; it never invents events.
        if let Ok(decoded) = decode(&body[..cut]) {
            prop_assert!(decoded.len() < events.len());
            prop_assert_eq!(&decoded[..], &events[..decoded.len()]);
        }
    }
}
