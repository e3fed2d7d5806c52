//! Hostile input, through the edge and straight at the origin: each case with the status and
//! error code it must get, printed as a table. Afterwards the database holds exactly what the
//! valid requests wrote.

use std::fmt::Write as _;

use anyhow::ensure;
use e2e::client::Client;
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::Method;
use serde_json::{Value, json};

on_both_databases!(hostile_requests_get_clear_errors_and_write_nothing);

/// Where a case is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The edge in Viceroy, as users reach the app.
    Edge,
    /// Pushpin's client port: past the edge, as if it had been bypassed.
    Pushpin,
    /// The origin itself, bypassing the proxy too.
    Origin,
}

/// One request and what it must get.
struct Case {
    name: &'static str,
    via: Via,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, Vec<u8>)>,
    /// Whose session it carries (by default alice's).
    token: Token,
    status: u16,
    /// The contract's error code (`""`: the HTTP layer answers before any route, no body).
    code: &'static str,
}

#[derive(Clone, Copy)]
enum Token {
    Alice,
    Bob,
    None,
}

fn case(name: &'static str, via: Via, method: Method, path: &str) -> Case {
    Case {
        name,
        via,
        method,
        path: path.to_owned(),
        headers: Vec::new(),
        body: None,
        token: Token::Alice,
        status: 0,
        code: "",
    }
}

impl Case {
    fn json(mut self, body: Value) -> Case {
        self.body = Some(("application/json", body.to_string().into_bytes()));
        self
    }
    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some((content_type, body.into()));
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Case {
        self.headers.push((name, value.into()));
        self
    }
    fn token(mut self, token: Token) -> Case {
        self.token = token;
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Case {
        self.status = status;
        self.code = code;
        self
    }
}

async fn hostile_requests_get_clear_errors_and_write_nothing(db: Db) -> anyhow::Result<()> {
    let options = StackOptions {
        edge: true,
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    // What the valid requests write: two users, two rooms, one message.
    let alice = Client::signed_up(stack.front_url(), "alice").await?;
    let bob = Client::signed_up(stack.front_url(), "bob").await?;
    alice.create_room("lobby", false).await?;
    alice.create_room("secret", true).await?;
    alice.post("lobby", "the one valid message").await?;

    let cases = cases(&stack, alice.token().unwrap_or_default())?;
    ensure!(cases.len() >= 40, "{} cases", cases.len());
    let mut table =
        String::from("| case | via | status | code | |\n| --- | --- | ---: | --- | --- |\n");
    let mut failures = 0;
    for case in &cases {
        let (status, code) = send(&stack, &alice, &bob, case).await?;
        let ok = status == case.status && code == case.code;
        failures += usize::from(!ok);
        let verdict = if ok {
            "ok".to_owned()
        } else {
            format!("expected {} {}", case.status, case.code)
        };
        writeln!(
            table,
            "| {} | {:?} | {status} | {code} | {verdict} |",
            case.name, case.via
        )?;
    }
    println!("{table}");
    ensure!(
        failures == 0,
        "{failures} of {} cases failed:\n{table}",
        cases.len()
    );

    // Nothing the hostile requests did was written.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&stack.database_url).await?;
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&db)
                .await?;
            anyhow::Ok(n)
        }
    };
    ensure!(count("users").await? == 2, "users");
    ensure!(count("rooms").await? == 2, "rooms");
    ensure!(
        count("room_members").await? == 2,
        "members: each room's owner"
    );
    ensure!(count("entries").await? == 1, "messages");
    let payload: String = sqlx::query_scalar("SELECT payload FROM entries")
        .fetch_one(&db)
        .await?;
    let message: shared::chat::Message = serde_json::from_str(&payload)?;
    ensure!(message.body == "the one valid message");
    db.close().await;
    Ok(())
}

/// Sends a case; returns the status and the error code of its body (if any).
async fn send(
    stack: &Stack,
    alice: &Client,
    bob: &Client,
    case: &Case,
) -> anyhow::Result<(u16, String)> {
    let base = match case.via {
        Via::Edge => stack.front_url(),
        Via::Pushpin => stack.pushpin.client_url(),
        Via::Origin => format!("http://{}", stack.origin_addr),
    };
    let client = match case.token {
        Token::Alice => alice.with_base(base),
        Token::Bob => bob.with_base(base),
        Token::None => Client::new(base),
    };
    let mut request = client.request(case.method.clone(), &case.path);
    for (name, value) in &case.headers {
        request = request.header(*name, value);
    }
    if let Some((content_type, body)) = &case.body {
        request = request
            .header("content-type", *content_type)
            .body(body.clone());
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
        .or_else(|| {
            // WebSocket-over-HTTP answers carry their errors as events.
            let event = text.split("{\"type\":\"error\"").nth(1)?;
            let code = event.split("\"code\":\"").nth(1)?;
            Some(code.split('"').next()?.to_owned())
        })
        .unwrap_or_default();
    Ok((status, code))
}

fn cases(stack: &Stack, alice_token: &str) -> anyhow::Result<Vec<Case>> {
    use Method as M;
    use Via::{Edge, Origin, Pushpin};
    let sig = stack.grip_sig()?;
    let payload = alice_token.split('.').nth(1).unwrap_or_default().to_owned();
    let forged = format!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{payload}.c2lnbmF0dXJl");
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let expired = expired_token(stack, alice_token)?;
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let credentials = |name: &str, password: &str| json!({"name": name, "password": password});
    let post = |body: &str, client_id: &str| json!({"body": body, "client_id": client_id});
    let mut invalid_utf8 = br#"{"name":"al"#.to_vec();
    invalid_utf8.extend([0xff, 0xfe]);
    invalid_utf8.extend(br#"ce","password":"correct horse"}"#);
    Ok(vec![
        // Bodies.
        case("register: not JSON", Edge, M::POST, "/api/auth/register")
            .raw("application/json", "{name:")
            .token(Token::None)
            .expect(400, "bad_json"),
        case(
            "register: not declared as JSON",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .raw(
            "text/plain",
            credentials("carol", "correct horse").to_string(),
        )
        .token(Token::None)
        .expect(415, "not_json"),
        case(
            "register: a field missing",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(json!({"name": "carol"}))
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: an unknown field",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(json!({"name": "carol", "password": "correct horse", "admin": true}))
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: a name with a space",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(credentials("car ol", "correct horse"))
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: a look-alike name (Cyrillic a)",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(credentials("\u{430}lice", "correct horse"))
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: a name of 33 characters",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(credentials(&"c".repeat(33), "correct horse"))
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: a password too short",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(credentials("carol", "short"))
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: a taken name in other case",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(credentials("ALICE", "correct horse"))
        .token(Token::None)
        .expect(409, "conflict"),
        case(
            "register: invalid UTF-8",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .raw("application/json", invalid_utf8)
        .token(Token::None)
        .expect(400, "bad_json"),
        case(
            "register: JSON nested 10,000 deep",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .raw(
            "application/json",
            format!(r#"{{"name":{deep},"password":"x"}}"#),
        )
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: JSON nested 10,000 deep, alone",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .raw("application/json", deep.clone())
        .token(Token::None)
        .expect(422, "invalid"),
        case(
            "register: a 100 KB body",
            Edge,
            M::POST,
            "/api/auth/register",
        )
        .json(credentials(&"c".repeat(100_000), "correct horse"))
        .token(Token::None)
        .expect(413, "too_large"),
        case("login: a wrong password", Edge, M::POST, "/api/auth/login")
            .json(credentials("bob", "not his password"))
            .token(Token::None)
            .expect(401, "bad_credentials"),
        case("login: an unknown name", Edge, M::POST, "/api/auth/login")
            .json(credentials("nobody", "correct horse"))
            .token(Token::None)
            .expect(401, "bad_credentials"),
        // Sessions.
        case("no session", Edge, M::GET, "/api/me")
            .token(Token::None)
            .expect(401, "unauthenticated"),
        case("a token signed with another key", Edge, M::GET, "/api/me")
            .token(Token::None)
            .header("authorization", format!("Bearer {forged}"))
            .expect(401, "unauthenticated"),
        case("an expired token", Edge, M::GET, "/api/me")
            .token(Token::None)
            .header("authorization", format!("Bearer {expired}"))
            .expect(401, "unauthenticated"),
        case("an alg:none token", Edge, M::GET, "/api/me")
            .token(Token::None)
            .header("authorization", format!("Bearer {unsigned}"))
            .expect(401, "unauthenticated"),
        case("a Bearer header that is no token", Edge, M::GET, "/api/me")
            .token(Token::None)
            .header("authorization", "Bearer ../../etc/passwd")
            .expect(401, "unauthenticated"),
        case("a cookie and another Bearer token", Edge, M::GET, "/api/me")
            .header("cookie", format!("session={unsigned}"))
            .expect(401, "unauthenticated"),
        case(
            "stream: a forged token, at the edge",
            Edge,
            M::GET,
            "/api/rooms/lobby/events",
        )
        .token(Token::None)
        .header("authorization", format!("Bearer {forged}"))
        .expect(401, "unauthenticated"),
        case(
            "stream: an alg:none token, at the edge",
            Edge,
            M::GET,
            "/api/rooms/lobby/ws",
        )
        .token(Token::None)
        .header("authorization", format!("Bearer {unsigned}"))
        .expect(401, "unauthenticated"),
        // Slugs and paths.
        case(
            "a slug with ../",
            Edge,
            M::GET,
            "/api/rooms/..%2Fetc/messages",
        )
        .expect(422, "invalid"),
        case(
            "a slug with %00",
            Edge,
            M::GET,
            "/api/rooms/lob%00by/messages",
        )
        .expect(422, "invalid"),
        case(
            "a look-alike slug (Cyrillic o)",
            Edge,
            M::GET,
            "/api/rooms/l%D0%BEbby",
        )
        .expect(422, "invalid"),
        case("a slug in capitals", Edge, M::GET, "/api/rooms/LOBBY").expect(422, "invalid"),
        case(
            "creating a room with a look-alike slug",
            Edge,
            M::POST,
            "/api/rooms",
        )
        .json(json!({"slug": "l\u{43e}bby", "title": "Lobby"}))
        .expect(422, "invalid"),
        case("a title with a newline", Edge, M::POST, "/api/rooms")
            .json(json!({"slug": "fine", "title": "two\nlines"}))
            .expect(422, "invalid"),
        case("an unknown API path", Edge, M::GET, "/api/nothing/here").expect(404, "no_route"),
        case("a wrong method", Edge, M::PUT, "/api/me").expect(405, "method_not_allowed"),
        // Messages.
        case("an empty body", Edge, M::POST, "/api/rooms/lobby/messages")
            .json(post("  \n ", "a"))
            .expect(422, "invalid"),
        case(
            "a body of 4,001 characters",
            Edge,
            M::POST,
            "/api/rooms/lobby/messages",
        )
        .json(post(&"b".repeat(4001), "b"))
        .expect(422, "invalid"),
        case(
            "a body with NUL",
            Edge,
            M::POST,
            "/api/rooms/lobby/messages",
        )
        .json(post("nul\u{0}", "c"))
        .expect(422, "invalid"),
        case(
            "a body with a terminal escape",
            Edge,
            M::POST,
            "/api/rooms/lobby/messages",
        )
        .json(post("\u{1b}[2Jcleared", "d"))
        .expect(422, "invalid"),
        case(
            "a client_id with spaces",
            Edge,
            M::POST,
            "/api/rooms/lobby/messages",
        )
        .json(post("hi", "not an id"))
        .expect(422, "invalid"),
        case(
            "history: limit=0",
            Edge,
            M::GET,
            "/api/rooms/lobby/messages?limit=0",
        )
        .expect(422, "invalid"),
        case(
            "history: limit=abc",
            Edge,
            M::GET,
            "/api/rooms/lobby/messages?limit=abc",
        )
        .expect(400, "bad_query"),
        case(
            "history: before=-1",
            Edge,
            M::GET,
            "/api/rooms/lobby/messages?before=-1",
        )
        .expect(400, "bad_query"),
        // Private rooms.
        case(
            "a stranger reads a private room",
            Edge,
            M::GET,
            "/api/rooms/secret/messages",
        )
        .token(Token::Bob)
        .expect(404, "not_found"),
        case(
            "a stranger posts in a private room",
            Edge,
            M::POST,
            "/api/rooms/secret/messages",
        )
        .token(Token::Bob)
        .json(post("let me in", "e"))
        .expect(404, "not_found"),
        case(
            "a stranger streams a private room",
            Edge,
            M::GET,
            "/api/rooms/secret/events",
        )
        .token(Token::Bob)
        .expect(404, "not_found"),
        case(
            "a stranger adds himself",
            Edge,
            M::POST,
            "/api/rooms/secret/members",
        )
        .token(Token::Bob)
        .json(json!({"name": "bob"}))
        .expect(404, "not_found"),
        // Cursors.
        case(
            "Last-Event-ID: letters",
            Edge,
            M::GET,
            "/api/rooms/lobby/events",
        )
        .header("last-event-id", "seven")
        .expect(400, "bad_cursor"),
        case(
            "Last-Event-ID: negative",
            Edge,
            M::GET,
            "/api/rooms/lobby/events",
        )
        .header("last-event-id", "-1")
        .expect(400, "bad_cursor"),
        case(
            "Last-Event-ID: past u64",
            Edge,
            M::GET,
            "/api/rooms/lobby/events",
        )
        .header("last-event-id", "99999999999999999999999")
        .expect(400, "bad_cursor"),
        case(
            "long-poll after=1e3",
            Edge,
            M::GET,
            "/api/rooms/lobby/poll?after=1e3",
        )
        .expect(400, "bad_cursor"),
        // The proxy's signature.
        case(
            "a stream without Grip-Sig",
            Origin,
            M::GET,
            "/api/rooms/lobby/events",
        )
        .expect(403, "not_via_grip"),
        case(
            "a forged Grip-Sig",
            Origin,
            M::GET,
            "/api/rooms/lobby/events",
        )
        .header("grip-sig", forged.clone())
        .expect(403, "not_via_grip"),
        case(
            "an alg:none Grip-Sig",
            Origin,
            M::GET,
            "/api/rooms/lobby/poll",
        )
        .header("grip-sig", unsigned.clone())
        .expect(403, "not_via_grip"),
        case(
            "a next link with a forged capability",
            Origin,
            M::GET,
            "/api/rooms/lobby/events/forged?after=0",
        )
        .token(Token::None)
        .header("grip-sig", sig.clone())
        .expect(403, "bad_capability"),
        case(
            "a capability in the query, where links no longer carry it",
            Origin,
            M::GET,
            "/api/rooms/lobby/events?after=0&cap=forged",
        )
        .token(Token::None)
        .header("grip-sig", sig.clone())
        .expect(401, "unauthenticated"),
        // WebSocket-over-HTTP.
        case(
            "WebSocket events that do not parse",
            Origin,
            M::POST,
            "/api/rooms/lobby/ws",
        )
        .header("grip-sig", sig.clone())
        .raw("application/websocket-events", "TEXT zz\r\nhello\r\n")
        .expect(400, "bad_websocket_events"),
        case(
            "a WebSocket command that is not JSON",
            Origin,
            M::POST,
            "/api/rooms/lobby/ws",
        )
        .header("grip-sig", sig.clone())
        .raw(WS, ws_text("hello"))
        .expect(200, "bad_json"),
        case(
            "a WebSocket command nobody knows",
            Origin,
            M::POST,
            "/api/rooms/lobby/ws",
        )
        .header("grip-sig", sig.clone())
        .raw(WS, ws_text(r#"{"type":"drop","table":"messages"}"#))
        .expect(200, "bad_json"),
        case(
            "a WebSocket send with NUL",
            Origin,
            M::POST,
            "/api/rooms/lobby/ws",
        )
        .header("grip-sig", sig.clone())
        .raw(
            WS,
            ws_text(r#"{"type":"send","body":"\u0000","client_id":"w"}"#),
        )
        .expect(200, "invalid"),
        case(
            "a WebSocket resume from before time",
            Origin,
            M::POST,
            "/api/rooms/lobby/ws",
        )
        .header("grip-sig", sig)
        .raw(WS, ws_text(r#"{"type":"resume","after":-1}"#))
        .expect(200, "bad_json"),
        // Other sites.
        case(
            "a write from another site, at the edge",
            Edge,
            M::POST,
            "/api/rooms",
        )
        .header("origin", "https://evil.example")
        .json(json!({"slug": "evil", "title": "Evil"}))
        .expect(403, "bad_origin"),
        case(
            "a write from another site, past the edge",
            Pushpin,
            M::POST,
            "/api/rooms",
        )
        .header("origin", "https://evil.example")
        .json(json!({"slug": "evil", "title": "Evil"}))
        .expect(403, "bad_origin"),
        // The HTTP layer.
        case("a 200 KB header", Origin, M::GET, "/api/me")
            .header("x-padding", "p".repeat(200_000))
            .expect(431, ""),
    ])
}

const WS: &str = shared::wsoh::CONTENT_TYPE;

/// A WebSocket-over-HTTP body of one TEXT frame.
fn ws_text(text: &str) -> Vec<u8> {
    shared::wsoh::encode(&[shared::wsoh::WsEvent::Text(text.to_owned())])
}

/// Alice's token with its expiry in the past, signed with the right key.
fn expired_token(stack: &Stack, token: &str) -> anyhow::Result<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap_or_default();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    let mut claims: Value = serde_json::from_slice(&decoded)?;
    claims["exp"] = json!(1_000_000_000);
    claims["iat"] = json!(999_000_000);
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(stack.session_secret.as_bytes()),
    )?)
}
