//! A chat client for tests, speaking the contract the way the frontend does: JSON over HTTP,
//! Server-Sent Events, WebSocket and long-poll. The stream readers use the `shared` codecs.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use shared::api::{
    CreateRoom, Credentials, MessageResponse, MessagesResponse, PollResponse, PostMessage, Room,
    RoomResponse, TokenResponse, User,
};
use shared::event::{ClientCommand, ServerEvent};
use shared::message::Message;
use shared::sequencer::{SILENCE, Sequencer};
use shared::sse::{SseDecoder, SseEvent};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

/// How long a test waits for an event before it fails. Generous: CI machines are slow, and a
/// passing test never waits this long.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A signed-in (or anonymous) API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
    pub user: Option<User>,
}

impl Client {
    pub fn new(base: String) -> Client {
        Client {
            http: reqwest::Client::new(),
            base,
            token: None,
            user: None,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The same signed-in client talking to another address (Pushpin's, say, instead of the
    /// edge's).
    pub fn with_base(&self, base: String) -> Client {
        Client {
            base,
            ..self.clone()
        }
    }

    /// The same client with another session token (or none).
    pub fn with_token(&self, token: Option<&str>) -> Client {
        Client {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    /// A request to `path` carrying the session as a Bearer token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Registers `name` (password "correct horse") and takes a session token, as scripts do
    /// (`POST /api/auth/token`; browsers sign in with `login` and a cookie instead).
    pub async fn signed_up(base: String, name: &str) -> anyhow::Result<Client> {
        let mut client = Client::new(base);
        let credentials = Credentials {
            name: name.to_owned(),
            password: "correct horse".to_owned(),
        };
        let response = client
            .request(Method::POST, "/api/auth/register")
            .json(&credentials)
            .send()
            .await?;
        expect_status(response, StatusCode::CREATED).await?;
        let response = client
            .request(Method::POST, "/api/auth/token")
            .json(&credentials)
            .send()
            .await?;
        let login: TokenResponse = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        client.token = Some(login.token);
        client.user = Some(login.user);
        Ok(client)
    }

    /// Another session of the same user (a second device), signed in as [`Client::signed_up`]
    /// did.
    pub async fn signed_in_again(&self) -> anyhow::Result<Client> {
        let name = self
            .user
            .as_ref()
            .context("a signed-up client")?
            .name
            .clone();
        let credentials = Credentials {
            name,
            password: "correct horse".to_owned(),
        };
        let response = Client::new(self.base.clone())
            .request(Method::POST, "/api/auth/token")
            .json(&credentials)
            .send()
            .await?;
        let login: TokenResponse = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(Client {
            token: Some(login.token),
            user: Some(login.user),
            ..self.clone()
        })
    }

    pub async fn create_room(&self, slug: &str, private: bool) -> anyhow::Result<Room> {
        let response = self
            .request(Method::POST, "/api/rooms")
            .json(&CreateRoom {
                slug: slug.to_owned(),
                title: format!("Room {slug}"),
                private,
            })
            .send()
            .await?;
        let created: RoomResponse = expect_status(response, StatusCode::CREATED)
            .await?
            .json()
            .await?;
        Ok(created.room)
    }

    /// Posts `body` with a fresh client_id and returns the stored message.
    pub async fn post(&self, slug: &str, body: &str) -> anyhow::Result<Message> {
        let response = self
            .post_raw(
                slug,
                &PostMessage {
                    body: body.to_owned(),
                    client_id: crate::random_hex(8),
                },
            )
            .await?;
        let posted: MessageResponse = expect_status(response, StatusCode::CREATED)
            .await?
            .json()
            .await?;
        Ok(posted.message)
    }

    /// The room's newest messages (a history page), oldest first.
    pub async fn history(&self, slug: &str) -> anyhow::Result<Vec<Message>> {
        let response = self
            .request(Method::GET, &format!("/api/rooms/{slug}/messages"))
            .send()
            .await?;
        let page: MessagesResponse = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(page.messages)
    }

    pub async fn post_raw(&self, slug: &str, post: &PostMessage) -> anyhow::Result<Response> {
        Ok(self
            .request(Method::POST, &format!("/api/rooms/{slug}/messages"))
            .json(post)
            .send()
            .await?)
    }

    /// Opens a Server-Sent Events stream, resuming after `last_event_id` if given.
    pub async fn sse(&self, slug: &str, last_event_id: Option<u64>) -> anyhow::Result<SseClient> {
        let mut body = self.sse_body(slug, last_event_id).await?;
        let (tx, events) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let mut decoder = SseDecoder::new();
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else { break };
                let Ok(decoded) = decoder.push(&chunk) else {
                    break;
                };
                for event in decoded {
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(SseClient {
            events,
            reader,
            last_head: None,
        })
    }

    /// The raw body of an SSE stream (resuming after `last_event_id`), once it answered 200.
    pub async fn sse_body(&self, slug: &str, last_event_id: Option<u64>) -> anyhow::Result<Bytes> {
        let mut request = self
            .request(Method::GET, &format!("/api/rooms/{slug}/events"))
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = expect_status(request.send().await?, StatusCode::OK).await?;
        Ok(response.bytes_stream().map(|c| Ok(c?)).boxed())
    }

    /// Opens a WebSocket, resuming after `last_event_id` if given, and waits for the replay's
    /// `synced`. Returns the client and the messages replayed before it.
    pub async fn ws(
        &self,
        slug: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<(WsClient, Vec<Message>)> {
        let mut client = self.ws_connect(slug, last_event_id).await?;
        let mut replayed = Vec::new();
        loop {
            match client.next_event().await? {
                ServerEvent::Message { message } => replayed.push(message),
                ServerEvent::Synced { .. } => return Ok((client, replayed)),
                other => bail!("unexpected event before synced: {other:?}"),
            }
        }
    }

    /// Opens a WebSocket and returns as soon as the handshake is done.
    pub async fn ws_connect(
        &self,
        slug: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<WsClient> {
        let mut url = format!(
            "{}/api/rooms/{slug}/ws",
            self.base.replacen("http", "ws", 1)
        );
        if let Some(id) = last_event_id {
            url.push_str(&format!("?last_event_id={id}"));
        }
        let mut request = url.into_client_request()?;
        if let Some(token) = &self.token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("WebSocket handshake")?;
        Ok(WsClient {
            socket,
            last_head: None,
            handshake_pending: true,
        })
    }

    /// Opens an SSE stream on a socket with a [`SMALL_RECV_BUFFER`] and does not read it until
    /// asked: a slow reader, whose stream backs up in the proxy while it waits.
    pub async fn sse_unread(&self, slug: &str) -> anyhow::Result<UnreadSse> {
        Ok(UnreadSse {
            body: self.sse_body_slow(slug, None).await?,
            decoder: SseDecoder::new(),
        })
    }

    /// The raw body of an SSE stream (resuming after `last_event_id`) on a socket with a
    /// [`SMALL_RECV_BUFFER`]; nothing is read from the socket until the body is.
    pub async fn sse_body_slow(
        &self,
        slug: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<Bytes> {
        use http_body_util::{BodyExt as _, Empty};
        use hyper_util::client::legacy::connect::HttpConnector;
        use hyper_util::rt::TokioExecutor;

        let mut connector = HttpConnector::new();
        connector.set_recv_buffer_size(Some(SMALL_RECV_BUFFER));
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build::<_, Empty<bytes::Bytes>>(connector);
        let mut request = http::Request::get(format!("{}/api/rooms/{slug}/events", self.base))
            .header("accept", "text/event-stream");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = client.request(request.body(Empty::new())?).await?;
        anyhow::ensure!(
            response.status() == StatusCode::OK,
            "expected 200, got {}",
            response.status()
        );
        Ok(response
            .into_body()
            .into_data_stream()
            .map(|c| Ok(c?))
            .boxed())
    }

    /// Opens a WebSocket on a socket with a [`SMALL_RECV_BUFFER`]; reads nothing (not even the
    /// replay) until the caller does. A slow reader, like [`Client::sse_unread`].
    pub async fn ws_unread(&self, slug: &str) -> anyhow::Result<WsClient> {
        let url = format!(
            "{}/api/rooms/{slug}/ws",
            self.base.replacen("http", "ws", 1)
        );
        let mut request = url.as_str().into_client_request()?;
        if let Some(token) = &self.token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse()?);
        }
        let host = url::Url::parse(&url)?;
        let addr = format!(
            "{}:{}",
            host.host_str().context("a host")?,
            host.port_or_known_default().context("a port")?
        );
        let addr = tokio::net::lookup_host(addr)
            .await?
            .next()
            .context("an address")?;
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(SMALL_RECV_BUFFER as u32)?;
        let stream = socket.connect(addr).await?;
        let (socket, _) = tokio_tungstenite::client_async(
            request,
            tokio_tungstenite::MaybeTlsStream::Plain(stream),
        )
        .await
        .context("WebSocket handshake")?;
        Ok(WsClient {
            socket,
            last_head: None,
            handshake_pending: true,
        })
    }

    /// One long-poll request.
    pub async fn poll(&self, slug: &str, after: Option<u64>) -> anyhow::Result<Response> {
        let mut path = format!("/api/rooms/{slug}/poll");
        if let Some(after) = after {
            path.push_str(&format!("?after={after}"));
        }
        Ok(self.request(Method::GET, &path).send().await?)
    }

    /// One long-poll, answered 200: its body.
    pub async fn poll_ok(&self, slug: &str, after: Option<u64>) -> anyhow::Result<PollResponse> {
        let response = expect_status(self.poll(slug, after).await?, StatusCode::OK).await?;
        Ok(response.json().await?)
    }
}

/// Fails with the response body when the status is not `expected`.
pub async fn expect_status(response: Response, expected: StatusCode) -> anyhow::Result<Response> {
    if response.status() == expected {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!("expected {expected}, got {status}: {body}")
}

/// A Server-Sent Events stream being read in the background.
pub struct SseClient {
    events: mpsc::UnboundedReceiver<SseEvent>,
    reader: tokio::task::JoinHandle<()>,
    last_head: Option<u64>,
}

/// The `last_seq` of a `head` event, `None` for any other event.
fn head_of(event: &SseEvent) -> Option<u64> {
    match ServerEvent::from_sse(event) {
        Ok(ServerEvent::Head { last_seq }) => Some(last_seq),
        _ => None,
    }
}

impl SseClient {
    /// The next event other than a `head` (heads come whenever the room goes quiet; see
    /// [`SseClient::last_head`]), or an error if none comes within [`EVENT_TIMEOUT`] or the
    /// stream ends.
    pub async fn next_event(&mut self) -> anyhow::Result<SseEvent> {
        loop {
            let event = self.next_any().await?;
            match head_of(&event) {
                Some(seq) => self.last_head = Some(seq),
                None => return Ok(event),
            }
        }
    }

    /// The next event, heads included.
    pub async fn next_any(&mut self) -> anyhow::Result<SseEvent> {
        tokio::time::timeout(EVENT_TIMEOUT, self.events.recv())
            .await
            .context("no SSE event in time")?
            .context("the SSE stream ended")
    }

    /// The `last_seq` of the last `head` event skipped by the readers above.
    pub fn last_head(&self) -> Option<u64> {
        self.last_head
    }

    /// The next `message` event's message.
    pub async fn next_message(&mut self) -> anyhow::Result<Message> {
        let event = self.next_event().await?;
        anyhow::ensure!(
            event.event.as_deref() == Some("message"),
            "expected a message event, got {event:?}"
        );
        let message: Message = serde_json::from_str(&event.data)?;
        anyhow::ensure!(
            event.id == Some(message.seq.to_string()),
            "the event id must be the seq: {event:?}"
        );
        Ok(message)
    }

    /// The next `n` messages.
    pub async fn messages(&mut self, n: usize) -> anyhow::Result<Vec<Message>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next_message().await?);
        }
        Ok(out)
    }

    /// An event other than a head that is already here, if any: for checking that nothing more
    /// arrived.
    pub fn try_next(&mut self) -> Option<SseEvent> {
        while let Ok(event) = self.events.try_recv() {
            match head_of(&event) {
                Some(seq) => self.last_head = Some(seq),
                None => return Some(event),
            }
        }
        None
    }
}

impl Drop for SseClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A receive buffer small enough that a stream backs up in the proxy as soon as its reader
/// stops reading (the kernel makes it a few KB at least).
pub const SMALL_RECV_BUFFER: usize = 2048;

/// A response body as it arrives.
pub type Bytes = futures_util::stream::BoxStream<'static, anyhow::Result<bytes::Bytes>>;

/// An SSE stream nobody has read yet (see [`Client::sse_unread`]).
pub struct UnreadSse {
    body: Bytes,
    decoder: SseDecoder,
}

impl UnreadSse {
    /// Reads until the message `until` arrives and returns every message event in the order it
    /// came (repeats and gaps included, for the caller to judge); fails after `timeout`.
    pub async fn read_until(
        &mut self,
        until: u64,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Message>> {
        let mut messages = Vec::new();
        let read = async {
            while messages.last().is_none_or(|m: &Message| m.seq < until) {
                let data = self.body.next().await.context("the stream ended")??;
                for event in self.decoder.push(&data)? {
                    if let Ok(ServerEvent::Message { message }) = ServerEvent::from_sse(&event) {
                        messages.push(message);
                    }
                }
            }
            anyhow::Ok(())
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(read) => read.map(|()| messages),
            Err(_) => bail!(
                "no message {until} within {timeout:?}; got {} messages, the last {:?}",
                messages.len(),
                messages.last().map(|m| m.seq)
            ),
        }
    }
}

/// A WebSocket to a room.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    last_head: Option<u64>,
    /// No `synced` has come since the handshake: its answer (replay, `synced`) may still come,
    /// or may have been lost.
    handshake_pending: bool,
}

impl WsClient {
    pub async fn send(&mut self, command: &ClientCommand) -> anyhow::Result<()> {
        self.send_text(serde_json::to_string(command)?).await
    }

    pub async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        self.socket.send(Frame::text(text)).await?;
        Ok(())
    }

    /// The next JSON event other than a head (see [`WsClient::last_head`]); pings and pongs are
    /// skipped.
    pub async fn next_event(&mut self) -> anyhow::Result<ServerEvent> {
        loop {
            match self.next_any().await? {
                ServerEvent::Head { last_seq } => self.last_head = Some(last_seq),
                event => return Ok(event),
            }
        }
    }

    /// The `last_seq` of the last `head` event skipped by [`WsClient::next_event`].
    pub fn last_head(&self) -> Option<u64> {
        self.last_head
    }

    /// The next JSON event, heads included.
    pub async fn next_any(&mut self) -> anyhow::Result<ServerEvent> {
        loop {
            let frame = tokio::time::timeout(EVENT_TIMEOUT, self.socket.next())
                .await
                .context("no WebSocket frame in time")?
                .context("the WebSocket closed")??;
            match frame {
                Frame::Text(text) => {
                    let event = serde_json::from_str(&text)?;
                    if matches!(event, ServerEvent::Synced { .. }) {
                        self.handshake_pending = false;
                    }
                    return Ok(event);
                }
                Frame::Ping(_) | Frame::Pong(_) => continue,
                other => bail!("unexpected frame {other:?}"),
            }
        }
    }

    /// The next `message` event's message.
    pub async fn next_message(&mut self) -> anyhow::Result<Message> {
        match self.next_event().await? {
            ServerEvent::Message { message } => Ok(message),
            other => bail!("expected a message, got {other:?}"),
        }
    }

    /// Reads as the frontend does, through a [`Sequencer`] that has everything up to `after`:
    /// resumes whenever the sequencer asks (a gap, or a `synced` or `head` ahead of what it
    /// delivered: the proxy can drop WebSocket messages, the last ones too; or a handshake or
    /// resume whose answer does not come), until messages up to `until` have been delivered;
    /// returns them in order.
    pub async fn follow(&mut self, after: u64, until: u64) -> anyhow::Result<Vec<Message>> {
        let mut sequencer = Sequencer::after(after);
        if self.handshake_pending {
            sequencer.connected();
        }
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        let mut delivered = Vec::new();
        let mut resume = None;
        while sequencer.last() < Some(until) {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "delivered up to {:?} of {until} in time",
                sequencer.last()
            );
            if let Some(after) = resume.take() {
                self.send(&ClientCommand::Resume { after }).await?;
                sequencer.resume_sent();
            }
            let step = match tokio::time::timeout(SILENCE, self.next_any()).await {
                Ok(event) => sequencer.on_event(event?),
                Err(_) => sequencer.on_silence(),
            };
            anyhow::ensure!(!step.reset, "unexpected reset");
            delivered.extend(step.deliver);
            resume = step.resume_after;
        }
        Ok(delivered)
    }
}
