//! Exact JSON shapes of events, commands and publish items, and their SSE form.

use serde_json::json;
use shared::api::ErrorCode;
use shared::chat::{Change, ChatCommand, ChatEvent, Command, Message, RoomSignal, room_channel};
use shared::dashboard::{DashboardCommand, DashboardEvent, RoomPosts, Sample};
use shared::event::Entry as _;
use shared::event::{ClientCommand, Page, ServerEvent};
use shared::publish::{
    Action, Formats, HttpResponse, HttpStream, Item, MAX_ITEM_BYTES, PublishRequest, WsMessage,
};
use shared::session::{COOKIE_NAME, SessionClaims};
use shared::sse::{SseDecoder, SseEvent};
use time::macros::datetime;
use uuid::Uuid;

fn message() -> Message {
    Message {
        room: "lobby".into(),
        seq: 42,
        id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        author: "ada".into(),
        body: "hello\nworld".into(),
        sent_at: datetime!(2024-05-06 07:08:09.5 UTC),
        client_id: "c-1".into(),
        edited_at: None,
        deleted: false,
        amends: None,
    }
}

fn message_json() -> serde_json::Value {
    json!({
        "room": "lobby",
        "seq": 42,
        "id": "01234567-89ab-cdef-0123-456789abcdef",
        "author": "ada",
        "body": "hello\nworld",
        "sent_at": "2024-05-06T07:08:09.5Z",
        "client_id": "c-1",
    })
}

fn value(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

#[test]
fn message_shape_and_channel() {
    assert_eq!(serde_json::to_value(message()).unwrap(), message_json());
    assert_eq!(
        serde_json::from_value::<Message>(message_json()).unwrap(),
        message()
    );
    // Any RFC 3339 offset is accepted on input.
    let mut other = message_json();
    other["sent_at"] = json!("2024-05-06T09:08:09.5+02:00");
    assert_eq!(serde_json::from_value::<Message>(other).unwrap(), message());
    assert_eq!(room_channel("lobby"), "room-lobby");
}

#[test]
fn server_event_shapes() {
    let cases = [
        (
            ChatEvent::Entry(message()),
            json!({"type": "message", "message": message_json()}),
        ),
        (
            ServerEvent::Ack {
                client_id: "c-1".into(),
                seq: 7,
            },
            json!({"type": "ack", "client_id": "c-1", "seq": 7}),
        ),
        (
            ServerEvent::Reset { last_seq: 3 },
            json!({"type": "reset", "last_seq": 3}),
        ),
        (
            ServerEvent::Synced { last_seq: 9 },
            json!({"type": "synced", "last_seq": 9}),
        ),
        (
            ServerEvent::Head { last_seq: 12 },
            json!({"type": "head", "last_seq": 12}),
        ),
        (
            ServerEvent::Error {
                code: ErrorCode::Invalid,
                message: "body: too long".into(),
            },
            json!({"type": "error", "code": "invalid", "message": "body: too long"}),
        ),
    ];
    for (event, want) in cases {
        assert_eq!(value(&event.to_json()), want);
        assert_eq!(ChatEvent::from_json(&want.to_string()).unwrap(), event);
    }
}

#[test]
fn client_command_shapes() {
    let send = ChatCommand::Own(Command::Send {
        body: "hi".into(),
        client_id: "c-2".into(),
    });
    let want = json!({"type": "send", "body": "hi", "client_id": "c-2"});
    assert_eq!(value(&send.to_json()), want);
    assert_eq!(ChatCommand::from_json(&want.to_string()).unwrap(), send);
    assert_eq!(
        ChatCommand::from_json(r#"{"type":"resume","after":12}"#).unwrap(),
        ClientCommand::Resume { after: 12 }
    );
    assert_eq!(
        value(&ChatCommand::Resume { after: 1 }.to_json()),
        json!({"type": "resume", "after": 1})
    );
    for bad in [
        r#"{"type":"resume","after":1,"extra":true}"#,
        r#"{"type":"send","body":"hi"}"#,
        r#"{"type":"shout","body":"hi"}"#,
        r#"{"after":1}"#,
        r#"{"type":"resume","after":-1}"#,
    ] {
        assert!(ChatCommand::from_json(bad).is_err(), "{bad}");
    }
}

/// A second kind of entry rides the same events: named by its `KIND`, paged under its `PLURAL`.
#[test]
fn a_dashboard_takes_resume_and_nothing_else() {
    assert_eq!(
        DashboardCommand::from_json(r#"{"type":"resume","after":3}"#).unwrap(),
        ClientCommand::Resume { after: 3 }
    );
    for other in [
        r#"{"type":"send","body":"hi","client_id":"c-1"}"#,
        r#"{"type":"sample"}"#,
    ] {
        assert!(DashboardCommand::from_json(other).is_err(), "{other}");
    }
    let sample = Sample {
        dashboard: "system".into(),
        seq: 7,
        at: datetime!(2024-05-06 07:08:09 UTC),
        origin: "o1".into(),
        interval_ms: 1000,
        posts: 3,
        streams: 1,
        published: 4,
        recoveries: 0,
        publish_ms_mean: 1.5,
        publish_ms_max: 2.0,
        rooms: vec![RoomPosts {
            room: "lobby".into(),
            posts: 3,
        }],
    };
    let event = DashboardEvent::Entry(sample.clone());
    assert_eq!(value(&event.to_json())["type"], "sample");
    let sse = event.to_sse();
    assert_eq!(
        (sse.id.as_deref(), sse.event.as_deref()),
        (Some("7"), Some("sample"))
    );
    assert_eq!(DashboardEvent::from_sse(&sse).unwrap(), event);
    let page = serde_json::to_value(Page::of(vec![sample])).unwrap();
    assert_eq!(page["samples"][0]["posts"], 3);
    assert!(
        ChatEvent::from_sse(&sse).is_err(),
        "a room stream refuses samples"
    );
}

#[test]
fn message_to_sse() {
    let event = ChatEvent::Entry(message());
    let sse = event.to_sse();
    assert_eq!(sse.id.as_deref(), Some("42"));
    assert_eq!(sse.event.as_deref(), Some("message"));
    // The data is the bare message, not the {"type":...} envelope.
    assert_eq!(value(&sse.data), message_json());
    // Compact JSON escapes the newline, so the data is a single line.
    assert!(!sse.data.contains('\n'));
    assert!(sse.encode().starts_with("id: 42\nevent: message\ndata: {"));

    let decoded = SseDecoder::new().push(sse.encode().as_bytes()).unwrap();
    assert_eq!(decoded, vec![sse.clone()]);
    assert_eq!(ChatEvent::from_sse(&decoded[0]).unwrap(), event);
}

#[test]
fn other_events_to_sse() {
    let cases = [
        (
            ServerEvent::Ack {
                client_id: "c".into(),
                seq: 1,
            },
            "ack",
            json!({"client_id": "c", "seq": 1}),
        ),
        (
            ServerEvent::Reset { last_seq: 2 },
            "reset",
            json!({"last_seq": 2}),
        ),
        (
            ServerEvent::Synced { last_seq: 3 },
            "synced",
            json!({"last_seq": 3}),
        ),
        (
            ServerEvent::Head { last_seq: 4 },
            "head",
            json!({"last_seq": 4}),
        ),
        (
            ServerEvent::Error {
                code: ErrorCode::NotFound,
                message: "y".into(),
            },
            "error",
            json!({"code": "not_found", "message": "y"}),
        ),
    ];
    for (event, name, data) in cases {
        let sse = event.to_sse();
        assert_eq!(sse.id, None);
        assert_eq!(sse.event.as_deref(), Some(name));
        assert_eq!(value(&sse.data), data);
        assert_eq!(ChatEvent::from_sse(&sse).unwrap(), event);
    }
    assert!(ChatEvent::from_sse(&SseEvent::message("[1]")).is_err());
    assert!(ChatEvent::from_sse(&SseEvent::message("{}").with_event("nope")).is_err());
    assert!(ChatEvent::from_sse(&SseEvent::message("3").with_event("reset")).is_err());
}

#[test]
fn publish_item_shapes() {
    let item = Item {
        channel: "room-lobby".into(),
        id: Some("42".into()),
        prev_id: Some("41".into()),
        formats: Formats {
            http_stream: Some(HttpStream {
                content: Some("data: x\n\n".into()),
                action: None,
            }),
            ws_message: Some(WsMessage {
                content: Some("{}".into()),
                action: None,
            }),
            http_response: None,
        },
    };
    let request = PublishRequest { items: vec![item] };
    let want = json!({"items": [{
        "channel": "room-lobby",
        "id": "42",
        "prev-id": "41",
        "formats": {
            "http-stream": {"content": "data: x\n\n"},
            "ws-message": {"content": "{}"},
        },
    }]});
    assert_eq!(serde_json::to_value(&request).unwrap(), want);
    assert_eq!(
        serde_json::from_value::<PublishRequest>(want).unwrap(),
        request
    );

    let close = Item {
        channel: "room-x".into(),
        formats: Formats {
            http_stream: Some(HttpStream {
                content: None,
                action: Some(Action::Close),
            }),
            ws_message: Some(WsMessage {
                content: None,
                action: Some(Action::Close),
            }),
            http_response: Some(HttpResponse {
                code: Some(200),
                headers: Some([("Content-Type".to_owned(), "text/plain".to_owned())].into()),
                body: Some("bye\n".into()),
                action: Some(Action::Send),
            }),
        },
        ..Item::default()
    };
    assert_eq!(
        serde_json::to_value(&close).unwrap(),
        json!({
            "channel": "room-x",
            "formats": {
                "http-stream": {"action": "close"},
                "ws-message": {"action": "close"},
                "http-response": {
                    "code": 200,
                    "headers": {"Content-Type": "text/plain"},
                    "body": "bye\n",
                    "action": "send",
                },
            },
        })
    );
    assert_eq!(serde_json::to_value(Action::Hint).unwrap(), json!("hint"));
    assert_eq!(
        serde_json::to_value(Item::default()).unwrap(),
        json!({"channel": "", "formats": {}})
    );
    assert_eq!(MAX_ITEM_BYTES, 65_536);
}

#[test]
fn item_for_event() {
    let event = ChatEvent::Entry(message());
    let item = Item::for_event(
        room_channel("lobby"),
        Some("42".into()),
        Some("41".into()),
        &event,
    );
    assert_eq!(item.channel, "room-lobby");
    let formats = &item.formats;
    assert_eq!(
        formats.http_stream.as_ref().and_then(|s| s.content.clone()),
        Some(event.to_sse().encode())
    );
    assert_eq!(
        formats.ws_message.as_ref().and_then(|w| w.content.clone()),
        Some(event.to_json())
    );
    assert_eq!(formats.http_response, None);
}

#[test]
fn session_claims_shape() {
    assert_eq!(COOKIE_NAME, "session");
    let claims = SessionClaims {
        sub: Uuid::nil(),
        name: "ada".into(),
        sid: Uuid::from_u128(7),
        iat: 1,
        exp: 2,
    };
    assert_eq!(
        serde_json::to_value(&claims).unwrap(),
        json!({
            "sub": "00000000-0000-0000-0000-000000000000",
            "name": "ada",
            "sid": "00000000-0000-0000-0000-000000000007",
            "iat": 1,
            "exp": 2,
        })
    );
}

#[test]
fn the_session_token_comes_from_the_cookie_then_the_bearer_header() {
    use shared::session::{CredentialsError, token_from};
    assert_eq!(
        token_from(Some("a=1; session=abc; b=2"), None),
        Ok(Some("abc"))
    );
    assert_eq!(
        token_from(Some("__Host-session=abc"), None),
        Ok(Some("abc"))
    );
    assert_eq!(token_from(Some("a=1"), Some("Bearer xyz")), Ok(Some("xyz")));
    assert_eq!(token_from(None, Some("bearer  xyz ")), Ok(Some("xyz")));
    assert_eq!(
        token_from(Some("session=abc"), Some("Bearer abc")),
        Ok(Some("abc"))
    );
    assert_eq!(token_from(Some("session="), Some("Basic xyz")), Ok(None));
    assert_eq!(token_from(None, Some("Bearer")), Ok(None));
    assert_eq!(token_from(None, None), Ok(None));
    assert_eq!(
        token_from(Some("session=abc; b=2"), Some("Bearer xyz")),
        Err(CredentialsError::Conflicting),
        "a cookie and a different Bearer token are refused, not resolved"
    );
}

#[test]
fn amendments_carry_the_new_state_and_apply_in_place() {
    let edited = message().edited("hello again", datetime!(2024-05-06 08:00:00 UTC));
    let amendment = edited.amendment(50);
    assert_eq!(
        serde_json::to_value(&amendment).unwrap(),
        json!({
            "room": "lobby", "seq": 50, "id": "01234567-89ab-cdef-0123-456789abcdef",
            "author": "ada", "body": "hello again", "sent_at": "2024-05-06T07:08:09.5Z",
            "client_id": "c-1", "edited_at": "2024-05-06T08:00:00Z", "amends": 42,
        })
    );
    assert_eq!(amendment.clone().change(), Change::Amend(edited.clone()));
    assert_eq!(message().change(), Change::New(message()));
    let tombstone = edited.deleted();
    assert!(tombstone.deleted && tombstone.body.is_empty());
    assert_eq!(
        serde_json::to_value(&tombstone).unwrap()["deleted"],
        json!(true),
        "a tombstone says so"
    );
}

#[test]
fn signals_have_no_id_and_round_trip_on_every_transport() {
    let typing = ChatEvent::Signal(RoomSignal::Typing { user: "ada".into() });
    assert_eq!(
        value(&typing.to_json()),
        json!({"type": "typing", "user": "ada"})
    );
    assert_eq!(ChatEvent::from_json(&typing.to_json()).unwrap(), typing);
    let sse = typing.to_sse();
    assert_eq!(
        (sse.id.as_deref(), sse.event.as_deref(), sse.data.as_str()),
        (None, Some("typing"), r#"{"user":"ada"}"#)
    );
    assert_eq!(ChatEvent::from_sse(&sse).unwrap(), typing);
    // Every signal's SSE name is one the browser listens for.
    for signal in [
        RoomSignal::Joined { user: "a".into() },
        RoomSignal::Left { user: "a".into() },
        RoomSignal::Typing { user: "a".into() },
    ] {
        let name = ChatEvent::Signal(signal).to_sse().event.unwrap();
        assert!(Message::SIGNALS.contains(&name.as_str()), "{name}");
    }
    // A long-poll held on the signals channel is answered with the signal and no entries.
    let page = Page::<Message>::signal(RoomSignal::Left { user: "ada".into() });
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(json, json!({"signals": [{"type": "left", "user": "ada"}]}));
    assert_eq!(serde_json::from_value::<Page<Message>>(json).unwrap(), page);
    assert!(
        DashboardEvent::from_json(r#"{"type":"typing","user":"ada"}"#).is_err(),
        "a dashboard has no signals"
    );
}
