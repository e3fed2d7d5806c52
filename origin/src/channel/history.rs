//! History pages: a channel's entries before a seq, oldest first, for clients that scroll back
//! (chat's `…/messages`, the dashboard's `…/samples`).

use serde::Deserialize;
use shared::api::{HISTORY_PAGE_MAX, Invalid};
use shared::event::{Entry, Page};

use crate::error::ApiResult;
use crate::store::{Channel, Store};

/// Entries in a history page unless asked for fewer.
const PAGE_DEFAULT: u32 = 50;

/// `?before=SEQ&limit=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only entries with a smaller seq: the page before the oldest one the client has.
    pub before: Option<u64>,
    pub limit: Option<u32>,
}

/// Up to `limit` (default 50, at most [`HISTORY_PAGE_MAX`]) entries before `before` (or the
/// newest), oldest first.
pub async fn page<E: Entry>(
    store: &Store,
    channel: &Channel,
    query: &HistoryQuery,
) -> ApiResult<Page<E>> {
    let limit = query.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=HISTORY_PAGE_MAX).contains(&limit) {
        return Err(Invalid {
            field: "limit",
            reason: format!("must be between 1 and {HISTORY_PAGE_MAX}"),
        }
        .into());
    }
    let entries = store
        .entries_before(channel.id, query.before, limit)
        .await?;
    Ok(Page::of(entries))
}
