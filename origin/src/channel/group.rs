//! Group commit: the appends to a channel that arrive while its previous appends are being
//! written share one transaction, so they wait for one commit (one fsync on SQLite) together
//! instead of each for its own.
//!
//! Appends to one channel take turns on its row anyway (`Store::append_in`), and each waited for
//! its own commit: 16 posters reached a third of a bare insert loop (docs/BENCHMARKS.md, *The
//! post path*). Here the first append to a quiet channel opens a group and starts the group's
//! driver; appends that arrive before the driver commits join it and write inside the same
//! transaction, each in a savepoint of its own (a refusal or a retry undoes only itself). Once
//! every member has written, the driver closes the group, commits, and queues the members'
//! publish items in the order they wrote, which is seq order. An append arriving after that
//! opens the channel's next group, whose driver begins once this one has queued its items (the
//! channel's lock, [`super::log::ChannelLocks`]): publishes go out in seq order.
//!
//! The driver is a task of its own, so a member whose request is dropped half-way (its client
//! went away) cannot leave the others waiting for a commit that never comes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use sqlx::{Any, Transaction};
use tokio::sync::{Notify, OwnedMutexGuard, watch};

use super::log::Channels;
use crate::error::{ApiError, ApiResult};
use crate::store::Channel;

type Tx = Transaction<'static, Any>;

/// Most members of one group. Members that keep arriving while others write would keep a
/// group open, and its members waiting, for as long as they come; at this many the next
/// arrival opens the channel's next group instead. Each member writes for about 0.1 ms, so a
/// full group is open for a few tens of milliseconds.
const MAX_MEMBERS: usize = 256;

/// The open group of each channel that has one.
pub struct Groups {
    open: Mutex<HashMap<i64, Arc<Group>>>,
    /// Counts each group's commit (`chat_append_commits_total`).
    commits: Counter,
}

impl Groups {
    pub fn new(commits: Counter) -> Groups {
        Groups {
            open: Mutex::default(),
            commits,
        }
    }
}

struct Group {
    /// The shared transaction. The driver holds the lock until it has begun, so members queue
    /// for it in arrival order; `None` if it could not begin.
    tx: Arc<tokio::sync::Mutex<Option<Tx>>>,
    /// Members that joined, in all; only changed under the `open` lock.
    joined: AtomicUsize,
    /// Members that joined and have not finished writing.
    writing: AtomicUsize,
    /// Told when `writing` falls to 0.
    written: Notify,
    /// The members' publish items, in the order they wrote.
    items: Mutex<Vec<String>>,
    /// The commit's outcome once known (`Err`: why it failed).
    committed: watch::Sender<Option<Result<(), String>>>,
}

/// A member that has joined and not finished writing; leaving, however it leaves, counts.
struct Writing(Arc<Group>);

impl Drop for Writing {
    fn drop(&mut self) {
        if self.0.writing.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.written.notify_one();
        }
    }
}

/// An append in a group: holds the shared transaction while it writes.
pub struct Member {
    // Declared first, so dropped first: the transaction is free before the member counts as
    // written.
    tx: OwnedMutexGuard<Option<Tx>>,
    writing: Writing,
}

impl Member {
    /// The group's transaction, to write in (in a savepoint of one's own).
    pub fn tx(&mut self) -> &mut Tx {
        self.tx.as_mut().expect("checked when joining")
    }

    /// Done writing: waits for the group's commit, after which the driver queues `item` (what
    /// this member appended, if anything) in its turn.
    pub async fn commit(self, item: Option<String>) -> ApiResult<()> {
        let group = self.writing.0.clone();
        group.items.lock().expect("items lock").extend(item);
        drop(self);
        let mut committed = group.committed.subscribe();
        let outcome = committed
            .wait_for(Option::is_some)
            .await
            .map_err(|_| internal("the group's driver ended without committing"))?
            .clone()
            .expect("waited for Some");
        outcome.map_err(|err| internal(&err))
    }
}

impl Channels {
    /// Joins the channel's open group (opening one if there is none) and waits for its
    /// transaction, for this member's turn to write in it.
    pub(super) async fn join_group(&self, channel: &Channel) -> ApiResult<Member> {
        let writing = self.join(channel);
        let tx = writing.0.tx.clone().lock_owned().await;
        if tx.is_none() {
            return Err(internal("the group's transaction could not begin"));
        }
        Ok(Member { tx, writing })
    }

    /// Joins the channel's open group, or opens one (the first, or the next once the open one
    /// is full) and starts its driver.
    fn join(&self, channel: &Channel) -> Writing {
        let mut open = self.groups.open.lock().expect("groups lock");
        if let Some(group) = open.get(&channel.id)
            && group.joined.fetch_add(1, Ordering::SeqCst) < MAX_MEMBERS
        {
            group.writing.fetch_add(1, Ordering::SeqCst);
            return Writing(group.clone());
        }
        let tx = Arc::new(tokio::sync::Mutex::new(None));
        let beginning = tx.clone().try_lock_owned().expect("a new lock is free");
        let group = Arc::new(Group {
            tx,
            joined: AtomicUsize::new(1),
            writing: AtomicUsize::new(1),
            written: Notify::new(),
            items: Mutex::default(),
            committed: watch::Sender::new(None),
        });
        open.insert(channel.id, group.clone());
        tokio::spawn(
            self.clone()
                .drive(channel.clone(), group.clone(), beginning),
        );
        Writing(group)
    }

    /// The group's life: begin, wait until every member has written, close, commit, queue the
    /// publish items, tell the members.
    async fn drive(
        self,
        channel: Channel,
        group: Arc<Group>,
        mut beginning: OwnedMutexGuard<Option<Tx>>,
    ) {
        let _order = self.locks.lock(channel.id).await;
        match self.store.begin_read_write().await {
            Ok(tx) => *beginning = Some(tx),
            Err(err) => {
                let channel = &channel.name;
                tracing::error!(%channel, error = %err, "could not begin a group of appends");
            }
        }
        drop(beginning);
        while !self.close_if_written(channel.id, &group) {
            group.written.notified().await;
        }
        let tx = group.tx.lock().await.take();
        let outcome = match tx {
            Some(tx) => tx
                .commit()
                .await
                .map_err(|err| format!("committing a group of appends: {err}")),
            None => Err("the group's transaction could not begin".to_owned()),
        };
        if outcome.is_ok() {
            self.groups.commits.inc();
            for item in group.items.lock().expect("items lock").drain(..) {
                self.queue(&channel, item);
            }
        }
        group.committed.send_replace(Some(outcome));
    }

    /// Closes the group to new members if every member has written: true if it did. Joining
    /// takes the same lock, so no member can join between the count and the close. A full
    /// group has already been replaced by the channel's next one, which stays open.
    fn close_if_written(&self, channel_id: i64, group: &Arc<Group>) -> bool {
        let mut open = self.groups.open.lock().expect("groups lock");
        if group.writing.load(Ordering::SeqCst) > 0 {
            return false;
        }
        if open.get(&channel_id).is_some_and(|g| Arc::ptr_eq(g, group)) {
            open.remove(&channel_id);
        }
        true
    }
}

fn internal(why: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("{why}"))
}

#[cfg(test)]
mod tests {
    use e2e::{Db, TestDatabase};
    use shared::chat::Message;
    use uuid::Uuid;

    use super::*;
    use crate::channel::heads::Heads;
    use crate::channel::publish::Publisher;
    use crate::config::GripConfig;
    use crate::metrics::Metrics;
    use crate::store::Store;

    e2e::on_both_databases!(a_flood_of_appends_fills_groups_in_turn_and_loses_none);

    /// Three full groups' worth of appends to one channel, all at once: each is stored once,
    /// with gapless seqs, in fewer commits than appends but no fewer than full groups allow.
    async fn a_flood_of_appends_fills_groups_in_turn_and_loses_none(db: Db) -> anyhow::Result<()> {
        let database = TestDatabase::create(db).await?;
        let store = Store::connect(&database.url).await?;
        let channel = store.ensure_channel("room-flood").await?;
        // Nobody listens there: publishing fails, which appending does not wait for.
        let grip = GripConfig::parse("http://127.0.0.1:9/", Some("key"), Some("iss"))?;
        let metrics = Arc::new(Metrics::default());
        let (publisher, _publishing) = Publisher::spawn(&grip, metrics.clone(), Heads::channel().0);
        let channels = Channels {
            store: store.clone(),
            locks: Arc::default(),
            groups: Arc::new(Groups::new(metrics.append_commits.clone())),
            publisher,
        };
        const APPENDS: usize = 3 * MAX_MEMBERS;
        let appends: Vec<_> = (0..APPENDS)
            .map(|i| {
                let (channels, channel) = (channels.clone(), channel.clone());
                tokio::spawn(async move {
                    let dedupe = format!("k{i}");
                    let appended = channels
                        .append(&channel, Some(&dedupe), |seq| Message {
                            room: "flood".into(),
                            seq,
                            id: Uuid::new_v4(),
                            author: "ana".into(),
                            body: format!("m{i}"),
                            sent_at: time::OffsetDateTime::now_utc(),
                            client_id: dedupe.clone(),
                            edited_at: None,
                            deleted: false,
                            amends: None,
                        })
                        .await?;
                    anyhow::Ok(appended.entry.seq)
                })
            })
            .collect();
        let mut seqs = Vec::new();
        for append in appends {
            seqs.push(append.await??);
        }
        seqs.sort_unstable();
        anyhow::ensure!(
            seqs == (1..=APPENDS as u64).collect::<Vec<_>>(),
            "seqs {seqs:?}"
        );
        anyhow::ensure!(store.last_seq(channel.id).await? == APPENDS as u64);
        let commits = metrics.append_commits.get();
        anyhow::ensure!(
            (3..APPENDS as u64).contains(&commits),
            "{APPENDS} appends took {commits} commits"
        );
        Ok(())
    }
}
