//! Validation edge cases and the JSON shapes of REST bodies.

use serde_json::json;
use shared::api::*;

#[test]
fn slug() {
    assert!(validate_slug("a").is_ok());
    assert!(validate_slug("0-general").is_ok());
    assert!(validate_slug(&"a".repeat(64)).is_ok());
    assert!(validate_slug(&"a".repeat(65)).is_err());
    for bad in ["", "-a", "A", "aB", "a_b", "a b", "caf\u{e9}", "a\n"] {
        assert!(validate_slug(bad).is_err(), "{bad:?}");
    }
    let error = validate_slug("-a").unwrap_err();
    assert_eq!(error.field, "slug");
    assert_eq!(
        error.to_string(),
        "slug: must match ^[a-z0-9][a-z0-9-]{0,63}$"
    );
}

#[test]
fn user_name() {
    assert!(validate_user_name("a").is_ok());
    assert!(validate_user_name("Ada_Lovelace.1-x").is_ok());
    assert!(validate_user_name(&"a".repeat(32)).is_ok());
    assert!(validate_user_name(&"a".repeat(33)).is_err());
    for bad in ["", "_a", ".a", "-a", "a b", "\u{e9}a", "a\u{e9}", "a@b"] {
        assert!(validate_user_name(bad).is_err(), "{bad:?}");
    }
    assert_eq!(validate_user_name("").unwrap_err().field, "name");
}

#[test]
fn password() {
    assert!(validate_password("12345678").is_ok());
    assert!(validate_password("1234567").is_err());
    assert!(validate_password(&"x".repeat(128)).is_ok());
    assert!(validate_password(&"x".repeat(129)).is_err());
    // Characters, not bytes: eight two-byte characters are enough.
    assert!(validate_password(&"\u{e9}".repeat(8)).is_ok());
    assert!(validate_password(&"\u{e9}".repeat(4)).is_err());
}

#[test]
fn title() {
    assert!(validate_title("General").is_ok());
    assert!(validate_title(&"t".repeat(100)).is_ok());
    assert!(validate_title(&format!("  {}  ", "t".repeat(100))).is_ok());
    assert!(validate_title(&"t".repeat(101)).is_err());
    assert!(validate_title(&"\u{e9}".repeat(100)).is_ok());
    for bad in ["", "   ", "a\nb", "a\tb", "\u{7f}", "a\u{0}"] {
        assert!(validate_title(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn body() {
    assert!(validate_body("hi").is_ok());
    assert!(validate_body("line 1\nline 2").is_ok());
    assert!(validate_body(&"b".repeat(MAX_BODY_CHARS)).is_ok());
    assert!(validate_body(&"b".repeat(MAX_BODY_CHARS + 1)).is_err());
    // 4000 three-byte characters are 12000 bytes and still fine.
    let wide = "\u{20ac}".repeat(4000);
    assert_eq!(wide.len(), 12_000);
    assert!(validate_body(&wide).is_ok());
    assert!(validate_body(&"\u{20ac}".repeat(4001)).is_err());
    for bad in ["", " ", "\n\t "] {
        assert_eq!(validate_body(bad).unwrap_err().field, "body", "{bad:?}");
    }
    // Tabs and newlines are text; NUL (which Postgres cannot store), other C0 controls, DEL and
    // C1 controls are not. Right-to-left marks and overrides are text too: the app isolates them.
    assert!(validate_body("a\tb\nc").is_ok());
    assert!(validate_body("\u{202e}reversed\u{202c} and \u{2067}isolated\u{2069}").is_ok());
    for bad in [
        "a\0b",
        "a\rb",
        "\u{1b}[31mred",
        "bell\u{7}",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        assert!(validate_body(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn names_are_one_account_whatever_their_case() {
    assert_eq!(name_key("Ann"), name_key("ann"));
    assert_eq!(name_key("ANN.b-1"), "ann.b-1");
    assert_ne!(name_key("ann"), name_key("anna"));
}

#[test]
fn client_id() {
    assert!(validate_client_id("a").is_ok());
    assert!(validate_client_id("AZaz09_-").is_ok());
    assert!(validate_client_id(&"c".repeat(64)).is_ok());
    assert!(validate_client_id(&"c".repeat(65)).is_err());
    for bad in ["", "a b", "a.b", "\u{e9}"] {
        assert_eq!(
            validate_client_id(bad).unwrap_err().field,
            "client_id",
            "{bad:?}"
        );
    }
}

#[test]
fn request_validate_methods() {
    let creds = Credentials {
        name: "ada".into(),
        password: "short".into(),
    };
    assert_eq!(creds.validate().unwrap_err().field, "password");
    // Debug must never show the password.
    assert!(!format!("{creds:?}").contains("short"));

    let room = CreateRoom {
        slug: "ok".into(),
        title: " ".into(),
        private: false,
    };
    assert_eq!(room.validate().unwrap_err().field, "title");

    let post = PostMessage {
        body: "hi".into(),
        client_id: "c 1".into(),
    };
    assert_eq!(post.validate().unwrap_err().field, "client_id");

    assert!(AddMember { name: "bob".into() }.validate().is_ok());
}

#[test]
fn request_bodies_reject_unknown_fields() {
    let room: CreateRoom = serde_json::from_value(json!({"slug": "a", "title": "A"})).unwrap();
    assert!(!room.private, "private defaults to false");
    assert!(serde_json::from_value::<CreateRoom>(json!({"slug": "a", "titel": "A"})).is_err());
    assert!(
        serde_json::from_value::<Credentials>(json!({"name": "a", "password": "b", "admin": true}))
            .is_err()
    );
    assert!(
        serde_json::from_value::<PostMessage>(json!({"body": "a", "client_id": "b", "x": 1}))
            .is_err()
    );
    assert!(serde_json::from_value::<AddMember>(json!({"name": "a", "role": "x"})).is_err());
}

#[test]
fn error_body_shape() {
    assert_eq!(
        serde_json::to_value(ErrorBody::new(ErrorCode::NotFound, "no such room")).unwrap(),
        json!({"error": {"code": "not_found", "message": "no such room"}})
    );
    let from_invalid = ErrorBody::from(validate_slug("").unwrap_err());
    assert_eq!(from_invalid.error.code, ErrorCode::Invalid);
    assert!(from_invalid.error.message.starts_with("slug: "));
    // A code this build does not know still reads, as `unknown`.
    let newer: ErrorBody =
        serde_json::from_value(json!({"error": {"code": "teapot", "message": "…"}})).unwrap();
    assert_eq!(newer.error.code, ErrorCode::Unknown);
    // Every code reads back as itself.
    for code in [
        ErrorCode::BadWebsocketEvents,
        ErrorCode::NotViaGrip,
        ErrorCode::BadGateway,
    ] {
        let json = serde_json::to_value(code).unwrap();
        assert_eq!(json, json!(code.as_str()));
        assert_eq!(serde_json::from_value::<ErrorCode>(json).unwrap(), code);
    }
}

#[test]
fn response_shapes() {
    let user = User {
        id: uuid::Uuid::nil(),
        name: "ada".into(),
    };
    assert_eq!(
        serde_json::to_value(TokenResponse {
            user: user.clone(),
            token: "t".into()
        })
        .unwrap(),
        json!({"user": {"id": "00000000-0000-0000-0000-000000000000", "name": "ada"}, "token": "t"})
    );
    assert_eq!(
        serde_json::to_value(RoomsResponse {
            rooms: vec![Room {
                slug: "lobby".into(),
                title: "Lobby".into(),
                private: false,
                unread: Some(Unread {
                    count: 3,
                    more: false
                }),
            }],
            next: None,
        })
        .unwrap(),
        json!({"rooms": [{"slug": "lobby", "title": "Lobby", "private": false, "unread": {"count": 3}}]})
    );
    assert_eq!(
        serde_json::to_value(RoomsResponse {
            rooms: vec![],
            next: Some("lobby".into()),
        })
        .unwrap(),
        json!({"rooms": [], "next": "lobby"})
    );
}

#[test]
fn search_words_are_runs_of_letters_and_digits() {
    assert_eq!(
        search_words("Grüße, WORLD! world 42x").unwrap(),
        ["grüße", "world", "42x"]
    );
    assert_eq!(
        words("don't—stop").collect::<Vec<_>>(),
        ["don", "t", "stop"]
    );
    assert_eq!(search_words(" ,.!? ").unwrap_err().field, "q");
    assert_eq!(search_words("").unwrap_err().field, "q");
    let nine = "a b c d e f g h i";
    assert!(search_words(nine).is_err());
    assert!(search_words(&"x".repeat(MAX_SEARCH_CHARS + 1)).is_err());
    assert_eq!(
        search_words(&"x".repeat(MAX_SEARCH_CHARS)).unwrap().len(),
        1
    );
}
