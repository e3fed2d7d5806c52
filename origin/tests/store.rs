//! The store suite, run against SQLite and Postgres alike: one binary, two stores, same answers.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::ensure;
use e2e::{Db, TestDatabase, on_both_databases};
use origin::store::{Channel, Store, StoreError, Stored};
use shared::api::{Room, User};
use shared::chat::Message;
use shared::publish::ChainId;
use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use uuid::Uuid;

on_both_databases!(
    names_and_slugs_are_unique,
    names_are_unique_whatever_their_case,
    sessions_end_one_by_one_or_all_at_once,
    private_rooms_are_visible_to_members_only,
    concurrent_posts_get_gapless_seqs,
    a_client_id_posts_once_even_when_raced,
    pages_read_forwards_and_backwards,
    the_publish_chain_links_messages_and_heads,
    a_refused_entry_leaves_no_trace,
    channels_that_forget_keep_their_seqs,
    messages_survive_the_move_to_channels,
    search_finds_every_word_by_prefix_in_one_room,
    unread_counts_messages_by_others_after_the_mark,
    concurrent_heartbeats_all_count,
);

async fn fresh(db: Db) -> anyhow::Result<(Store, TestDatabase)> {
    let database = TestDatabase::create(db).await?;
    let store = Store::connect(&database.url).await?;
    Ok((store, database))
}

/// Appends a chat message by `author`, deduplicated by its `client_id` as chat does; returns
/// the message, whether it is new, and the chain link its publish follows.
async fn post(
    store: &Store,
    channel: &Channel,
    author: &User,
    client_id: &str,
    body: &str,
) -> anyhow::Result<(Message, bool, ChainId)> {
    let dedupe = format!("{} {client_id}", author.id);
    let stored = store
        .append(channel.id, Some(&dedupe), |slot| {
            let message = Message {
                room: channel.name.trim_start_matches("room-").to_owned(),
                seq: slot.seq,
                id: Uuid::new_v4(),
                author: author.name.clone(),
                body: body.to_owned(),
                sent_at: time::OffsetDateTime::now_utc(),
                client_id: client_id.to_owned(),
                edited_at: None,
                deleted: false,
                amends: None,
            };
            Ok((message, slot.follows))
        })
        .await?;
    Ok(match stored {
        Stored::New { entry, with } => (entry, true, with),
        Stored::Existing(entry) => (entry, false, ChainId::message(0)),
    })
}

fn room(slug: &str, private: bool) -> Room {
    Room {
        slug: slug.into(),
        title: slug.to_uppercase(),
        private,
        unread: None,
    }
}

async fn names_and_slugs_are_unique(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "hash").await?;
    ensure!(matches!(
        store.create_user("ann", "other").await,
        Err(StoreError::Conflict)
    ));
    ensure!(store.user_by_name("ann").await?.unwrap().user == ann);
    ensure!(store.user_by_name("nobody").await?.is_none());

    store.create_room(&room("lobby", false), ann.id).await?;
    ensure!(matches!(
        store.create_room(&room("lobby", true), ann.id).await,
        Err(StoreError::Conflict)
    ));
    let lobby = store.room_by_slug("lobby").await?.unwrap();
    ensure!(
        lobby.room == room("lobby", false)
            && lobby.owner_id == ann.id
            && lobby.channel.name == "room-lobby"
            && lobby.channel.last_seq == 0
    );
    Ok(())
}

async fn names_are_unique_whatever_their_case(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("Ann", "hash").await?;
    ensure!(matches!(
        store.create_user("ann", "other").await,
        Err(StoreError::Conflict)
    ));
    let found = store.user_by_name("ANN").await?.unwrap();
    ensure!(
        found.user == ann && found.user.name == "Ann",
        "found as written at sign-up"
    );
    Ok(())
}

async fn sessions_end_one_by_one_or_all_at_once(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let bob = store.create_user("bob", "h").await?;
    let laptop = store.start_session(ann.id, 4_000_000_000).await?;
    let phone = store.start_session(ann.id, 4_000_000_000).await?;
    let bobs = store.start_session(bob.id, 4_000_000_000).await?;
    ensure!(store.live_session(laptop).await? == Some(ann.id));
    ensure!(
        store.live_session(laptop).await? != Some(bob.id),
        "a session is its user's only"
    );

    let expired = store.start_session(bob.id, 1).await?;
    ensure!(
        store.live_session(expired).await?.is_none(),
        "an expired session is not live"
    );

    store.end_session(laptop).await?;
    ensure!(store.live_session(laptop).await?.is_none());
    ensure!(store.live_session(phone).await? == Some(ann.id));

    let ended = store.end_sessions_of(ann.id).await?;
    ensure!(ended == vec![phone], "only the live ones: {ended:?}");
    ensure!(store.live_session(phone).await?.is_none());
    ensure!(
        store.live_session(bobs).await? == Some(bob.id),
        "others are untouched"
    );
    Ok(())
}

async fn private_rooms_are_visible_to_members_only(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let bob = store.create_user("bob", "h").await?;
    store.create_room(&room("open", false), ann.id).await?;
    let secret = store.create_room(&room("secret", true), ann.id).await?;

    let slugs = |rooms: Vec<Room>| rooms.into_iter().map(|r| r.slug).collect::<Vec<_>>();
    let visible = |user| store.rooms_visible_to(user, "", 100);
    ensure!(slugs(visible(ann.id).await?) == ["open", "secret"]);
    ensure!(slugs(visible(bob.id).await?) == ["open"]);
    ensure!(
        slugs(store.rooms_visible_to(ann.id, "", 1).await?) == ["open"],
        "pages are by slug"
    );
    ensure!(slugs(store.rooms_visible_to(ann.id, "open", 1).await?) == ["secret"]);
    let may = |user| store.room_for("secret", user);
    ensure!(may(ann.id).await?.is_some(), "the owner is a member");
    ensure!(may(bob.id).await?.is_none());
    ensure!(
        store.room_for("open", bob.id).await?.is_some(),
        "a public room is anyone's"
    );
    ensure!(store.room_for("nowhere", bob.id).await?.is_none());

    store.add_member(&secret, bob.id).await?;
    store.add_member(&secret, bob.id).await?;
    ensure!(may(bob.id).await?.is_some());
    ensure!(slugs(visible(bob.id).await?) == ["open", "secret"]);

    ensure!(store.remove_member(&secret, bob.id).await?);
    ensure!(!store.remove_member(&secret, bob.id).await?, "once");
    ensure!(may(bob.id).await?.is_none());
    Ok(())
}

async fn concurrent_posts_get_gapless_seqs(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    let other = store.create_room(&room("other", false), ann.id).await?;

    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (store, ann, lobby, other) = (store.clone(), ann.clone(), lobby.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let client_id = format!("w{writer}-{i}");
                let (message, new, _) = post(&store, &lobby.channel, &ann, &client_id, "x").await?;
                anyhow::ensure!(new);
                seqs.push(message.seq);
                // Interleave a second room: its seqs must not disturb the first.
                post(&store, &other.channel, &ann, &client_id, "x").await?;
            }
            anyhow::Ok(seqs)
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        for seq in task.await?? {
            ensure!(all.insert(seq), "seq {seq} handed out twice");
        }
    }
    let total = (WRITERS * EACH) as u64;
    ensure!(all == (1..=total).collect(), "seqs are exactly 1..={total}");
    ensure!(store.room_by_slug("lobby").await?.unwrap().channel.last_seq == total);
    ensure!(store.room_by_slug("other").await?.unwrap().channel.last_seq == total);
    Ok(())
}

async fn a_client_id_posts_once_even_when_raced(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let bob: User = store.create_user("bob", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (store, ann, lobby) = (store.clone(), ann.clone(), lobby.clone());
        tasks.push(tokio::spawn(async move {
            post(&store, &lobby.channel, &ann, "same", "once").await
        }));
    }
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for task in tasks {
        let (message, new, _) = task.await??;
        created += usize::from(new);
        ids.insert(message.id);
    }
    ensure!(
        created == 1 && ids.len() == 1,
        "one message, {created} created, {} ids",
        ids.len()
    );

    // The same client_id from someone else is their own message.
    let (message, new, _) = post(&store, &lobby.channel, &bob, "same", "mine").await?;
    ensure!(
        new && message.seq == 2,
        "no seq was burnt by the race: {}",
        message.seq
    );
    Ok(())
}

async fn pages_read_forwards_and_backwards(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    for i in 1..=10 {
        post(
            &store,
            &lobby.channel,
            &ann,
            &format!("c{i}"),
            &format!("m{i}"),
        )
        .await?;
    }
    let id = lobby.channel.id;
    let seqs = |m: Vec<Message>| m.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    ensure!(seqs(store.entries_after(id, 7, 100).await?) == [8, 9, 10]);
    ensure!(seqs(store.entries_after(id, 0, 3).await?) == [1, 2, 3]);
    ensure!(seqs(store.entries_after(id, 10, 3).await?).is_empty());
    ensure!(seqs(store.entries_before(id, None, 3).await?) == [8, 9, 10]);
    ensure!(seqs(store.entries_before(id, Some(4), 10).await?) == [1, 2, 3]);
    let m: Message = store.entries_after(id, 4, 1).await?.remove(0);
    ensure!(m.body == "m5" && m.author == "ann" && m.room == "lobby" && m.client_id == "c5");
    Ok(())
}

async fn the_publish_chain_links_messages_and_heads(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    let link = |seq, heads| ChainId { seq, heads };
    let post = |client_id: &'static str| {
        let (store, ann, lobby) = (store.clone(), ann.clone(), lobby.clone());
        async move {
            let (_, new, follows) = post(&store, &lobby.channel, &ann, client_id, "x").await?;
            anyhow::Ok(new.then_some(follows))
        }
    };
    let tail = || async { anyhow::Ok(store.room_by_slug("lobby").await?.unwrap().channel.chain) };
    let id = lobby.channel.id;

    ensure!(
        tail().await? == link(0, 0),
        "an empty room's chain starts at 0"
    );
    ensure!(post("c1").await? == Some(link(0, 0)));
    ensure!(store.announce_head(id).await? == Some(link(1, 1)));
    ensure!(store.announce_head(id).await? == Some(link(1, 2)));
    ensure!(tail().await? == link(1, 2), "holds read the tail");
    ensure!(
        post("c2").await? == Some(link(1, 2)),
        "the next message follows the last head"
    );
    ensure!(
        tail().await? == link(2, 0),
        "and the old heads no longer count"
    );
    ensure!(post("c3").await? == Some(link(2, 0)));
    ensure!(post("c3").await?.is_none(), "a retry publishes nothing");
    ensure!(store.announce_head(id).await? == Some(link(3, 1)));
    ensure!(
        store.announce_head(i64::MAX).await?.is_none(),
        "no such channel"
    );

    let lately = store.channels_active_since(0).await?;
    ensure!(lately == vec![(id, "room-lobby".to_owned())], "{lately:?}");
    let future = i64::MAX;
    ensure!(store.channels_active_since(future).await?.is_empty());
    Ok(())
}

async fn a_refused_entry_leaves_no_trace(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    let refused = store
        .append::<Message, ()>(lobby.channel.id, None, |_| {
            Err(StoreError::TooLarge(70_000))
        })
        .await;
    ensure!(matches!(refused, Err(StoreError::TooLarge(70_000))));
    let (message, _, _) = post(&store, &lobby.channel, &ann, "c1", "after").await?;
    ensure!(message.seq == 1, "the refused entry gave its seq back");
    ensure!(store.last_seq(lobby.channel.id).await? == 1);
    Ok(())
}

async fn channels_that_forget_keep_their_seqs(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let channel = store.ensure_channel("dashboard-test").await?;
    ensure!(
        store.ensure_channel("dashboard-test").await? == channel,
        "created once"
    );
    for i in 1..=6 {
        post(&store, &channel, &ann, &format!("c{i}"), "x").await?;
    }
    ensure!(store.forget_entries(channel.id, 4).await? == 4);
    let kept: Vec<Message> = store.entries_after(channel.id, 0, 10).await?;
    ensure!(kept.iter().map(|m| m.seq).collect::<Vec<_>>() == [5, 6]);
    let (next, _, _) = post(&store, &channel, &ann, "c7", "x").await?;
    ensure!(next.seq == 7, "seqs go on where they were");
    Ok(())
}

/// A database of the release before the channel core (migrations 0001–0003: messages in their
/// own table, seqs on the room) keeps every message through 0004, and the room goes on from
/// there: the next post follows the old chain tail, and an old `client_id` still posts once.
async fn messages_survive_the_move_to_channels(db: Db) -> anyhow::Result<()> {
    let database = TestDatabase::create(db).await?;
    let dir = match db {
        Db::Sqlite => "migrations/sqlite",
        Db::Postgres => "migrations/postgres",
    };
    let mut before = Migrator::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).await?;
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version <= 3)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    ensure!(before.migrations.len() == 3);
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&database.url).await?;
    before.run(&pool).await?;

    let ann = Uuid::new_v4();
    let sent_at = 1_700_000_000_123_i64;
    sqlx::query(
        "INSERT INTO users (id, name, name_key, password_hash, created_at) \
         VALUES ($1, 'Ann', 'ann', 'hash', 0)",
    )
    .bind(ann.to_string())
    .execute(&pool)
    .await?;
    // The room had two messages and one head announced after the second.
    sqlx::query(
        "INSERT INTO rooms (slug, title, private, owner_id, last_seq, head_seq, heads, created_at) \
         VALUES ('lobby', 'Lobby', FALSE, $1, 2, 2, 1, 0)",
    )
    .bind(ann.to_string())
    .execute(&pool)
    .await?;
    let old: Vec<Message> = (1..=2)
        .map(|seq| Message {
            room: "lobby".into(),
            seq,
            id: Uuid::new_v4(),
            author: "Ann".into(),
            body: format!("before {seq}\n\"quoted\""),
            sent_at: time::OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(sent_at + seq as i64) * 1_000_000,
            )
            .expect("a valid time"),
            client_id: format!("c-{seq}"),
            edited_at: None,
            deleted: false,
            amends: None,
        })
        .collect();
    for message in &old {
        sqlx::query(
            "INSERT INTO messages (room_id, seq, id, author_id, author, body, client_id, sent_at) \
             VALUES ((SELECT id FROM rooms WHERE slug = 'lobby'), $1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(message.seq as i64)
        .bind(message.id.to_string())
        .bind(ann.to_string())
        .bind(&message.author)
        .bind(&message.body)
        .bind(&message.client_id)
        .bind(sent_at + message.seq as i64)
        .execute(&pool)
        .await?;
    }
    pool.close().await;

    // Connecting runs 0004.
    let store = Store::connect(&database.url).await?;
    let room = store
        .room_for("lobby", ann)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the room is gone"))?;
    ensure!(room.channel.name == "room-lobby");
    ensure!(store.last_seq(room.channel.id).await? == 2);
    let moved: Vec<Message> = store.entries_after(room.channel.id, 0, 10).await?;
    ensure!(moved == old, "moved {moved:?}\nwanted {old:?}");
    let found: Vec<Message> = store
        .search(
            room.channel.id,
            &["before".to_owned(), "1".to_owned()],
            None,
            10,
        )
        .await?;
    ensure!(
        found.iter().map(|m| m.seq).collect::<Vec<_>>() == [1],
        "0006 indexed the moved messages: {found:?}"
    );

    let author = User {
        id: ann,
        name: "Ann".into(),
    };
    let (next, new, follows) = post(&store, &room.channel, &author, "c-3", "after").await?;
    ensure!(new && next.seq == 3);
    ensure!(
        follows == ChainId { seq: 2, heads: 1 },
        "follows {follows:?}"
    );
    let (again, new, _) = post(&store, &room.channel, &author, "c-1", "a retry").await?;
    ensure!(
        !new && again == old[0],
        "an old client_id posted again: {again:?}"
    );
    Ok(())
}

async fn search_finds_every_word_by_prefix_in_one_room(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    let other = store.create_room(&room("other", false), ann.id).await?;
    let bodies = [
        "Grüße aus Berlin",
        "the quick brown fox",
        "quick-thinking QUICKSILVER",
        "don't stop",
        "nothing to see",
    ];
    for (i, body) in bodies.iter().enumerate() {
        post(&store, &lobby.channel, &ann, &format!("c{i}"), body).await?;
    }
    post(&store, &other.channel, &ann, "o", "quick elsewhere").await?;
    let search = |words: &[&str], before: Option<u64>| {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let store = store.clone();
        let channel = lobby.channel.id;
        async move {
            let found: Vec<Message> = store.search(channel, &words, before, 10).await?;
            anyhow::Ok(found.iter().map(|m| m.seq).collect::<Vec<_>>())
        }
    };
    ensure!(
        search(&["quick"], None).await? == [3, 2],
        "newest first, one room"
    );
    ensure!(
        search(&["quick"], Some(3)).await? == [2],
        "older than `before`"
    );
    ensure!(
        search(&["qui", "bro"], None).await? == [2],
        "every word, by prefix"
    );
    ensure!(
        search(&["grüße"], None).await? == [1],
        "letters beyond ASCII"
    );
    ensure!(search(&["berlin"], None).await? == [1], "case folded");
    ensure!(search(&["don", "t"], None).await? == [4]);
    ensure!(
        search(&["thinking"], None).await? == [3],
        "hyphens split words"
    );
    ensure!(search(&["zebra"], None).await?.is_empty());

    // An edit replaces the words; a delete removes them. The amendments are not found.
    let edit = |target: u64, body: Option<&str>| {
        let body = body.map(str::to_owned);
        store.amend::<Message, (), StoreError>(lobby.channel.id, target, move |slot, now| {
            let now = match &body {
                Some(body) => now.edited(body, time::OffsetDateTime::now_utc()),
                None => now.deleted(),
            };
            let amendment = now.amendment(slot.seq);
            Ok((now, amendment, ()))
        })
    };
    edit(2, Some("the slow zebra")).await?;
    ensure!(search(&["quick"], None).await? == [3]);
    ensure!(search(&["zebra"], None).await? == [2]);
    edit(3, None).await?;
    ensure!(search(&["quick"], None).await?.is_empty());
    ensure!(search(&["the"], None).await? == [2]);
    ensure!(search(&["see", "to"], None).await? == [5]);
    Ok(())
}

async fn unread_counts_messages_by_others_after_the_mark(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let bob = store.create_user("bob", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    let unread = |user: &User| {
        let store = store.clone();
        let user = user.clone();
        async move {
            let rooms = store
                .rooms_with_unread((user.id, &user.name), "", 10)
                .await?;
            anyhow::Ok(rooms[0].unread.map(|u| (u.count, u.more)))
        }
    };
    ensure!(unread(&bob).await? == Some((0, false)));
    for i in 0..3 {
        post(&store, &lobby.channel, &ann, &format!("a{i}"), "hi").await?;
    }
    post(&store, &lobby.channel, &bob, "b", "mine").await?;
    ensure!(unread(&bob).await? == Some((3, false)), "not his own");
    ensure!(unread(&ann).await? == Some((1, false)));

    ensure!(store.mark_read(bob.id, lobby.id, 2).await? == 2);
    ensure!(unread(&bob).await? == Some((1, false)));
    ensure!(
        store.mark_read(bob.id, lobby.id, 1).await? == 2,
        "a mark never moves back"
    );

    // Far behind: only the newest UNREAD_SCAN are counted, and `more` says so.
    for i in 0..shared::api::UNREAD_SCAN + 5 {
        post(&store, &lobby.channel, &ann, &format!("m{i}"), "more").await?;
    }
    let scan = shared::api::UNREAD_SCAN;
    ensure!(unread(&bob).await? == Some((scan, true)));
    ensure!(store.mark_read(bob.id, lobby.id, 100).await? == 100);
    ensure!(unread(&bob).await? == Some((9, false)));
    Ok(())
}

async fn concurrent_heartbeats_all_count(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let owner = store.create_user("owner", "h").await?;
    let lobby = store.create_room(&room("lobby", false), owner.id).await?;
    let mut users = Vec::new();
    for i in 0..32 {
        users.push(store.create_user(&format!("u{i}"), "h").await?);
    }
    // Each heartbeat reads (was the user online?) and then writes: all at once, none may fail.
    let beats = users.iter().map(|user| {
        let store = store.clone();
        let channel = lobby.channel.id;
        async move {
            store
                .heartbeat(channel, (user.id, &user.name), "d", 1_000, 0)
                .await
        }
    });
    let mut joined = 0;
    for beat in futures_util::future::join_all(beats).await {
        joined += usize::from(beat?.joined);
    }
    ensure!(joined == 32, "{joined} joins");
    ensure!(store.online(lobby.channel.id, 0).await?.len() == 32);
    Ok(())
}
