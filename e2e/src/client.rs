//! A chat client for tests, speaking the contract the way the frontend does: JSON over HTTP,
//! Server-Sent Events, WebSocket and long-poll. The stream readers use the `shared` codecs.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use shared::api::{
    CreateRoom, Credentials, MarkRead, MessageResponse, PostMessage, Presence, ReadMark, Room,
    RoomResponse, RoomsResponse, SearchResponse, TokenResponse, User,
};
use shared::chat::{ChatCommand, ChatEvent, Message};
use shared::event::{Entry, Page, ServerEvent};
use shared::paths::{self, ROOM_STREAMS, Streams};
use shared::sse::{SseDecoder, SseEvent};
use shared::subscription::{Backoff, Subscription, Transport};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message as Frame;

/// The production path (edge in Viceroy → Pushpin → origin; `options` for the rest) and two
/// people signed up through it: what most end-to-end tests start from.
pub async fn two_through_the_edge(
    db: crate::Db,
    options: crate::StackOptions,
    names: [&str; 2],
) -> anyhow::Result<(crate::Stack, Client, Client)> {
    let options = crate::StackOptions {
        edge: true,
        ..options
    };
    let stack = crate::Stack::start_with(db, options).await?;
    let first = Client::signed_up(stack.front_url(), names[0]).await?;
    let second = Client::signed_up(stack.front_url(), names[1]).await?;
    Ok((stack, first, second))
}

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
            .request(Method::POST, paths::ROOMS.template())
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

    /// Adds `name` to the private room `slug` (as its owner).
    pub async fn add_member(&self, slug: &str, name: &str) -> anyhow::Result<()> {
        let response = self
            .request(Method::POST, &paths::ROOM_MEMBERS.to(&[slug]))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await?;
        expect_status(response, StatusCode::NO_CONTENT).await?;
        Ok(())
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

    /// Edits one's own message `seq`; its new state.
    pub async fn edit(&self, slug: &str, seq: u64, body: &str) -> anyhow::Result<Message> {
        let edit = serde_json::json!({ "body": body });
        let response = self
            .amend_raw(Method::PATCH, slug, &seq.to_string(), Some(edit))
            .await?;
        let edited: MessageResponse = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(edited.message)
    }

    /// Deletes one's own message `seq`; its tombstone.
    pub async fn delete(&self, slug: &str, seq: u64) -> anyhow::Result<Message> {
        let response = self
            .amend_raw(Method::DELETE, slug, &seq.to_string(), None)
            .await?;
        let deleted: MessageResponse = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(deleted.message)
    }

    /// `PATCH` (with `body`) or `DELETE` on `/api/rooms/{slug}/messages/{seq}`, as given.
    pub async fn amend_raw(
        &self,
        method: Method,
        slug: &str,
        seq: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Response> {
        let mut request = self.request(method, &paths::ROOM_MESSAGE.to(&[slug, seq]));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Ok(request.send().await?)
    }

    /// A presence heartbeat of `device` in the room; who is online.
    pub async fn heartbeat(&self, slug: &str, device: &str) -> anyhow::Result<Vec<String>> {
        let response = self.heartbeat_raw(slug, device).await?;
        let presence: Presence = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(presence.online)
    }

    pub async fn heartbeat_raw(&self, slug: &str, device: &str) -> anyhow::Result<Response> {
        let path = paths::ROOM_PRESENCE.to(&[slug, device]);
        Ok(self.request(Method::PUT, &path).send().await?)
    }

    /// `device` leaves the room.
    pub async fn leave(&self, slug: &str, device: &str) -> anyhow::Result<()> {
        let path = paths::ROOM_PRESENCE.to(&[slug, device]);
        let response = self.request(Method::DELETE, &path).send().await?;
        expect_status(response, StatusCode::NO_CONTENT).await?;
        Ok(())
    }

    /// Says the user is typing in the room.
    pub async fn typing(&self, slug: &str) -> anyhow::Result<Response> {
        let path = paths::ROOM_TYPING.to(&[slug]);
        Ok(self.request(Method::POST, &path).send().await?)
    }

    /// The room's newest messages (a history page), oldest first.
    pub async fn history(&self, slug: &str) -> anyhow::Result<Vec<Message>> {
        let response = self
            .request(Method::GET, &paths::ROOM_MESSAGES.to(&[slug]))
            .send()
            .await?;
        let page: Page<Message> = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(page.entries)
    }

    /// The first page of the rooms the caller may see, with their unread counts.
    pub async fn rooms(&self) -> anyhow::Result<Vec<Room>> {
        let response = self
            .request(Method::GET, paths::ROOMS.template())
            .send()
            .await?;
        let page: RoomsResponse = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(page.rooms)
    }

    /// The caller's unread count in `slug`, as the room list shows it: (count, more).
    pub async fn unread(&self, slug: &str) -> anyhow::Result<(u32, bool)> {
        let rooms = self.rooms().await?;
        let room = rooms
            .iter()
            .find(|r| r.slug == slug)
            .with_context(|| format!("{slug} is not in the list"))?;
        let unread = room.unread.context("the list has no unread count")?;
        Ok((unread.count, unread.more))
    }

    /// Marks the room read up to `seq`; the mark now.
    pub async fn mark_read(&self, slug: &str, seq: u64) -> anyhow::Result<u64> {
        let response = self
            .mark_read_raw(slug, &serde_json::json!(MarkRead { seq }))
            .await?;
        let mark: ReadMark = expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?;
        Ok(mark.read)
    }

    pub async fn mark_read_raw(
        &self,
        slug: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<Response> {
        let path = paths::ROOM_READ.to(&[slug]);
        Ok(self.request(Method::PUT, &path).json(body).send().await?)
    }

    /// A page of search results for `q` in the room.
    pub async fn search(
        &self,
        slug: &str,
        q: &str,
        before: Option<u64>,
    ) -> anyhow::Result<SearchResponse> {
        let mut query = vec![("q", q.to_owned())];
        query.extend(before.map(|b| ("before", b.to_string())));
        let response = self.search_raw(slug, &query).await?;
        Ok(expect_status(response, StatusCode::OK)
            .await?
            .json()
            .await?)
    }

    pub async fn search_raw(
        &self,
        slug: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Response> {
        let path = paths::ROOM_SEARCH.to(&[slug]);
        Ok(self.request(Method::GET, &path).query(query).send().await?)
    }

    pub async fn post_raw(&self, slug: &str, post: &PostMessage) -> anyhow::Result<Response> {
        Ok(self
            .request(Method::POST, &paths::ROOM_MESSAGES.to(&[slug]))
            .json(post)
            .send()
            .await?)
    }

    /// Opens a room's Server-Sent Events stream, resuming after `last_event_id` if given.
    pub async fn sse(&self, slug: &str, last_event_id: Option<u64>) -> anyhow::Result<SseClient> {
        self.sse_of(ROOM_STREAMS, slug, last_event_id).await
    }

    /// Opens the SSE stream of any kind of channel (`paths::DASHBOARD_STREAMS`, …).
    pub async fn sse_of(
        &self,
        streams: Streams,
        key: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<SseClient> {
        let body = self.sse_body_of(streams, key, last_event_id).await?;
        Ok(SseClient::reading(body))
    }

    /// Opens the caller's room-list activity stream (`GET /api/activity`).
    pub async fn activity(&self) -> anyhow::Result<SseClient> {
        let body = self.sse_body_at(paths::ACTIVITY.template(), None).await?;
        Ok(SseClient::reading(body))
    }

    /// The raw body of a room's SSE stream (resuming after `last_event_id`), once it answered
    /// 200.
    pub async fn sse_body(&self, slug: &str, last_event_id: Option<u64>) -> anyhow::Result<Bytes> {
        self.sse_body_of(ROOM_STREAMS, slug, last_event_id).await
    }

    /// [`Client::sse_body`] for any kind of channel.
    pub async fn sse_body_of(
        &self,
        streams: Streams,
        key: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<Bytes> {
        self.sse_body_at(&streams.events.to(&[key]), last_event_id)
            .await
    }

    /// The raw body of the SSE stream at `path`, once it answered 200.
    pub async fn sse_body_at(
        &self,
        path: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<Bytes> {
        let mut request = self
            .request(Method::GET, path)
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
                ServerEvent::Entry(message) => replayed.push(message),
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
            "{}{}",
            self.base.replacen("http", "ws", 1),
            ROOM_STREAMS.ws.to(&[slug])
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
        let path = ROOM_STREAMS.events.to(&[slug]);
        let mut request = http::Request::get(format!("{}{path}", self.base))
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
            "{}{}",
            self.base.replacen("http", "ws", 1),
            ROOM_STREAMS.ws.to(&[slug])
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
        let mut path = ROOM_STREAMS.poll.to(&[slug]);
        if let Some(after) = after {
            path.push_str(&format!("?after={after}"));
        }
        Ok(self.request(Method::GET, &path).send().await?)
    }

    /// One long-poll, answered 200: its body.
    pub async fn poll_ok(&self, slug: &str, after: Option<u64>) -> anyhow::Result<Page<Message>> {
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
    match ChatEvent::from_sse(event) {
        Ok(ServerEvent::Head { last_seq }) => Some(last_seq),
        _ => None,
    }
}

impl SseClient {
    /// Decodes `body` in the background.
    pub fn reading(mut body: Bytes) -> SseClient {
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
        SseClient {
            events,
            reader,
            last_head: None,
        }
    }

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
        self.next_entry().await
    }

    /// The next event's entry, of any kind of channel; fails on any other event.
    pub async fn next_entry<E: Entry>(&mut self) -> anyhow::Result<E> {
        let event = self.next_event().await?;
        anyhow::ensure!(
            event.event.as_deref() == Some(E::KIND),
            "expected a {} event, got {event:?}",
            E::KIND
        );
        let entry: E = serde_json::from_str(&event.data)?;
        anyhow::ensure!(
            event.id == Some(entry.seq().to_string()),
            "the event id must be the seq: {event:?}"
        );
        Ok(entry)
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
                    if let Ok(ServerEvent::Entry(message)) = ChatEvent::from_sse(&event) {
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
    pub async fn send(&mut self, command: &ChatCommand) -> anyhow::Result<()> {
        self.send_text(command.to_json()).await
    }

    pub async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        self.socket.send(Frame::text(text)).await?;
        Ok(())
    }

    /// The next JSON event other than a head (see [`WsClient::last_head`]); pings and pongs are
    /// skipped.
    pub async fn next_event(&mut self) -> anyhow::Result<ChatEvent> {
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
    pub async fn next_any(&mut self) -> anyhow::Result<ChatEvent> {
        loop {
            let frame = tokio::time::timeout(EVENT_TIMEOUT, self.socket.next())
                .await
                .context("no WebSocket frame in time")?
                .context("the WebSocket closed")??;
            match frame {
                Frame::Text(text) => {
                    let event = ChatEvent::from_json(&text)?;
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
            ServerEvent::Entry(message) => Ok(message),
            other => bail!("expected a message, got {other:?}"),
        }
    }

    /// Reads as the frontend does, through a [`Subscription`] that has everything up to
    /// `after`: resumes whenever it asks (a gap, or a `synced` or `head` ahead of what it
    /// delivered: the proxy can drop WebSocket messages, the last ones too; or a handshake or
    /// resume whose answer does not come), until messages up to `until` have been delivered;
    /// returns them in order.
    pub async fn follow(&mut self, after: u64, until: u64) -> anyhow::Result<Vec<Message>> {
        let mut subscription = Subscription::new(Transport::WebSocket, after, Backoff::APP);
        if self.handshake_pending {
            subscription.connecting();
        }
        subscription.opened();
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        let mut delivered = Vec::new();
        let mut ticks = crate::ticks();
        while subscription.cursor() < until {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "delivered up to {} of {until} in time",
                subscription.cursor()
            );
            let reaction = tokio::select! {
                event = self.next_any() => subscription.on_event(event?),
                _ = ticks.tick() => subscription.on_tick(false),
            };
            anyhow::ensure!(!reaction.reset, "unexpected reset");
            delivered.extend(reaction.deliver);
            if let Some(after) = reaction.resume_after {
                self.send(&ChatCommand::Resume { after }).await?;
            }
        }
        Ok(delivered)
    }
}
