//! The baseline of the fan-out and storm benchmarks: a bare in-process broadcast
//! (`tokio::sync::broadcast`) behind an axum SSE endpoint and a WebSocket endpoint, started in
//! the bench process. No proxy, no GRIP, no database: what delivering the same payloads to the
//! same number of subscribers costs when nothing but the delivery is done.
//!
//! It speaks the app's wire format, so the subscribers of [`crate::crowd`] read it with the same
//! code as Pushpin: SSE events exactly as the origin publishes them (`SseEvent::encode`), and
//! WebSocket text frames of the same JSON, starting with the `synced` the origin sends when a
//! WebSocket opens.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use shared::chat::{ChatEvent, Message};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Message as Frame, Role};

/// One published entry, encoded once for every transport (as Pushpin receives it encoded once
/// per format in a publish item).
#[derive(Clone)]
pub struct Payload {
    pub sse: bytes::Bytes,
    pub ws: String,
}

impl Payload {
    pub fn of(message: &Message) -> Arc<Payload> {
        let event = ChatEvent::Entry(message.clone());
        Arc::new(Payload {
            sse: event.to_sse().encode().into(),
            ws: event.to_json(),
        })
    }
}

/// A running broadcast server; dropping it stops it.
pub struct Bare {
    pub url: String,
    sender: broadcast::Sender<Arc<Payload>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Bare {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Bare {
    /// Starts the server on a free port; `capacity` entries may wait for a slow subscriber
    /// before it lags (and loses them: counted as lost by the bench).
    pub async fn start(capacity: usize) -> anyhow::Result<Bare> {
        let (sender, _) = broadcast::channel(capacity);
        let app = Router::new()
            .route("/events", get(sse))
            .route("/ws", get(ws))
            .with_state(sender.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Bare { url, sender, task })
    }

    /// Sends `payload` to every subscriber.
    pub fn publish(&self, payload: Arc<Payload>) {
        let _ = self.sender.send(payload);
    }

    /// Subscribers connected right now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    pub fn target(&self) -> crate::crowd::Target {
        crate::crowd::Target {
            base: self.url.clone(),
            sse_path: "/events".to_owned(),
            ws_path: "/ws".to_owned(),
        }
    }
}

type Sender = broadcast::Sender<Arc<Payload>>;

/// A stream of the broadcast's SSE bytes, as long as the client reads.
async fn sse(State(sender): State<Sender>) -> Response {
    let receiver = sender.subscribe();
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(payload) => {
                    return Some((Ok::<_, std::io::Error>(payload.sse.clone()), receiver));
                }
                // Lagged: the missed entries are lost, as the bench will count.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from_stream(events))
        .expect("a valid response")
}

/// The WebSocket handshake by hand (axum's `ws` feature would pull in another tungstenite),
/// then `synced` and every broadcast entry as a text frame.
async fn ws(State(sender): State<Sender>, mut request: Request) -> Response {
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let mut receiver = sender.subscribe();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        let synced = ChatEvent::Synced { last_seq: 0 }.to_json();
        if socket.send(Frame::text(synced)).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                payload = receiver.recv() => match payload {
                    Ok(payload) => {
                        if socket.send(Frame::text(payload.ws.clone())).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                // Commands (a `resume`) are read and ignored: nothing is ever missing here
                // unless the subscriber lagged, and then it is counted as lost.
                incoming = socket.next() => if incoming.is_none_or(|frame| frame.is_err()) {
                    return;
                },
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&derive_accept_key(key.as_bytes())).expect("base64"),
        )
        .body(Body::empty())
        .expect("a valid response")
}
