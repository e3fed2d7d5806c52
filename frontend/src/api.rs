//! Typed calls to the origin's JSON API: one function per endpoint, bodies and answers from
//! `shared::api`, every failure turned into an [`ApiError`] a page can show as it is.

use gloo_net::http::{Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{
    AddMember, CreateRoom, Credentials, EditMessage, ErrorBody, ErrorCode, MarkRead,
    MessageResponse, PostMessage, Presence, ReadMark, Room, RoomResponse, RoomsResponse,
    SearchResponse, User, UserResponse,
};
use shared::chat::Message;
use shared::event::{Entry, Page};
use shared::paths::{self, Route, Streams};

/// Why a call failed, worded for the person at the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The origin answered with an error body (`{"error":{code,message}}`).
    Refused {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// No answer (offline, the edge is down) or an answer that is not ours.
    Network(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            ApiError::Network(_) => None,
        }
    }

    /// The same request may work later: there was no answer, or a timeout, too many requests,
    /// a failing server. Any other refusal would only be repeated.
    pub fn is_transient(&self) -> bool {
        match self.status() {
            None => true,
            Some(status) => matches!(status, 408 | 429) || status >= 500,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Refused { message, .. } => f.write_str(message),
            ApiError::Network(why) => write!(f, "cannot reach the server ({why})"),
        }
    }
}

impl From<gloo_net::Error> for ApiError {
    fn from(err: gloo_net::Error) -> Self {
        ApiError::Network(err.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Reads a 2xx answer as `T`, anything else as the error body it carries.
async fn read<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    decode(&body(response).await?)
}

/// The text of a 2xx answer, or the error any other answer carries. Not generic: the download
/// holds this async code once, not once per type of answer.
async fn body(response: Response) -> ApiResult<String> {
    if response.ok() {
        return Ok(response.text().await?);
    }
    Err(refused(response).await)
}

/// A JSON answer as `T` (as gloo-net's `Response::json` would, and with the same error).
fn decode<T: DeserializeOwned>(text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(|err| gloo_net::Error::from(err).into())
}

/// A 2xx answer without a body we need.
async fn done(response: Response) -> ApiResult<()> {
    if response.ok() {
        return Ok(());
    }
    Err(refused(response).await)
}

/// The error a non-2xx answer carries (`{"error":{code,message}}`).
async fn refused(response: Response) -> ApiError {
    let status = response.status();
    match response.json::<ErrorBody>().await {
        Ok(body) => ApiError::Refused {
            status,
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => ApiError::Network(format!("HTTP {status}")),
    }
}

async fn post<B: Serialize>(url: &str, body: &B) -> ApiResult<Response> {
    Ok(Request::post(url).json(body)?.send().await?)
}

pub async fn register(credentials: &Credentials) -> ApiResult<User> {
    let answer: UserResponse = read(post(paths::REGISTER.template(), credentials).await?).await?;
    Ok(answer.user)
}

pub async fn login(credentials: &Credentials) -> ApiResult<User> {
    let answer: UserResponse = read(post(paths::LOGIN.template(), credentials).await?).await?;
    Ok(answer.user)
}

/// Ends this session, or (`everywhere`) every session of the user; their streams end too.
pub async fn logout(everywhere: bool) -> ApiResult<()> {
    let route = match everywhere {
        true => paths::LOGOUT_EVERYWHERE,
        false => paths::LOGOUT,
    };
    done(Request::post(route.template()).send().await?).await
}

/// The signed-in user, or `None` when there is no valid session.
pub async fn me() -> ApiResult<Option<User>> {
    match read::<UserResponse>(Request::get(paths::ME.template()).send().await?).await {
        Ok(answer) => Ok(Some(answer.user)),
        Err(err) if err.status() == Some(401) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Every room the user may see, page after page.
pub async fn rooms() -> ApiResult<Vec<Room>> {
    let mut rooms = Vec::new();
    let mut url = paths::ROOMS.template().to_owned();
    loop {
        let page: RoomsResponse = read(Request::get(&url).send().await?).await?;
        rooms.extend(page.rooms);
        match page.next {
            Some(after) => url = format!("{}?after={after}", paths::ROOMS.template()),
            None => return Ok(rooms),
        }
    }
}

/// One room, if the user may see it.
pub async fn room(slug: &str) -> ApiResult<Room> {
    let answer: RoomResponse = read(Request::get(&paths::ROOM.to(&[slug])).send().await?).await?;
    Ok(answer.room)
}

pub async fn create_room(room: &CreateRoom) -> ApiResult<Room> {
    let answer: RoomResponse = read(post(paths::ROOMS.template(), room).await?).await?;
    Ok(answer.room)
}

pub async fn add_member(slug: &str, member: &AddMember) -> ApiResult<()> {
    done(post(&paths::ROOM_MEMBERS.to(&[slug]), member).await?).await
}

/// Up to `limit` entries of a history page (`route`, e.g. a room's messages) before `before`
/// (the newest ones when `None`), oldest first.
pub async fn history<E: Entry>(
    route: Route,
    key: &str,
    before: Option<u64>,
    limit: u32,
) -> ApiResult<Vec<E>> {
    let mut url = format!("{}?limit={limit}", route.to(&[key]));
    if let Some(before) = before {
        url.push_str(&format!("&before={before}"));
    }
    let page: Page<E> = read(Request::get(&url).send().await?).await?;
    Ok(page.entries)
}

/// Posts a message; sending the same `client_id` again returns the same message, so a retry
/// after a lost answer never posts twice.
pub async fn post_message(slug: &str, message: &PostMessage) -> ApiResult<Message> {
    let answer: MessageResponse =
        read(post(&paths::ROOM_MESSAGES.to(&[slug]), message).await?).await?;
    Ok(answer.message)
}

/// Edits one's own message; the stream brings the change to every reader, this one included.
pub async fn edit_message(slug: &str, seq: u64, edit: &EditMessage) -> ApiResult<Message> {
    let url = paths::ROOM_MESSAGE.to(&[slug, &seq.to_string()]);
    let answer: MessageResponse = read(Request::patch(&url).json(edit)?.send().await?).await?;
    Ok(answer.message)
}

/// Deletes one's own message (a retry changes nothing).
pub async fn delete_message(slug: &str, seq: u64) -> ApiResult<Message> {
    let url = paths::ROOM_MESSAGE.to(&[slug, &seq.to_string()]);
    let answer: MessageResponse = read(Request::delete(&url).send().await?).await?;
    Ok(answer.message)
}

/// A page of the room's messages that have every word of `q` (the newest first; `before`: the
/// `next` of the previous page).
pub async fn search(slug: &str, q: &str, before: Option<u64>) -> ApiResult<SearchResponse> {
    let q = String::from(js_sys::encode_uri_component(q));
    let mut url = format!("{}?q={q}", paths::ROOM_SEARCH.to(&[slug]));
    if let Some(before) = before {
        url.push_str(&format!("&before={before}"));
    }
    read(Request::get(&url).send().await?).await
}

/// Says the user has read the room up to message `seq`; answers the mark the server keeps
/// (never moved back, so it may be further on, read in another tab).
pub async fn mark_read(slug: &str, seq: u64) -> ApiResult<u64> {
    let url = paths::ROOM_READ.to(&[slug]);
    let answer: ReadMark = read(Request::put(&url).json(&MarkRead { seq })?.send().await?).await?;
    Ok(answer.read)
}

/// A presence heartbeat of this tab in the room; who is online.
pub async fn heartbeat(slug: &str, device: &str) -> ApiResult<Vec<String>> {
    let url = paths::ROOM_PRESENCE.to(&[slug, device]);
    let answer: Presence = read(Request::put(&url).send().await?).await?;
    Ok(answer.online)
}

/// This tab left the room.
pub async fn leave(slug: &str, device: &str) -> ApiResult<()> {
    let url = paths::ROOM_PRESENCE.to(&[slug, device]);
    done(Request::delete(&url).send().await?).await
}

/// Says the user is typing in the room.
pub async fn typing(slug: &str) -> ApiResult<()> {
    done(
        Request::post(&paths::ROOM_TYPING.to(&[slug]))
            .send()
            .await?,
    )
    .await
}

/// Long-poll: entries after `after`, waiting (held by Fanout) until there is one; `reset` when
/// `after` is ahead of the channel.
pub async fn poll<E: Entry>(streams: Streams, key: &str, after: u64) -> ApiResult<Page<E>> {
    let url = format!("{}?after={after}", streams.poll.to(&[key]));
    read(Request::get(&url).send().await?).await
}
