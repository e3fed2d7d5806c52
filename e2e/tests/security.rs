//! What a security review found, each as a test that failed before its fix: private answers
//! kept in a cache, password guessing, cross-site requests, cookies without `Secure`, sessions
//! that outlived signing out, capabilities that opened too much, members who kept reading after
//! removal, slow clients holding connections, and input Postgres could not store.

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use e2e::client::{Client, expect_status, two_through_the_edge};
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::header::{CACHE_CONTROL, RETRY_AFTER, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use shared::chat::{ChatCommand, Command};
use shared::event::ServerEvent;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

on_both_databases!(
    api_answers_are_private_and_never_cached,
    operator_paths_stay_behind_the_edge,
    password_guessing_is_slowed_down,
    floods_of_rooms_and_posts_are_refused,
    cross_site_writes_and_sockets_are_refused,
    the_session_cookie_is_secure_outside_localhost,
    signing_out_ends_the_session_and_its_open_streams,
    conflicting_credentials_are_refused,
    next_link_capabilities_open_one_stream_only,
    a_removed_member_stops_receiving,
    streams_recovering_together_keep_their_own_session,
    a_slow_client_is_cut_off,
    controls_and_look_alike_names_are_refused,
    rooms_are_looked_up_and_listed_in_pages,
);

async fn edge_stack(db: Db) -> anyhow::Result<(Stack, Client, Client)> {
    two_through_the_edge(db, StackOptions::default(), ["alice", "bob"]).await
}

/// The contract's error code, after checking the status.
async fn code(response: Response, status: StatusCode) -> anyhow::Result<String> {
    let response = expect_status(response, status).await?;
    let body: Value = response.json().await?;
    Ok(body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn api_answers_are_private_and_never_cached(db: Db) -> anyhow::Result<()> {
    let (_stack, alice, _bob) = edge_stack(db).await?;
    alice.create_room("lobby", true).await?;
    alice.post("lobby", "private history").await?;
    for path in [
        "/api/me",
        "/api/rooms",
        "/api/rooms/lobby",
        "/api/rooms/lobby/messages",
        "/api/rooms/nope/messages",
    ] {
        let response = alice.request(Method::GET, path).send().await?;
        ensure!(
            response.headers().get(CACHE_CONTROL).map(|v| v.as_bytes())
                == Some(b"private, no-store"),
            "{path}: {:?}",
            response.headers().get(CACHE_CONTROL)
        );
    }
    Ok(())
}

async fn operator_paths_stay_behind_the_edge(db: Db) -> anyhow::Result<()> {
    let (stack, alice, _bob) = edge_stack(db).await?;
    let through_edge = alice.request(Method::GET, "/metrics").send().await?;
    ensure!(code(through_edge, StatusCode::NOT_FOUND).await? == "no_route");
    let direct = stack
        .direct_client()
        .request(Method::GET, "/metrics")
        .send()
        .await?;
    expect_status(direct, StatusCode::OK).await?;
    Ok(())
}

async fn password_guessing_is_slowed_down(db: Db) -> anyhow::Result<()> {
    let (stack, _alice, _bob) = edge_stack(db).await?;
    let anon = stack.client();
    let sign = |path: &'static str, name: &str, password: &str| {
        anon.request(Method::POST, path)
            .json(&json!({"name": name, "password": password}))
            .send()
    };
    let login = |name: &str, password: &str| sign("/api/auth/login", name, password);
    // Signing up counts as the name's first attempt.
    let signed_up = sign("/api/auth/register", "carol", "correct horse").await?;
    expect_status(signed_up, StatusCode::CREATED).await?;
    let mut refused = None;
    for attempt in 2..=20 {
        let response = login(
            if attempt % 2 == 0 { "carol" } else { "CAROL" },
            "wrong guess",
        )
        .await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after: u64 = response
                .headers()
                .get(RETRY_AFTER)
                .context("429 says when to retry")?
                .to_str()?
                .parse()?;
            ensure!(retry_after >= 1);
            ensure!(code(response, StatusCode::TOO_MANY_REQUESTS).await? == "rate_limited");
            refused = Some(attempt);
            break;
        }
        ensure!(code(response, StatusCode::UNAUTHORIZED).await? == "bad_credentials");
    }
    ensure!(
        refused == Some(11),
        "ten tries a minute per name, in any case: refused at {refused:?}"
    );
    let right = login("carol", "correct horse").await?;
    ensure!(
        right.status() == StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits: the guesser must not learn it"
    );
    expect_status(login("bob", "correct horse").await?, StatusCode::OK).await?;
    Ok(())
}

async fn floods_of_rooms_and_posts_are_refused(db: Db) -> anyhow::Result<()> {
    let (_stack, alice, _bob) = edge_stack(db).await?;
    let mut created = 0;
    for i in 0..20 {
        let response = alice
            .request(Method::POST, "/api/rooms")
            .json(&json!({"slug": format!("room-{i}"), "title": "t"}))
            .send()
            .await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        expect_status(response, StatusCode::CREATED).await?;
        created += 1;
    }
    ensure!(created == 10, "ten rooms at once, then a wait: {created}");

    let mut posted = 0;
    let started = Instant::now();
    loop {
        let response = alice
            .post_raw(
                "room-0",
                &shared::api::PostMessage {
                    body: "flood".into(),
                    client_id: format!("f{posted}"),
                },
            )
            .await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            ensure!(response.headers().contains_key(RETRY_AFTER));
            break;
        }
        expect_status(response, StatusCode::CREATED).await?;
        posted += 1;
        ensure!(posted < 1000, "a flood is never refused");
    }
    let allowed = 200.0 + 20.0 * started.elapsed().as_secs_f64();
    ensure!(
        (200.0..=allowed + 1.0).contains(&(posted as f64)),
        "a burst of 200, then 20 a second: {posted} in {:?}",
        started.elapsed()
    );
    Ok(())
}

async fn cross_site_writes_and_sockets_are_refused(db: Db) -> anyhow::Result<()> {
    let (stack, alice, _bob) = edge_stack(db).await?;
    alice.create_room("lobby", false).await?;
    let evil = "https://evil.example";
    let logout = |client: &Client, origin: &str| {
        client
            .request(Method::POST, "/api/auth/logout")
            .header("origin", origin)
            .send()
    };
    // Through the edge, and straight at the origin behind Pushpin: both refuse.
    ensure!(code(logout(&alice, evil).await?, StatusCode::FORBIDDEN).await? == "bad_origin");
    let behind = alice.with_base(stack.pushpin.client_url());
    ensure!(code(logout(&behind, evil).await?, StatusCode::FORBIDDEN).await? == "bad_origin");
    let post = alice
        .request(Method::POST, "/api/rooms/lobby/messages")
        .header("origin", evil)
        .json(&json!({"body": "as alice", "client_id": "x"}))
        .send()
        .await?;
    ensure!(code(post, StatusCode::FORBIDDEN).await? == "bad_origin");
    ensure!(
        alice.history("lobby").await?.is_empty(),
        "nothing was written"
    );

    // A WebSocket opened by another site's page is refused before Fanout sees it.
    let url = format!(
        "{}/api/rooms/lobby/ws",
        stack.front_url().replacen("http", "ws", 1)
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)?;
    let headers = request.headers_mut();
    headers.insert("origin", evil.parse()?);
    headers.insert(
        "authorization",
        format!("Bearer {}", alice.token().unwrap()).parse()?,
    );
    let refused = tokio_tungstenite::connect_async(request).await;
    ensure!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403),
        "{refused:?}"
    );

    // The site's own pages write as before.
    let own = stack.front_url();
    let posted = alice
        .request(Method::POST, "/api/rooms/lobby/messages")
        .header("origin", &own)
        .json(&json!({"body": "from the app", "client_id": "y"}))
        .send()
        .await?;
    expect_status(posted, StatusCode::CREATED).await?;
    Ok(())
}

async fn the_session_cookie_is_secure_outside_localhost(db: Db) -> anyhow::Result<()> {
    let options = StackOptions {
        public_url: Some("https://chat.example.com".into()),
        ..StackOptions::default()
    };
    let stack = Stack::start_with(db, options).await?;
    let credentials = json!({"name": "alice", "password": "correct horse"});
    let register = stack
        .client()
        .request(Method::POST, "/api/auth/register")
        .json(&credentials)
        .send()
        .await?;
    let register = expect_status(register, StatusCode::CREATED).await?;
    let cookie = register
        .headers()
        .get(SET_COOKIE)
        .context("a session cookie")?
        .to_str()?
        .to_owned();
    for part in [
        "__Host-session=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        ensure!(cookie.contains(part), "{part} missing from {cookie}");
    }
    ensure!(!cookie.contains("Domain"), "{cookie}");
    let login = stack
        .client()
        .request(Method::POST, "/api/auth/login")
        .json(&credentials)
        .send()
        .await?;
    let body: Value = expect_status(login, StatusCode::OK).await?.json().await?;
    ensure!(
        body.get("token").is_none(),
        "the page's scripts never see the token: {body}"
    );
    Ok(())
}

async fn signing_out_ends_the_session_and_its_open_streams(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let base = stack.pushpin.client_url();
    let alice = Client::signed_up(base.clone(), "alice").await?;
    let phone = alice.signed_in_again().await?;
    alice.create_room("lobby", false).await?;
    let mut sse = alice.sse("lobby", None).await?;
    let mut ws = alice.ws_connect("lobby", None).await?;
    stack.wait_for_holds("Sse", 1).await?;
    stack.wait_for_holds("Ws", 1).await?;
    let poll = tokio::spawn({
        let alice = alice.clone();
        async move { alice.poll("lobby", Some(0)).await }
    });
    stack.wait_for_holds("Poll", 1).await?;

    let logout = alice
        .request(Method::POST, "/api/auth/logout")
        .send()
        .await?;
    expect_status(logout, StatusCode::NO_CONTENT).await?;

    let me = alice.request(Method::GET, "/api/me").send().await?;
    ensure!(code(me, StatusCode::UNAUTHORIZED).await? == "unauthenticated");
    let ended = sse.next_event().await?;
    ensure!(ended.event.as_deref() == Some("error"), "{ended:?}");
    ensure!(sse.next_event().await.is_err(), "and the stream ends");
    loop {
        match ws.next_event().await {
            Ok(ServerEvent::Error { code, .. }) => ensure!(code.as_str() == "unauthenticated"),
            Ok(ServerEvent::Synced { .. } | ServerEvent::Entry(_)) => continue,
            Ok(other) => anyhow::bail!("unexpected {other:?}"),
            // The close that follows the error.
            Err(_) => break,
        }
    }
    ensure!(code(poll.await??, StatusCode::UNAUTHORIZED).await? == "unauthenticated");

    // The other session lives on, until "sign out everywhere" from it.
    expect_status(
        phone.request(Method::GET, "/api/me").send().await?,
        StatusCode::OK,
    )
    .await?;
    let everywhere = phone
        .request(Method::POST, "/api/auth/logout-everywhere")
        .send()
        .await?;
    expect_status(everywhere, StatusCode::NO_CONTENT).await?;
    let me = phone.request(Method::GET, "/api/me").send().await?;
    ensure!(code(me, StatusCode::UNAUTHORIZED).await? == "unauthenticated");
    Ok(())
}

async fn conflicting_credentials_are_refused(db: Db) -> anyhow::Result<()> {
    let (_stack, alice, bob) = edge_stack(db).await?;
    alice.create_room("lobby", false).await?;
    let mixed = |path: &str| {
        alice
            .request(Method::GET, path)
            .header("cookie", format!("session={}", bob.token().unwrap()))
            .send()
    };
    // At the origin (a forwarded request) and at the edge (a stream).
    ensure!(code(mixed("/api/me").await?, StatusCode::UNAUTHORIZED).await? == "unauthenticated");
    let stream = mixed("/api/rooms/lobby/events").await?;
    ensure!(code(stream, StatusCode::UNAUTHORIZED).await? == "unauthenticated");
    Ok(())
}

async fn next_link_capabilities_open_one_stream_only(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let alice = Client::signed_up(stack.pushpin.client_url(), "alice").await?;
    alice.create_room("lobby", false).await?;
    for i in 1..=3 {
        alice.post("lobby", &format!("m{i}")).await?;
    }
    // What Fanout is given: the stream's next link, from the origin's hold answer.
    let sig = stack.grip_sig()?;
    let hold = stack
        .direct_client()
        .with_token(alice.token())
        .request(Method::GET, "/api/rooms/lobby/events")
        .header("last-event-id", "3")
        .header("grip-sig", &sig)
        .send()
        .await?;
    let hold = expect_status(hold, StatusCode::OK).await?;
    let link = hold.headers()["grip-link"].to_str()?.to_owned();
    let path = link
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(path, _)| path.to_owned())
        .context("a link")?;
    // The capability is a path segment: Pushpin shares fetches by path, not query.
    ensure!(
        path.starts_with("/api/rooms/lobby/events/") && path.ends_with("?after=3"),
        "{path}"
    );
    // And the session channel's `prev-id`, the session's mark, which Pushpin sends back.
    let channels = hold.headers()["grip-channel"].to_str()?.to_owned();
    let session = channels
        .split(',')
        .map(str::trim)
        .find(|c| c.starts_with("session-"))
        .context("a session channel")?;
    let (session_channel, mark) = session
        .split_once("; prev-id=")
        .context("the session channel has a prev-id")?;
    let whose = format!("{session_channel}; last-id={mark}");
    let fetch = |path: String, extra: Vec<(&'static str, String)>| {
        let mut request = stack
            .direct_client()
            .request(Method::GET, &path)
            .header("grip-sig", &sig);
        for (name, value) in extra {
            request = request.header(name, value);
        }
        request.send()
    };
    let as_fanout = || vec![("grip-last", whose.clone())];
    // As Fanout uses it: it holds the stream again.
    let fine = fetch(path.clone(), as_fanout()).await?;
    ensure!(
        expect_status(fine, StatusCode::OK)
            .await?
            .headers()
            .contains_key("grip-hold")
    );
    let other_session = format!("session-{}; last-id={mark}", uuid::Uuid::new_v4());
    let refused = [
        // The room's whole history.
        (path.replace("after=3", "after=0"), as_fanout()),
        // Another kind of stream.
        (path.replace("/events/", "/poll/"), as_fanout()),
        // From a client, with a session, or through the edge: it was copied from somewhere.
        (
            path.clone(),
            [
                as_fanout(),
                vec![(
                    "authorization",
                    format!("Bearer {}", alice.token().unwrap()),
                )],
            ]
            .concat(),
        ),
        (
            path.clone(),
            [as_fanout(), vec![("x-via-edge", "1".to_owned())]].concat(),
        ),
        // A position before its own.
        (
            path.clone(),
            [
                as_fanout(),
                vec![("grip-last", "room-lobby; last-id=1".to_owned())],
            ]
            .concat(),
        ),
        // No session, a forged mark, or the mark given to another session.
        (path.clone(), vec![]),
        (
            path.clone(),
            vec![("grip-last", format!("{session_channel}; last-id=forged"))],
        ),
        (path.clone(), vec![("grip-last", other_session)]),
    ];
    for (path, extra) in refused {
        let shown = format!("{path} {extra:?}");
        let response = fetch(path, extra).await?;
        ensure!(
            code(response, StatusCode::FORBIDDEN).await? == "bad_capability",
            "{shown}"
        );
    }
    // Once its session has ended, the link ends the stream instead of holding it.
    let logout = alice
        .request(Method::POST, "/api/auth/logout")
        .send()
        .await?;
    expect_status(logout, StatusCode::NO_CONTENT).await?;
    let ended = fetch(path, as_fanout()).await?;
    let ended = expect_status(ended, StatusCode::OK).await?;
    ensure!(!ended.headers().contains_key("grip-hold"));
    ensure!(ended.text().await?.starts_with("event: error"));
    Ok(())
}

async fn a_removed_member_stops_receiving(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let base = stack.pushpin.client_url();
    let alice = Client::signed_up(base.clone(), "alice").await?;
    let bob = Client::signed_up(base.clone(), "bob").await?;
    let carol = Client::signed_up(base, "carol").await?;
    alice.create_room("secret", true).await?;
    for name in ["bob", "carol"] {
        alice.add_member("secret", name).await?;
    }
    let mut bob_sse = bob.sse("secret", None).await?;
    let (mut bob_ws, _) = bob.ws("secret", None).await?;
    let mut carol_sse = carol.sse("secret", None).await?;
    stack.wait_for_holds("Sse", 2).await?;
    let before = alice.post("secret", "for members").await?;
    ensure!(bob_sse.next_message().await? == before);

    let remove = |by: &Client, name: &str| {
        by.request(Method::DELETE, &format!("/api/rooms/secret/members/{name}"))
            .send()
    };
    ensure!(code(remove(&bob, "carol").await?, StatusCode::FORBIDDEN).await? == "forbidden");
    ensure!(code(remove(&alice, "alice").await?, StatusCode::CONFLICT).await? == "conflict");
    expect_status(remove(&alice, "bob").await?, StatusCode::NO_CONTENT).await?;

    let ended = bob_sse.next_event().await?;
    ensure!(ended.event.as_deref() == Some("error"), "{ended:?}");
    ensure!(bob_sse.next_event().await.is_err(), "bob's stream ended");
    loop {
        match bob_ws.next_event().await? {
            ServerEvent::Entry(message) => ensure!(message == before),
            ServerEvent::Error { code, .. } => break ensure!(code.as_str() == "not_found"),
            other => anyhow::bail!("expected the error, got {other:?}"),
        }
    }
    ensure!(bob_ws.next_event().await.is_err(), "and his socket closed");
    let after = alice.post("secret", "members only").await?;
    ensure!(carol_sse.next_message().await? == before);
    ensure!(carol_sse.next_message().await? == after, "others go on");
    let history = bob
        .request(Method::GET, "/api/rooms/secret/messages")
        .send()
        .await?;
    ensure!(code(history, StatusCode::NOT_FOUND).await? == "not_found");
    ensure!(bob.sse("secret", None).await.is_err(), "no way back in");

    // Carol leaves on her own.
    expect_status(remove(&carol, "carol").await?, StatusCode::NO_CONTENT).await?;
    ensure!(carol_sse.next_event().await?.event.as_deref() == Some("error"));
    let again = remove(&carol, "carol").await?;
    ensure!(code(again, StatusCode::NOT_FOUND).await? == "not_found");
    Ok(())
}

/// Pushpin shares one origin request among next-link fetches with the same path and the same
/// `Grip-Last` headers, whatever their query says (`auto-share`, `src/handler/engine.cpp` in
/// 1.36): a fetch that starts while another is being answered gets that other's answer. Here
/// five members' streams of a private room fall behind together (messages stored but never
/// published, as when an origin dies between the two) and recover through their next links,
/// each answer a long replay; every stream must still be answered for its own session: the
/// removed member's stream ends, the others go on.
async fn streams_recovering_together_keep_their_own_session(db: Db) -> anyhow::Result<()> {
    const MEMBERS: [&str; 4] = ["bob", "carol", "dave", "erin"];
    const UNPUBLISHED: u64 = 8_000;
    let stack = Stack::start(db).await?;
    let base = stack.pushpin.client_url();
    let alice = Client::signed_up(base.clone(), "alice").await?;
    alice.create_room("secret", true).await?;
    let mut streams = Vec::new();
    for name in MEMBERS {
        let member = Client::signed_up(base.clone(), name).await?;
        alice.add_member("secret", name).await?;
        streams.push(member.sse("secret", None).await?);
    }
    streams.push(alice.sse("secret", None).await?);
    // Each stream joined a channel new to Pushpin (its session's), so each is refreshed once.
    let held = streams.len() as u64;
    stack.wait_for_sse_settled(held, held).await?;

    e2e::seed::messages(&stack.database_url, "secret", UNPUBLISHED as usize).await?;
    // The next post shows every stream the gap; the proxy fetches each one's next link.
    let post = alice.post("secret", "after the gap").await?;
    for stream in &mut streams {
        let got = stream.messages(UNPUBLISHED as usize + 1).await?;
        ensure!(got.last() == Some(&post), "every stream caught up");
    }

    let remove = alice
        .request(Method::DELETE, "/api/rooms/secret/members/bob")
        .send()
        .await?;
    expect_status(remove, StatusCode::NO_CONTENT).await?;
    let ended = streams[0].next_event().await?;
    ensure!(
        ended.event.as_deref() == Some("error"),
        "bob's stream ended: {ended:?}"
    );
    let after = alice.post("secret", "members only").await?;
    for stream in &mut streams[1..] {
        ensure!(stream.next_message().await? == after, "the others go on");
    }
    Ok(())
}

async fn a_slow_client_is_cut_off(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    // Half a request, then nothing (slowloris), straight at the origin.
    let mut socket = tokio::net::TcpStream::connect(stack.origin_addr).await?;
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: origin\r\nX-Slow: ")
        .await?;
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf)).await;
    let waited = started.elapsed();
    ensure!(
        matches!(read, Ok(Ok(_))),
        "the origin closed the connection: {read:?}"
    );
    ensure!(
        (Duration::from_secs(9)..Duration::from_secs(20)).contains(&waited),
        "after the 10 s header timeout, not {waited:?}"
    );
    Ok(())
}

async fn controls_and_look_alike_names_are_refused(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let base = stack.pushpin.client_url();
    let alice = Client::signed_up(base.clone(), "Alice").await?;
    alice.create_room("lobby", false).await?;
    // NUL cannot be stored by Postgres (it was a 500); other controls garble text.
    for body in ["nul \u{0} inside", "escape \u{1b}[2J", "bell\u{7}"] {
        let response = alice
            .post_raw(
                "lobby",
                &shared::api::PostMessage {
                    body: body.into(),
                    client_id: "c".into(),
                },
            )
            .await?;
        ensure!(
            code(response, StatusCode::UNPROCESSABLE_ENTITY).await? == "invalid",
            "{body:?}"
        );
    }
    let (mut ws, _) = alice.ws("lobby", None).await?;
    ws.send(&ChatCommand::Own(Command::Send {
        body: "nul \u{0}".into(),
        client_id: "w".into(),
    }))
    .await?;
    match ws.next_event().await? {
        ServerEvent::Error { code, .. } => ensure!(code.as_str() == "invalid"),
        other => anyhow::bail!("expected an error event, got {other:?}"),
    }
    ensure!(
        alice.history("lobby").await?.is_empty(),
        "nothing was stored"
    );

    // One account per name, whatever its case; signing in works in any case.
    let register = stack
        .client()
        .request(Method::POST, "/api/auth/register")
        .json(&json!({"name": "alice", "password": "another one"}))
        .send()
        .await?;
    ensure!(code(register, StatusCode::CONFLICT).await? == "conflict");
    let login = stack
        .client()
        .request(Method::POST, "/api/auth/token")
        .json(&json!({"name": "ALICE", "password": "correct horse"}))
        .send()
        .await?;
    let body: Value = expect_status(login, StatusCode::OK).await?.json().await?;
    ensure!(
        body["user"]["name"] == "Alice",
        "the name as it was chosen: {body}"
    );
    Ok(())
}

async fn rooms_are_looked_up_and_listed_in_pages(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let base = stack.pushpin.client_url();
    let alice = Client::signed_up(base.clone(), "alice").await?;
    let bob = Client::signed_up(base, "bob").await?;
    for slug in ["a", "b", "c"] {
        alice.create_room(slug, false).await?;
    }
    alice.create_room("hidden", true).await?;
    let get = |client: &Client, path: &str| client.request(Method::GET, path).send();
    let one: Value = expect_status(get(&bob, "/api/rooms/b").await?, StatusCode::OK)
        .await?
        .json()
        .await?;
    ensure!(one["room"]["title"] == "Room b", "{one}");
    ensure!(
        code(get(&bob, "/api/rooms/hidden").await?, StatusCode::NOT_FOUND).await? == "not_found"
    );

    let mut seen = Vec::new();
    let mut path = "/api/rooms?limit=2".to_owned();
    loop {
        let page: Value = expect_status(get(&alice, &path).await?, StatusCode::OK)
            .await?
            .json()
            .await?;
        for room in page["rooms"].as_array().context("rooms")? {
            seen.push(room["slug"].as_str().unwrap_or_default().to_owned());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/rooms?limit=2&after={next}"),
            None => break,
        }
    }
    ensure!(seen == ["a", "b", "c", "hidden"], "{seen:?}");
    let bad = get(&alice, "/api/rooms?limit=0").await?;
    ensure!(code(bad, StatusCode::UNPROCESSABLE_ENTITY).await? == "invalid");
    Ok(())
}
