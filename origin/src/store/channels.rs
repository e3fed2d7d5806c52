//! Channels and their entries: the core's storage, the same for every kind of channel.
//!
//! An entry is stored as the JSON its subscribers get, so a new kind of channel needs no table
//! of its own; its columns are only what the core looks things up by (`seq`, `dedupe`).

use shared::event::Entry;
use shared::publish::ChainId;
use sqlx::any::AnyRow;
use sqlx::{Acquire, Any, AnyConnection, Row, Transaction};

use super::search::search_text;
use super::{Store, StoreError, now_millis};

/// A channel as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: i64,
    /// The Fanout channel (`room-lobby`, `dashboard-system`).
    pub name: String,
    /// The seq of the newest entry when the row was read (0: none yet).
    pub last_seq: u64,
    /// The tail of the channel's publish chain when the row was read: `last_seq`, or the last
    /// head published after it.
    pub chain: ChainId,
}

impl Channel {
    /// The chain link a stream that has every entry up to `position` stands on: the channel's
    /// tail if that is where it is, else the entry itself (the stream is behind, and the next
    /// publish will show it).
    pub fn chain_at(&self, position: u64) -> ChainId {
        if position == self.chain.seq {
            self.chain
        } else {
            ChainId::message(position)
        }
    }
}

/// The columns [`channel_from_row`] reads, for queries that join a channel in.
pub(crate) const CHANNEL_COLUMNS: &str = "channels.id AS channel_id, channels.name AS channel_name, \
     channels.last_seq, channels.head_seq, channels.heads";

/// The chain tail from the columns `last_seq`, `head_seq` and `heads`.
fn chain_from_row(row: &AnyRow) -> Result<ChainId, sqlx::Error> {
    let last_seq: i64 = row.try_get("last_seq")?;
    let head_seq: i64 = row.try_get("head_seq")?;
    let heads: i64 = row.try_get("heads")?;
    Ok(ChainId {
        seq: last_seq as u64,
        heads: if head_seq == last_seq {
            heads as u32
        } else {
            0
        },
    })
}

pub(crate) fn channel_from_row(row: &AnyRow) -> Result<Channel, sqlx::Error> {
    let last_seq: i64 = row.try_get("last_seq")?;
    Ok(Channel {
        id: row.try_get("channel_id")?,
        name: row.try_get("channel_name")?,
        last_seq: last_seq as u64,
        chain: chain_from_row(row)?,
    })
}

fn to_payload<E: Entry>(entry: &E) -> Result<String, StoreError> {
    Ok(serde_json::to_string(entry).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
}

pub(crate) fn entry_from_row<E: Entry>(row: &AnyRow) -> Result<E, sqlx::Error> {
    let payload: String = row.try_get("payload")?;
    serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Where an entry being appended goes: the channel's next seq, and the chain link the new
/// entry's publish follows (its `prev-id`).
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    pub seq: u64,
    pub follows: ChainId,
}

/// What [`Store::append`] did.
#[derive(Debug)]
pub enum Stored<E, X> {
    /// Appended: the entry, and what `make` built with it.
    New { entry: E, with: X },
    /// The dedupe key was taken: the entry appended then (nothing new was written).
    Existing(E),
}

impl Store {
    /// Creates a channel inside `tx` (a room creates its channel with itself);
    /// [`StoreError::Conflict`] if the name is taken.
    pub(crate) async fn create_channel_in(
        tx: &mut Transaction<'static, Any>,
        name: &str,
    ) -> Result<Channel, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO channels (name) VALUES ($1) RETURNING {CHANNEL_COLUMNS}"
        ))
        .bind(name)
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::from_insert)?;
        Ok(channel_from_row(&row)?)
    }

    /// The channel named `name`, created if it does not exist yet.
    pub async fn ensure_channel(&self, name: &str) -> Result<Channel, StoreError> {
        sqlx::query("INSERT INTO channels (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .execute(&self.writer)
            .await?;
        self.channel_by_name(name)
            .await?
            .ok_or(StoreError::Conflict)
    }

    pub async fn channel_by_name(&self, name: &str) -> Result<Option<Channel>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(channel_from_row).transpose()?)
    }

    /// Appends one entry to the channel in a transaction of its own: see [`Store::append_in`].
    pub async fn append<E: Entry, X>(
        &self,
        channel_id: i64,
        dedupe: Option<&str>,
        make: impl FnOnce(&Slot) -> Result<(E, X), StoreError>,
    ) -> Result<Stored<E, X>, StoreError> {
        let mut tx = self.begin_read_write().await?;
        let stored = Self::append_in(&mut tx, channel_id, dedupe, make).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Appends one entry to the channel inside `tx` (from `Store::begin_read_write`; the
    /// origin's group commit shares one among the appends to a channel that arrive together,
    /// `channel::group`): takes its next seq, lets `make` build the entry for that slot (and
    /// whatever else the caller needs built with it, such as its publish item), and stores it.
    /// `make` may refuse. When `dedupe` names an entry appended before, that one is answered
    /// instead. A refusal or a retry undoes only its own writes (a savepoint): `tx` may hold
    /// other appends.
    ///
    /// Why seq has no gaps: the first statement bumps `channels.last_seq`, which locks the
    /// channel's row (Postgres) or takes the write lock (SQLite) until commit, so appends to one
    /// channel take turns, and one that is undone gives its seq back. The same statement reads
    /// the chain tail before the new entry (the heads announced since the previous one).
    pub async fn append_in<E: Entry, X>(
        tx: &mut Transaction<'static, Any>,
        channel_id: i64,
        dedupe: Option<&str>,
        make: impl FnOnce(&Slot) -> Result<(E, X), StoreError>,
    ) -> Result<Stored<E, X>, StoreError> {
        let mut own = tx.begin().await?;
        let slot = Self::next_slot(&mut own, channel_id).await?;
        let seq = slot.seq as i64;
        let (entry, with) = match make(&slot) {
            Ok(made) => made,
            Err(refused) => {
                own.rollback().await?;
                return Err(refused);
            }
        };
        let payload = to_payload(&entry)?;
        let inserted = sqlx::query(
            "INSERT INTO entries (channel_id, seq, payload, dedupe, search_text) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, dedupe) DO NOTHING",
        )
        .bind(channel_id)
        .bind(seq)
        .bind(&payload)
        .bind(dedupe)
        .bind(search_text(&entry))
        .execute(&mut *own)
        .await?;
        if inserted.rows_affected() == 1 {
            own.commit().await?;
            return Ok(Stored::New { entry, with });
        }
        // A retry: give the seq back, and answer with the first entry, read in `tx` (it may be
        // in the same group, not yet committed).
        own.rollback().await?;
        let key = dedupe.ok_or(StoreError::Conflict)?;
        let first =
            sqlx::query("SELECT payload FROM entries WHERE channel_id = $1 AND dedupe = $2")
                .bind(channel_id)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await?;
        first
            .as_ref()
            .map(entry_from_row)
            .transpose()?
            .map(Stored::Existing)
            .ok_or(StoreError::Conflict)
    }

    /// Amends entry `target` of the channel: takes the channel's next seq, lets `make` build
    /// from the entry as stored now its new state and the amendment to append (and whatever
    /// else the caller needs built with them), rewrites the entry and appends the amendment,
    /// all in one transaction. `make` may refuse (nothing is written then); `None` if there is
    /// no entry `target`.
    ///
    /// The rewrite is what makes a replay yield the current state (`shared::chat`); it takes
    /// the same channel lock as [`Store::append`], so it cannot interleave with an append or
    /// another amendment.
    pub async fn amend<E: Entry, X, Refused: From<StoreError>>(
        &self,
        channel_id: i64,
        target: u64,
        make: impl FnOnce(&Slot, E) -> Result<(E, E, X), Refused>,
    ) -> Result<Option<(E, X)>, Refused> {
        let mut tx = self.writer.begin().await.map_err(StoreError::from)?;
        let slot = Self::next_slot(&mut tx, channel_id).await?;
        let current = sqlx::query("SELECT payload FROM entries WHERE channel_id = $1 AND seq = $2")
            .bind(channel_id)
            .bind(target as i64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        let Some(current) = current else {
            tx.rollback().await.map_err(StoreError::from)?;
            return Ok(None);
        };
        let current: E = entry_from_row(&current).map_err(StoreError::from)?;
        let (now, amendment, with) = match make(&slot, current) {
            Ok(made) => made,
            Err(refused) => {
                tx.rollback().await.map_err(StoreError::from)?;
                return Err(refused);
            }
        };
        sqlx::query(
            "UPDATE entries SET payload = $3, search_text = $4 WHERE channel_id = $1 AND seq = $2",
        )
        .bind(channel_id)
        .bind(target as i64)
        .bind(to_payload(&now)?)
        .bind(search_text(&now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        sqlx::query("INSERT INTO entries (channel_id, seq, payload) VALUES ($1, $2, $3)")
            .bind(channel_id)
            .bind(slot.seq as i64)
            .bind(to_payload(&amendment)?)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(Some((amendment, with)))
    }

    /// Takes the channel's next seq inside `tx`, and the chain link it follows.
    ///
    /// Why seq has no gaps: this is the transaction's first statement, and bumping
    /// `channels.last_seq` locks the channel's row (Postgres) or takes the write lock (SQLite)
    /// until commit, so appends to one channel take turns, and one that rolls back gives its seq
    /// back. The same statement reads the chain tail before the new entry (the heads announced
    /// since the previous one).
    async fn next_slot(conn: &mut AnyConnection, channel_id: i64) -> Result<Slot, StoreError> {
        let bumped = sqlx::query(
            "UPDATE channels SET last_seq = last_seq + 1, last_at = $2 WHERE id = $1 \
             RETURNING last_seq, head_seq, heads",
        )
        .bind(channel_id)
        .bind(now_millis())
        .fetch_one(conn)
        .await?;
        let seq: i64 = bumped.try_get("last_seq")?;
        let head_seq: i64 = bumped.try_get("head_seq")?;
        let heads: i64 = bumped.try_get("heads")?;
        Ok(Slot {
            seq: seq as u64,
            // The heads count applies if they were announced after the previous entry.
            follows: ChainId {
                seq: (seq - 1) as u64,
                heads: if head_seq == seq - 1 { heads as u32 } else { 0 },
            },
        })
    }

    /// Up to `limit` entries with seq > `after`, oldest first: what a reconnecting subscriber
    /// missed.
    pub async fn entries_after<E: Entry>(
        &self,
        channel_id: i64,
        after: u64,
        limit: u32,
    ) -> Result<Vec<E>, StoreError> {
        let rows = sqlx::query(
            "SELECT payload FROM entries WHERE channel_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(channel_id)
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }

    /// Up to `limit` entries with seq < `before` (the newest if `None`), oldest first: a history
    /// page.
    pub async fn entries_before<E: Entry>(
        &self,
        channel_id: i64,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<E>, StoreError> {
        let before = before.map_or(i64::MAX, |b| b as i64);
        let rows = sqlx::query(
            "SELECT payload FROM entries WHERE channel_id = $1 AND seq < $2 \
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(channel_id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .rev()
            .map(entry_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Deletes the entries of a channel up to seq `upto`: channels that keep only a window
    /// (dashboards). A subscriber whose cursor falls before the window starts over.
    pub async fn forget_entries(&self, channel_id: i64, upto: u64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM entries WHERE channel_id = $1 AND seq <= $2")
            .bind(channel_id)
            .bind(upto as i64)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    /// The channel's newest seq now (a row passed around may be a few appends old).
    pub async fn last_seq(&self, channel_id: i64) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT last_seq FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("last_seq"))
            .transpose()?
            .unwrap_or(0) as u64)
    }

    /// Moves the channel's chain one head on, as one statement (the row lock orders it with
    /// appends, across origins too); returns the new tail, `None` for a channel that is gone.
    pub async fn announce_head(&self, channel_id: i64) -> Result<Option<ChainId>, StoreError> {
        let row = sqlx::query(
            "UPDATE channels SET \
               heads = CASE WHEN head_seq = last_seq THEN heads + 1 ELSE 1 END, \
               head_seq = last_seq \
             WHERE id = $1 RETURNING last_seq, head_seq, heads",
        )
        .bind(channel_id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.as_ref().map(chain_from_row).transpose()?)
    }

    /// Channels appended to since `since` (Unix milliseconds): the ones whose subscribers might
    /// still miss the newest entry after the origin that stored it crashed.
    pub async fn channels_active_since(
        &self,
        since: i64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name FROM channels WHERE last_seq > 0 AND last_at >= $1")
                .bind(since)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("name")?)))
            .collect()
    }
}
