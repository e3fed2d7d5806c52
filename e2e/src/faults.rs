//! A publish endpoint that fails on demand.
//!
//! It stands between the origin and Pushpin's publish API (the origin's `GRIP_URL` points at
//! it) and passes each request on to the real Pushpin, refuses it, or holds it unanswered, as
//! the test says. What it injects is a fault on the way, not a fake Pushpin: every request it
//! lets through is answered by the real one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the endpoint does with the next publish request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Pass it to Pushpin and answer what Pushpin answers.
    None,
    /// Answer this status without passing it on (503: Fanout is having trouble, retried; 400:
    /// the request is refused for good).
    Refuse(u16),
    /// Refuse (with this status) requests whose body contains `marker`; pass the rest.
    RefuseContaining { marker: String, status: u16 },
    /// Answer nothing until the fault changes, then do what the new one says.
    Hang,
}

/// A running endpoint; dropping it stops it.
pub struct FaultyPublish {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    refused: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    target: String,
    fault: watch::Receiver<Fault>,
    refused: Arc<AtomicU64>,
    http: reqwest::Client,
}

impl FaultyPublish {
    /// Listens on a free port, forwarding to `target` (Pushpin's `http://127.0.0.1:PORT/`).
    pub async fn start(target: String) -> anyhow::Result<FaultyPublish> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, watching) = watch::channel(Fault::None);
        let refused = Arc::new(AtomicU64::new(0));
        let shared = Shared {
            target,
            fault: watching,
            refused: refused.clone(),
            http: reqwest::Client::new(),
        };
        let app = Router::new().fallback(forward).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FaultyPublish {
            addr,
            fault,
            refused,
            task,
        })
    }

    /// The origin's `GRIP_URL`: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// What to do from now on (a request held by [`Fault::Hang`] follows the new fault).
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for FaultyPublish {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(mut shared): State<Shared>, uri: axum::http::Uri, body: Bytes) -> Response {
    let fault = match shared.fault.wait_for(|fault| *fault != Fault::Hang).await {
        Ok(fault) => fault.clone(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let refuse = |status: u16| {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        (status, "refused by the test's fault injector\n").into_response()
    };
    match fault {
        Fault::Refuse(status) => return refuse(status),
        Fault::RefuseContaining { marker, status }
            if body.windows(marker.len()).any(|w| w == marker.as_bytes()) =>
        {
            return refuse(status);
        }
        _ => {}
    }
    let path = uri.path().trim_start_matches('/');
    let answer = shared
        .http
        .post(format!("{}{path}", shared.target))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let status = answer.status();
            let text = answer.text().await.unwrap_or_default();
            (status, text).into_response()
        }
        Err(err) => (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    }
}
