//! GRIP header helpers: exact values, and `Grip-Last` parsing.

use proptest::prelude::*;
use shared::grip::{self, GripError, Hold, LastId, format_last, parse_last};

fn last(channel: &str, last_id: &str) -> LastId {
    LastId {
        channel: channel.into(),
        last_id: last_id.into(),
    }
}

#[test]
fn header_values() {
    assert_eq!(Hold::Stream.as_str(), "stream");
    assert_eq!(Hold::Response.as_str(), "response");
    assert_eq!(grip::channel("room-x", None), "room-x");
    assert_eq!(grip::channel("room-x", Some("5")), "room-x; prev-id=5");
    assert_eq!(
        grip::channel("room-x", Some("a b")),
        "room-x; prev-id=\"a b\""
    );
    assert_eq!(
        grip::link_next("/api/rooms/x/stream?after=5", None),
        "</api/rooms/x/stream?after=5>; rel=next"
    );
    assert_eq!(
        grip::link_next("/next", Some(120)),
        "</next>; rel=next; timeout=120"
    );
}

#[test]
fn keep_alive_uses_cstring() {
    assert_eq!(
        grip::keep_alive("\n", 30),
        "\\n; format=cstring; timeout=30"
    );
    assert_eq!(
        grip::keep_alive(":\n\n", 20),
        ":\\n\\n; format=cstring; timeout=20"
    );
    assert_eq!(
        grip::keep_alive("event: ping\r\ndata: a;b=c,\"\\\"\n\n", 5),
        "event: ping\\r\\ndata: a\\x3bb\\x3dc\\x2c\\x22\\\\\\x22\\n\\n; format=cstring; timeout=5"
    );
    // Spaces at either end would be trimmed by a header parser.
    assert_eq!(
        grip::keep_alive(" a b ", 1),
        "\\x20a b\\x20; format=cstring; timeout=1"
    );
    assert_eq!(
        grip::keep_alive("\u{e9}\t", 1),
        "\\xc3\\xa9\\x09; format=cstring; timeout=1"
    );
}

#[test]
fn parses_grip_last() {
    assert_eq!(
        parse_last("room-42; last-id=4"),
        Ok(vec![last("room-42", "4")])
    );
    assert_eq!(
        parse_last("room-1; last-id=\"4\", room-2;last-id=9 ; foo=bar"),
        Ok(vec![last("room-1", "4"), last("room-2", "9")])
    );
    assert_eq!(
        parse_last(" a ;  Last-ID = \"x, y; \\\"z\\\"\" ,, "),
        Ok(vec![last("a", "x, y; \"z\"")])
    );
    assert_eq!(parse_last(""), Ok(vec![]));
}

#[test]
fn malformed_grip_last() {
    for value in [
        "room-1",
        "room-1; prev-id=3",
        "; last-id=3",
        "room-1; last-id",
        "room-1; last-id=\"3",
        "room-1; last-id=\"3\"x",
        "room-1; last-id=3\"",
        "\"room\"; last-id=3",
        "room-1; last-id=1, room-2",
    ] {
        assert!(
            matches!(parse_last(value), Err(GripError::MalformedLast(_))),
            "{value}"
        );
    }
    let error = parse_last("room-1").unwrap_err();
    assert_eq!(error.to_string(), "malformed Grip-Last header: room-1");
}

fn arb_last() -> impl Strategy<Value = LastId> {
    ("[A-Za-z0-9._:-]{1,20}", "[ -~]{0,20}")
        .prop_map(|(channel, last_id)| LastId { channel, last_id })
}

proptest! {
    #[test]
    fn round_trip(entries in proptest::collection::vec(arb_last(), 0..5)) {
        let value = format_last(&entries);
        prop_assert_eq!(parse_last(&value), Ok(entries));
    }

    #[test]
    fn round_trip_of_token_ids(channel in "[a-z0-9-]{1,20}", id in 0u64..) {
        let value = format!("{channel}; last-id={id}");
        prop_assert_eq!(parse_last(&value), Ok(vec![last(&channel, &id.to_string())]));
    }

    #[test]
    fn never_panics(value in any::<String>()) {
        let _ = parse_last(&value);
    }

    #[test]
    fn header_like_input_never_panics(value in "[a-z\"\\\\;,= \t]{0,40}") {
        let _ = parse_last(&value);
    }
}
