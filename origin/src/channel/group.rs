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

    /// Joins the channel's open group, or opens one and starts its driver.
    fn join(&self, channel: &Channel) -> Writing {
        let mut open = self.groups.open.lock().expect("groups lock");
        if let Some(group) = open.get(&channel.id) {
            group.writing.fetch_add(1, Ordering::SeqCst);
            return Writing(group.clone());
        }
        let tx = Arc::new(tokio::sync::Mutex::new(None));
        let beginning = tx.clone().try_lock_owned().expect("a new lock is free");
        let group = Arc::new(Group {
            tx,
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
        match self.store.begin_writes().await {
            Ok(tx) => *beginning = Some(tx),
            Err(err) => {
                tracing::error!(channel = %channel.name, error = %err, "could not begin a group of appends")
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
    /// takes the same lock, so no member can join between the count and the close.
    fn close_if_written(&self, channel_id: i64, group: &Group) -> bool {
        let mut open = self.groups.open.lock().expect("groups lock");
        if group.writing.load(Ordering::SeqCst) > 0 {
            return false;
        }
        open.remove(&channel_id);
        true
    }
}

fn internal(why: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("{why}"))
}
