//! The JSON API's answers to good and bad input, through Pushpin, on both databases: every
//! mistake gets a specific 4xx with the contract's error body, and nothing is written.

use anyhow::ensure;
use e2e::client::{Client, expect_status};
use e2e::{Db, Stack, on_both_databases};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use shared::api::{MessageResponse, PostMessage, RoomsResponse};
use shared::chat::{ChatEvent, Message};
use shared::event::Page;
use shared::event::ServerEvent;

on_both_databases!(
    registration_and_login_validate_everything,
    rooms_validate_and_stay_private,
    posting_is_validated_and_idempotent,
    history_pages_backwards,
    stream_paths_demand_a_valid_grip_signature,
    unknown_paths_and_methods_answer_json,
    websocket_over_http_answers_every_event,
    the_origin_shuts_down_gracefully,
);

/// Asserts the status and the contract's error shape; returns the error code.
async fn error(response: Response, status: StatusCode) -> anyhow::Result<String> {
    ensure!(
        response.status() == status,
        "expected {status}, got {}",
        response.status()
    );
    let body: Value = response.json().await?;
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(!code.is_empty(), "no error.code in {body}");
    ensure!(
        body["error"]["message"].is_string(),
        "no error.message in {body}"
    );
    Ok(code)
}

async fn registration_and_login_validate_everything(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let anon = stack.client();
    let register = |body: String, content_type: &'static str| {
        anon.request(Method::POST, "/api/auth/register")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let json = "application/json";
    let cases = [
        (
            "{\"name\":\"ann\"",
            json,
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "{\"name\":\"ann\"}",
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "{\"name\":\"ann\",\"password\":\"short\"}",
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "{\"name\":\"a n\",\"password\":\"long enough\"}",
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "{\"name\":\"ann\",\"password\":\"long enough\",\"admin\":true}",
            json,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            "{\"name\":\"ann\",\"password\":\"long enough\"}",
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_json",
        ),
    ];
    for (body, content_type, status, code) in cases {
        let got = error(register(body.into(), content_type).await?, status).await?;
        ensure!(got == code, "{body}: expected {code}, got {got}");
    }
    let huge = json!({"name": "ann", "password": "x".repeat(100_000)}).to_string();
    ensure!(
        error(register(huge, json).await?, StatusCode::PAYLOAD_TOO_LARGE).await? == "too_large"
    );

    // None of that created "ann".
    let login = |name: &str, password: &str| {
        anon.request(Method::POST, "/api/auth/login")
            .json(&json!({"name": name, "password": password}))
            .send()
    };
    ensure!(
        error(login("ann", "long enough").await?, StatusCode::UNAUTHORIZED).await?
            == "bad_credentials"
    );

    let ann = Client::signed_up(stack.pushpin.client_url(), "ann").await?;
    let again = register(
        json!({"name": "ann", "password": "another one"}).to_string(),
        json,
    )
    .await?;
    ensure!(error(again, StatusCode::CONFLICT).await? == "conflict");
    ensure!(
        error(
            login("ann", "wrong password").await?,
            StatusCode::UNAUTHORIZED
        )
        .await?
            == "bad_credentials"
    );

    let ok = expect_status(login("ann", "correct horse").await?, StatusCode::OK).await?;
    let cookie = ok.headers().get("set-cookie").unwrap().to_str()?.to_owned();
    ensure!(
        cookie.starts_with("session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );

    let me = ann.request(Method::GET, "/api/me").send().await?;
    let me: Value = expect_status(me, StatusCode::OK).await?.json().await?;
    ensure!(me["user"]["name"] == "ann");
    // The cookie works as well as the Bearer token.
    let by_cookie = anon
        .request(Method::GET, "/api/me")
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await?;
    expect_status(by_cookie, StatusCode::OK).await?;

    ensure!(
        error(
            anon.request(Method::GET, "/api/me").send().await?,
            StatusCode::UNAUTHORIZED
        )
        .await?
            == "unauthenticated"
    );
    let forged = anon.with_token(Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."));
    ensure!(
        error(
            forged.request(Method::GET, "/api/me").send().await?,
            StatusCode::UNAUTHORIZED
        )
        .await?
            == "unauthenticated"
    );

    let logout = ann.request(Method::POST, "/api/auth/logout").send().await?;
    let logout = expect_status(logout, StatusCode::NO_CONTENT).await?;
    ensure!(
        logout
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()?
            .contains("Max-Age=0")
    );
    Ok(())
}

async fn rooms_validate_and_stay_private(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    let bob = Client::signed_up(stack.pushpin.client_url(), "bob").await?;
    let create = |client: &Client, body: Value| {
        client
            .request(Method::POST, "/api/rooms")
            .json(&body)
            .send()
    };
    for slug in ["Upper", "-dash", "", "sp ace", &"x".repeat(65)] {
        let r = create(&alice, json!({"slug": slug, "title": "t"})).await?;
        ensure!(
            error(r, StatusCode::UNPROCESSABLE_ENTITY).await? == "invalid",
            "slug {slug:?}"
        );
    }
    let r = create(&alice, json!({"slug": "ok", "title": ""})).await?;
    ensure!(
        error(r, StatusCode::UNPROCESSABLE_ENTITY).await? == "invalid",
        "empty title"
    );
    let r = stack
        .client()
        .request(Method::POST, "/api/rooms")
        .json(&json!({"slug": "anon", "title": "t"}))
        .send()
        .await?;
    ensure!(error(r, StatusCode::UNAUTHORIZED).await? == "unauthenticated");

    alice.create_room(&"x".repeat(64), false).await?;
    alice.create_room("open", false).await?;
    alice.create_room("hidden", true).await?;
    let r = create(&bob, json!({"slug": "open", "title": "mine"})).await?;
    ensure!(error(r, StatusCode::CONFLICT).await? == "conflict");

    let list = |client: &Client| {
        let request = client.request(Method::GET, "/api/rooms").send();
        async move {
            let rooms: RoomsResponse = expect_status(request.await?, StatusCode::OK)
                .await?
                .json()
                .await?;
            anyhow::Ok(rooms.rooms.into_iter().map(|r| r.slug).collect::<Vec<_>>())
        }
    };
    ensure!(list(&alice).await?.contains(&"hidden".to_string()));
    ensure!(
        !list(&bob).await?.contains(&"hidden".to_string()),
        "bob does not see the private room"
    );
    ensure!(list(&bob).await?.contains(&"open".to_string()));

    let add = |client: &Client, slug: &str, name: &str| {
        client
            .request(Method::POST, &format!("/api/rooms/{slug}/members"))
            .json(&json!({"name": name}))
            .send()
    };
    // A stranger learns nothing of a private room, not even that it exists.
    ensure!(error(add(&bob, "hidden", "bob").await?, StatusCode::NOT_FOUND).await? == "not_found");
    ensure!(error(add(&alice, "open", "bob").await?, StatusCode::FORBIDDEN).await? == "forbidden");
    ensure!(
        error(
            add(&alice, "hidden", "nobody").await?,
            StatusCode::NOT_FOUND
        )
        .await?
            == "not_found"
    );
    ensure!(error(add(&alice, "nope", "bob").await?, StatusCode::NOT_FOUND).await? == "not_found");
    expect_status(add(&alice, "hidden", "bob").await?, StatusCode::NO_CONTENT).await?;
    expect_status(add(&alice, "hidden", "bob").await?, StatusCode::NO_CONTENT).await?;
    ensure!(
        list(&bob).await?.contains(&"hidden".to_string()),
        "a member sees it"
    );
    Ok(())
}

async fn posting_is_validated_and_idempotent(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    alice.create_room("lobby", false).await?;
    let post = |body: String, client_id: &str| {
        let post = PostMessage {
            body,
            client_id: client_id.to_owned(),
        };
        let alice = alice.clone();
        async move { alice.post_raw("lobby", &post).await }
    };

    let first = post("hi".into(), "k1").await?;
    let first: MessageResponse = expect_status(first, StatusCode::CREATED)
        .await?
        .json()
        .await?;
    let retry = post("hi".into(), "k1").await?;
    let retry: MessageResponse = expect_status(retry, StatusCode::OK).await?.json().await?;
    ensure!(
        retry.message == first.message,
        "a retried client_id returns the stored message"
    );

    let bad = [
        (String::new(), "k2", StatusCode::UNPROCESSABLE_ENTITY),
        ("   ".into(), "k2", StatusCode::UNPROCESSABLE_ENTITY),
        ("é".repeat(4001), "k2", StatusCode::UNPROCESSABLE_ENTITY),
        ("ok".into(), "", StatusCode::UNPROCESSABLE_ENTITY),
        ("ok".into(), "bad id!", StatusCode::UNPROCESSABLE_ENTITY),
        // 4,000 characters that each escape to six bytes, three times over: past Fanout's limit.
        ("\u{1}".repeat(4000), "k2", StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (body, client_id, status) in bad {
        let code = error(post(body.clone(), client_id).await?, status).await?;
        ensure!(["invalid", "too_large"].contains(&code.as_str()), "{code}");
    }
    let r = alice
        .post_raw(
            "nowhere",
            &PostMessage {
                body: "x".into(),
                client_id: "k3".into(),
            },
        )
        .await?;
    ensure!(error(r, StatusCode::NOT_FOUND).await? == "not_found");
    let r = alice
        .post_raw(
            "Bad_Slug",
            &PostMessage {
                body: "x".into(),
                client_id: "k3".into(),
            },
        )
        .await?;
    ensure!(error(r, StatusCode::UNPROCESSABLE_ENTITY).await? == "invalid");

    // "é" × 4000 is 8,000 bytes but 4,000 characters: allowed.
    let long = post("é".repeat(4000), "k4").await?;
    let long: MessageResponse = expect_status(long, StatusCode::CREATED)
        .await?
        .json()
        .await?;
    ensure!(
        long.message.seq == 2,
        "nothing in between was written: seq {}",
        long.message.seq
    );

    // All at once, so that they share group commits (`origin::channel::group`): eight sends of
    // one `client_id` and eight new posts. Each retry undoes only its own writes.
    let mut sends = Vec::new();
    for _ in 0..8 {
        sends.push(post("once".into(), "k5"));
    }
    for i in 0..8 {
        sends.push(post(format!("new {i}"), &format!("n{i}")));
    }
    let mut answers = futures_util::future::join_all(sends).await.into_iter();
    let mut once = Vec::new();
    for answer in answers.by_ref().take(8) {
        let answer = answer?;
        let status = answer.status();
        let posted: MessageResponse = answer.json().await?;
        once.push((status, posted.message));
    }
    for new in answers {
        expect_status(new?, StatusCode::CREATED).await?;
    }
    ensure!(
        once.iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count()
            == 1
            && once.iter().all(|(_, m)| *m == once[0].1),
        "one client_id, one message: {once:?}"
    );
    let history = alice.history("lobby").await?;
    let seqs: Vec<u64> = history.iter().map(|m| m.seq).collect();
    ensure!(
        seqs == (1..=11).collect::<Vec<_>>(),
        "2 before, 1 + 8 now, no gaps: {seqs:?}"
    );
    ensure!(
        history.iter().filter(|m| m.client_id == "k5").count() == 1,
        "stored once"
    );
    Ok(())
}

async fn history_pages_backwards(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    alice.create_room("lobby", false).await?;
    for i in 1..=7 {
        alice.post("lobby", &format!("m{i}")).await?;
    }
    let page = |query: &str| {
        let request = alice
            .request(Method::GET, &format!("/api/rooms/lobby/messages{query}"))
            .send();
        async move {
            let page: Page<Message> = expect_status(request.await?, StatusCode::OK)
                .await?
                .json()
                .await?;
            anyhow::Ok(page.entries.iter().map(|m| m.seq).collect::<Vec<_>>())
        }
    };
    ensure!(page("").await? == [1, 2, 3, 4, 5, 6, 7]);
    ensure!(page("?limit=3").await? == [5, 6, 7]);
    ensure!(page("?limit=3&before=5").await? == [2, 3, 4]);
    ensure!(page("?limit=3&before=2").await? == [1]);
    for query in ["?limit=0", "?limit=101"] {
        let r = alice
            .request(Method::GET, &format!("/api/rooms/lobby/messages{query}"))
            .send()
            .await?;
        ensure!(
            error(r, StatusCode::UNPROCESSABLE_ENTITY).await? == "invalid",
            "{query}"
        );
    }
    for query in ["?before=x", "?limit=-1", "?sort=asc"] {
        let r = alice
            .request(Method::GET, &format!("/api/rooms/lobby/messages{query}"))
            .send()
            .await?;
        ensure!(
            error(r, StatusCode::BAD_REQUEST).await? == "bad_query",
            "{query}"
        );
    }
    Ok(())
}

async fn stream_paths_demand_a_valid_grip_signature(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    alice.create_room("lobby", false).await?;
    // Straight to the origin, with a perfectly good session: no proxy, no hold.
    let direct = stack.direct_client().with_token(alice.token());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let sign = |key: &str, exp: u64| {
        jsonwebtoken::encode(
            &Header::default(),
            &json!({"iss": stack.pushpin.sig_iss(), "exp": exp}),
            &EncodingKey::from_secret(key.as_bytes()),
        )
    };
    let signatures = [
        None,
        Some("garbage".to_owned()),
        Some(sign("not the key", now + 60)?),
        Some(sign(stack.pushpin.sig_key(), now - 3600)?),
    ];
    for path in [
        "/api/rooms/lobby/events",
        "/api/rooms/lobby/poll?after=0",
        "/api/rooms/lobby/ws",
    ] {
        for sig in &signatures {
            let mut request = direct.request(Method::GET, path);
            if let Some(sig) = sig {
                request = request.header("grip-sig", sig);
            }
            let response = request.send().await?;
            ensure!(response.headers().get("grip-hold").is_none());
            ensure!(
                error(response, StatusCode::FORBIDDEN).await? == "not_via_grip",
                "{path} {sig:?}"
            );
        }
    }
    // The right key passes the check (and the request is then judged on its merits).
    let good = direct
        .request(Method::GET, "/api/rooms/lobby/events")
        .header("grip-sig", sign(stack.pushpin.sig_key(), now + 60)?)
        .send()
        .await?;
    ensure!(good.status() == StatusCode::OK);
    ensure!(
        good.headers()
            .get("grip-hold")
            .is_some_and(|v| v == "stream")
    );
    Ok(())
}

async fn unknown_paths_and_methods_answer_json(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let anon = stack.client();
    let r = anon
        .request(Method::GET, "/api/nothing-here")
        .send()
        .await?;
    ensure!(error(r, StatusCode::NOT_FOUND).await? == "no_route");
    let r = anon.request(Method::DELETE, "/api/rooms").send().await?;
    ensure!(error(r, StatusCode::METHOD_NOT_ALLOWED).await? == "method_not_allowed");
    let health = anon.request(Method::GET, "/healthz").send().await?;
    expect_status(health, StatusCode::OK).await?;
    Ok(())
}

/// With FRONTEND_DIR, the origin serves the browser app for every path the API does not own:
/// files by name (cached for good: their names carry a hash), the app's `index.html` for its
/// own routes (revalidated every time), and the API's JSON errors stay JSON.
#[tokio::test]
async fn the_origin_serves_the_browser_app_around_the_api() -> anyhow::Result<()> {
    use e2e::StackOptions;
    use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE};

    let dist = tempfile::tempdir()?;
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )?;
    std::fs::write(dist.path().join("app-1f2e3d.js"), "export default 1;")?;
    let options = StackOptions {
        frontend_dir: Some(dist.path().to_owned()),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(Db::Sqlite, options).await?;
    let anon = stack.client();
    let header = |r: &Response, name| {
        r.headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    for path in ["/", "/rooms/lobby"] {
        let r = expect_status(
            anon.request(Method::GET, path).send().await?,
            StatusCode::OK,
        )
        .await?;
        ensure!(header(&r, CONTENT_TYPE).starts_with("text/html"), "{path}");
        ensure!(header(&r, CACHE_CONTROL) == "no-cache", "{path}");
        ensure!(r.text().await?.contains("<title>app</title>"), "{path}");
    }
    let r = anon.request(Method::GET, "/app-1f2e3d.js").send().await?;
    let r = expect_status(r, StatusCode::OK).await?;
    ensure!(header(&r, CACHE_CONTROL).contains("immutable"));
    ensure!(r.text().await? == "export default 1;");
    let r = anon
        .request(Method::GET, "/api/nothing-here")
        .send()
        .await?;
    ensure!(error(r, StatusCode::NOT_FOUND).await? == "no_route");
    let r = anon.request(Method::POST, "/rooms/lobby").send().await?;
    ensure!(error(r, StatusCode::METHOD_NOT_ALLOWED).await? == "method_not_allowed");
    Ok(())
}

/// The WebSocket-over-HTTP exchange itself, as Pushpin would send it (signed with its key),
/// straight to the origin: every event type gets its answer.
async fn websocket_over_http_answers_every_event(db: Db) -> anyhow::Result<()> {
    use shared::wsoh::{self, CloseFrame, WsEvent};

    let stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    alice.create_room("lobby", false).await?;
    alice.post("lobby", "earlier").await?;
    let direct = stack.direct_client().with_token(alice.token());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let sig = jsonwebtoken::encode(
        &Header::default(),
        &json!({"iss": stack.pushpin.sig_iss(), "exp": now + 60}),
        &EncodingKey::from_secret(stack.pushpin.sig_key().as_bytes()),
    )?;
    let exchange = |events: Vec<u8>| {
        direct
            .request(Method::POST, "/api/rooms/lobby/ws?last_event_id=0")
            .header("grip-sig", &sig)
            .header("content-type", wsoh::CONTENT_TYPE)
            .header("connection-id", "test-connection")
            .body(events)
            .send()
    };
    let text = |event: &ChatEvent| WsEvent::Text(event.to_json());

    let open = exchange(wsoh::encode(&[WsEvent::Open])).await?;
    let open = expect_status(open, StatusCode::OK).await?;
    ensure!(open.headers()["sec-websocket-extensions"] == wsoh::GRIP_EXTENSION);
    let events = wsoh::decode(&open.bytes().await?)?;
    ensure!(events.len() == 6, "{events:?}");
    ensure!(events[0] == WsEvent::Open && events[1] == wsoh::subscribe("room-lobby"));
    // The session's channel, where signing out ends the socket.
    ensure!(
        matches!(&events[2], WsEvent::Text(t) if t.contains("session-")),
        "{events:?}"
    );
    // The room's signals (presence, typing), which are not part of its history.
    ensure!(
        events[3] == wsoh::subscribe(&shared::chat::signals_channel("lobby")),
        "{events:?}"
    );
    let WsEvent::Text(replayed) = &events[4] else {
        anyhow::bail!("{events:?}")
    };
    ensure!(
        replayed.contains("\"earlier\""),
        "replays after last_event_id"
    );
    ensure!(events[5] == text(&ServerEvent::Synced { last_seq: 1 }));

    let ping = exchange(wsoh::encode(&[WsEvent::Ping(b"abc".to_vec())])).await?;
    let ping = wsoh::decode(&expect_status(ping, StatusCode::OK).await?.bytes().await?)?;
    ensure!(ping == [WsEvent::Pong(b"abc".to_vec())]);

    let bad = exchange(wsoh::encode(&[
        WsEvent::Text("{\"type\":\"shout\"}".into()),
        WsEvent::Binary(vec![1, 2, 3]),
    ]))
    .await?;
    let bad = wsoh::decode(&expect_status(bad, StatusCode::OK).await?.bytes().await?)?;
    ensure!(bad.len() == 2, "one error event per bad frame: {bad:?}");
    ensure!(
        bad.iter()
            .all(|e| matches!(e, WsEvent::Text(t) if t.contains("\"error\"")))
    );

    let close = CloseFrame {
        code: 1000,
        reason: "bye".into(),
    };
    let closed = exchange(wsoh::encode(&[WsEvent::Close(Some(close.clone()))])).await?;
    let closed = wsoh::decode(&expect_status(closed, StatusCode::OK).await?.bytes().await?)?;
    ensure!(closed == [WsEvent::Close(Some(close))]);
    let gone = exchange(wsoh::encode(&[WsEvent::Disconnect])).await?;
    ensure!(wsoh::decode(&expect_status(gone, StatusCode::OK).await?.bytes().await?)?.is_empty());

    let garbage = exchange(b"TEXT zz\r\nhello\r\n".to_vec()).await?;
    ensure!(error(garbage, StatusCode::BAD_REQUEST).await? == "bad_websocket_events");

    // A socket whose session has expired since it opened is told so and closed.
    let user = alice.user.clone().unwrap();
    let expired = jsonwebtoken::encode(
        &Header::default(),
        &shared::session::SessionClaims {
            sub: user.id,
            name: user.name,
            sid: uuid::Uuid::from_u128(1),
            iat: now - 7200,
            exp: now - 3600,
        },
        &EncodingKey::from_secret(stack.session_secret.as_bytes()),
    )?;
    let send = json!({"type": "send", "body": "still here?", "client_id": "late"}).to_string();
    let late = stack
        .direct_client()
        .with_token(Some(&expired))
        .request(Method::POST, "/api/rooms/lobby/ws")
        .header("grip-sig", &sig)
        .header("content-type", wsoh::CONTENT_TYPE)
        .body(wsoh::encode(&[WsEvent::Text(send)]))
        .send()
        .await?;
    let late = wsoh::decode(&expect_status(late, StatusCode::OK).await?.bytes().await?)?;
    ensure!(
        matches!(&late[..], [WsEvent::Text(t), WsEvent::Close(Some(CloseFrame { code: 4401, .. }))] if t.contains("unauthenticated")),
        "{late:?}"
    );
    Ok(())
}

async fn the_origin_shuts_down_gracefully(db: Db) -> anyhow::Result<()> {
    let mut stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    alice.create_room("lobby", false).await?;
    alice.post("lobby", "last words").await?;
    stack.stop_origin().await?;
    let after = stack
        .client()
        .request(Method::GET, "/healthz")
        .send()
        .await?;
    ensure!(
        !after.status().is_success(),
        "nobody answers behind Pushpin any more"
    );
    // What was stored is still there for the next origin.
    let store = stack.store().await?;
    let room = store.room_by_slug("lobby").await?.expect("room kept");
    ensure!(room.channel.last_seq == 1);
    Ok(())
}
