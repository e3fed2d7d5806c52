//! The store suite, run against SQLite and Postgres alike: one binary, two stores, same answers.

use std::collections::BTreeSet;

use anyhow::ensure;
use e2e::{Db, TestDatabase, on_both_databases};
use origin::store::{NewMessage, Store, StoreError};
use shared::api::{Room, User};
use shared::publish::ChainId;

on_both_databases!(
    names_and_slugs_are_unique,
    names_are_unique_whatever_their_case,
    sessions_end_one_by_one_or_all_at_once,
    private_rooms_are_visible_to_members_only,
    concurrent_posts_get_gapless_seqs,
    a_client_id_posts_once_even_when_raced,
    pages_read_forwards_and_backwards,
    the_publish_chain_links_messages_and_heads,
);

async fn fresh(db: Db) -> anyhow::Result<(Store, TestDatabase)> {
    let database = TestDatabase::create(db).await?;
    let store = Store::connect(&database.url).await?;
    Ok((store, database))
}

fn room(slug: &str, private: bool) -> Room {
    Room {
        slug: slug.into(),
        title: slug.to_uppercase(),
        private,
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
    ensure!(lobby.room == room("lobby", false) && lobby.owner_id == ann.id && lobby.last_seq == 0);
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
    ensure!(store.session_is_live(laptop, ann.id).await?);
    ensure!(
        !store.session_is_live(laptop, bob.id).await?,
        "a session is its user's only"
    );

    store.end_session(laptop).await?;
    ensure!(!store.session_is_live(laptop, ann.id).await?);
    ensure!(store.session_is_live(phone, ann.id).await?);

    let ended = store.end_sessions_of(ann.id).await?;
    ensure!(ended == vec![phone], "only the live ones: {ended:?}");
    ensure!(!store.session_is_live(phone, ann.id).await?);
    ensure!(
        store.session_is_live(bobs, bob.id).await?,
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
    ensure!(
        store.may_access(&secret, ann.id).await?,
        "the owner is a member"
    );
    ensure!(!store.may_access(&secret, bob.id).await?);

    store.add_member(&secret, bob.id).await?;
    store.add_member(&secret, bob.id).await?;
    ensure!(store.may_access(&secret, bob.id).await?);
    ensure!(slugs(visible(bob.id).await?) == ["open", "secret"]);

    ensure!(store.remove_member(&secret, bob.id).await?);
    ensure!(!store.remove_member(&secret, bob.id).await?, "once");
    ensure!(!store.may_access(&secret, bob.id).await?);
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
                let new = NewMessage {
                    author: &ann,
                    body: "x",
                    client_id: &client_id,
                };
                let appended = store.append_message(&lobby, new).await?;
                anyhow::ensure!(appended.is_new());
                seqs.push(appended.message.seq);
                // Interleave a second room: its seqs must not disturb the first.
                store.append_message(&other, new).await?;
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
    ensure!(store.room_by_slug("lobby").await?.unwrap().last_seq == total);
    ensure!(store.room_by_slug("other").await?.unwrap().last_seq == total);
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
            let new = NewMessage {
                author: &ann,
                body: "once",
                client_id: "same",
            };
            store.append_message(&lobby, new).await
        }));
    }
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for task in tasks {
        let appended = task.await??;
        created += usize::from(appended.is_new());
        ids.insert(appended.message.id);
    }
    ensure!(
        created == 1 && ids.len() == 1,
        "one message, {created} created, {} ids",
        ids.len()
    );

    // The same client_id from someone else is their own message.
    let new = NewMessage {
        author: &bob,
        body: "mine",
        client_id: "same",
    };
    let appended = store.append_message(&lobby, new).await?;
    ensure!(
        appended.is_new() && appended.message.seq == 2,
        "no seq was burnt by the race: {}",
        appended.message.seq
    );
    Ok(())
}

async fn pages_read_forwards_and_backwards(db: Db) -> anyhow::Result<()> {
    let (store, _db) = fresh(db).await?;
    let ann = store.create_user("ann", "h").await?;
    let lobby = store.create_room(&room("lobby", false), ann.id).await?;
    for i in 1..=10 {
        let client_id = format!("c{i}");
        let body = format!("m{i}");
        store
            .append_message(
                &lobby,
                NewMessage {
                    author: &ann,
                    body: &body,
                    client_id: &client_id,
                },
            )
            .await?;
    }
    let seqs = |m: Vec<shared::message::Message>| m.into_iter().map(|m| m.seq).collect::<Vec<_>>();
    ensure!(seqs(store.messages_after(&lobby, 7, 100).await?) == [8, 9, 10]);
    ensure!(seqs(store.messages_after(&lobby, 0, 3).await?) == [1, 2, 3]);
    ensure!(seqs(store.messages_after(&lobby, 10, 3).await?).is_empty());
    ensure!(seqs(store.messages_before(&lobby, None, 3).await?) == [8, 9, 10]);
    ensure!(seqs(store.messages_before(&lobby, Some(4), 10).await?) == [1, 2, 3]);
    let m = store.messages_after(&lobby, 4, 1).await?.remove(0);
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
            let new = NewMessage {
                author: &ann,
                body: "x",
                client_id,
            };
            anyhow::Ok(store.append_message(&lobby, new).await?.follows)
        }
    };
    let tail = || async { anyhow::Ok(store.room_by_slug("lobby").await?.unwrap().chain) };

    ensure!(
        tail().await? == link(0, 0),
        "an empty room's chain starts at 0"
    );
    ensure!(post("c1").await? == Some(link(0, 0)));
    ensure!(store.announce_head(lobby.id).await? == Some(link(1, 1)));
    ensure!(store.announce_head(lobby.id).await? == Some(link(1, 2)));
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
    ensure!(store.announce_head(lobby.id).await? == Some(link(3, 1)));
    ensure!(
        store.announce_head(i64::MAX).await?.is_none(),
        "no such room"
    );

    let lately = store.rooms_active_since(0).await?;
    ensure!(lately == vec![(lobby.id, "lobby".to_owned())], "{lately:?}");
    let future = i64::MAX;
    ensure!(store.rooms_active_since(future).await?.is_empty());
    Ok(())
}
