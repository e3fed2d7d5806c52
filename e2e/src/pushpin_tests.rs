//! Proves the Pushpin harness against a tiny GRIP origin: routing, signing, streaming, WebSockets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;

use crate::pushpin::{Pushpin, PushpinOptions};

/// What the test origin saw: the path and `Grip-Sig` of each request.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A minimal GRIP origin on a free port:
/// - `GET /stream` holds the response open as a stream subscribed to channel `test`;
/// - `POST /ws` speaks WebSocket-over-HTTP: accepts the socket and subscribes it to `test`.
async fn start_origin() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/stream", get(stream))
        .route("/ws", post(websocket_over_http))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

fn record(seen: &Seen, uri: &Uri, headers: &HeaderMap) {
    let sig = headers
        .get("grip-sig")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock().unwrap().push((uri.path().to_owned(), sig));
}

async fn stream(State(seen): State<Seen>, uri: Uri, headers: HeaderMap) -> impl IntoResponse {
    record(&seen, &uri, &headers);
    (
        [
            ("Content-Type", "text/plain"),
            ("Grip-Hold", "stream"),
            ("Grip-Channel", "test"),
        ],
        "stream open\n",
    )
}

async fn websocket_over_http(
    State(seen): State<Seen>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    record(&seen, &uri, &headers);
    let mut events = String::new();
    if body.starts_with(b"OPEN\r\n") {
        // Accept, then subscribe through a control message ("c:" prefix, in a TEXT event whose
        // length is given in hex).
        let control = r#"c:{"type":"subscribe","channel":"test"}"#;
        events = format!("OPEN\r\nTEXT {:x}\r\n{control}\r\n", control.len());
    }
    (
        [
            ("Content-Type", "application/websocket-events"),
            // Without message-prefix="" Pushpin would only pass on frames starting with "m:".
            ("Sec-WebSocket-Extensions", r#"grip; message-prefix="""#),
        ],
        events,
    )
}

async fn publish(pushpin: &Pushpin, formats: serde_json::Value) {
    let body = serde_json::json!({"items": [{"channel": "test", "formats": formats}]});
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}publish/", pushpin.publish_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "publish failed: {:?}",
        resp.text().await
    );
}

/// Publishes until the next item arrives on `received`, and returns that item.
///
/// A subscription becomes active a moment after the client sees the held response start, and
/// nothing tells the client when; publishing again until the message arrives is the one check
/// that does not guess.
async fn publish_until<S>(
    pushpin: &Pushpin,
    formats: serde_json::Value,
    received: &mut S,
) -> S::Item
where
    S: futures_util::Stream + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        publish(pushpin, formats.clone()).await;
        if let Ok(Some(got)) =
            tokio::time::timeout(Duration::from_millis(200), received.next()).await
        {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "published message never arrived; Pushpin log:\n{}",
            pushpin.log_tail()
        );
    }
}

/// Opens `GET /stream` through Pushpin, optionally with a `Pushpin-Route` header, and returns the
/// body stream after checking the initial chunk.
async fn open_stream(
    pushpin: &Pushpin,
    route: Option<&str>,
) -> impl futures_util::Stream<Item = reqwest::Result<Bytes>> + Unpin + use<> {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = client.get(format!("{}/stream", pushpin.client_url()));
    if let Some(route) = route {
        req = req.header("Pushpin-Route", route);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "log:\n{}", pushpin.log_tail());
    let mut body = resp.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"stream open\n");
    body
}

#[tokio::test]
async fn streams_reach_the_origin_with_and_without_pushpin_route_and_get_publishes() {
    let (origin, seen) = start_origin().await;
    let started = Instant::now();
    let pushpin = Pushpin::start(PushpinOptions::for_tests(origin))
        .await
        .unwrap();
    eprintln!("Pushpin ready after {:?}", started.elapsed());

    for route in [None, Some("origin")] {
        let mut body = open_stream(&pushpin, route).await;
        let got = publish_until(
            &pushpin,
            serde_json::json!({"http-stream": {"content": "hello\n"}}),
            &mut body,
        )
        .await
        .unwrap();
        assert_eq!(&got[..], b"hello\n", "route {route:?}");
    }

    // Both requests reached the origin, each signed by Pushpin.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&[pushpin.sig_iss()]);
    let key = jsonwebtoken::DecodingKey::from_secret(pushpin.sig_key().as_bytes());
    for (path, sig) in seen {
        assert_eq!(path, "/stream");
        let sig = sig.expect("Pushpin signs proxied requests with Grip-Sig");
        let claims = jsonwebtoken::decode::<serde_json::Value>(&sig, &key, &validation)
            .expect("Grip-Sig verifies with sig_key and sig_iss");
        eprintln!("Grip-Sig claims: {}", claims.claims);
    }
}

#[tokio::test]
async fn websockets_become_websocket_over_http_and_get_publishes() {
    let (origin, seen) = start_origin().await;
    let pushpin = Pushpin::start(PushpinOptions::for_tests(origin))
        .await
        .unwrap();

    let ws_url = format!("{}/ws", pushpin.client_url().replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let got = publish_until(
        &pushpin,
        serde_json::json!({"ws-message": {"content": "hello ws"}}),
        &mut ws,
    )
    .await;
    match got {
        Ok(Message::Text(text)) => assert_eq!(text.as_str(), "hello ws"),
        other => panic!("unexpected frame {other:?}"),
    }
    ws.close(None).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .all(|(path, sig)| path == "/ws" && sig.is_some())
    );
}

#[tokio::test]
async fn restart_cuts_streams_and_comes_back_on_the_same_ports() {
    let (origin, _) = start_origin().await;
    let mut pushpin = Pushpin::start(PushpinOptions::for_tests(origin))
        .await
        .unwrap();
    let client_url = pushpin.client_url();
    let mut body = open_stream(&pushpin, None).await;

    let started = Instant::now();
    pushpin.restart().await.unwrap();
    eprintln!("Pushpin restarted in {:?}", started.elapsed());

    // The held stream ends (cleanly or with an error) instead of hanging.
    let cut = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(cut.is_ok(), "stream still open after restart");

    assert_eq!(pushpin.client_url(), client_url);
    let mut body = open_stream(&pushpin, None).await;
    let got = publish_until(
        &pushpin,
        serde_json::json!({"http-stream": {"content": "again\n"}}),
        &mut body,
    )
    .await
    .unwrap();
    assert_eq!(&got[..], b"again\n");
}
