//! The browser app in real Chromium, through the whole stack (edge in Viceroy → Pushpin →
//! origin): two people chat, one switches transport, Fanout goes away and comes back, and
//! nothing is lost, repeated or reordered; the dashboard draws the origin's figures live and
//! keeps its lines whole across a Pushpin restart; unread badges move live, search jumps to a
//! message in context, and a message written with the stack away is sent once when it is back. Screenshots of the main screens are saved to
//! `target/e2e-artifacts/`.
//!
//! Needs the built app (`frontend/dist`) and the edge wasm; `cargo xtask test` builds both.

use std::time::Duration;

use anyhow::Context as _;
use e2e::browser::{Browser, Session, artifacts_dir, frontend_dist};
use e2e::{Db, OriginMode, Stack, StackOptions, wait_until};
use fantoccini::{Client, Locator};

/// Long enough for a reconnect with backoff after an outage, on a busy 2-core machine.
const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_chat_across_transports_and_an_outage() -> anyhow::Result<()> {
    let options = StackOptions {
        edge: true,
        frontend_dir: Some(frontend_dist()?),
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(Db::Sqlite, options).await?;
    let url = stack.front_url();
    let browser = Browser::start().await?;
    let ann = browser.session(1280, 800).await?;
    let bob = browser.session(390, 844).await?; // a phone-sized screen
    let result = scenario(&mut stack, &url, &ann, &bob).await;
    finish(result, "failure", &ann, &bob).await
}

/// Closes both browsers; after a failure, first leaves what each person saw (a screenshot and
/// the page's HTML, named `{prefix}-{who}`) for the failure report.
async fn finish(
    result: anyhow::Result<()>,
    prefix: &str,
    ann: &Session,
    bob: &Session,
) -> anyhow::Result<()> {
    if result.is_err() {
        for (who, session) in [("ann", ann), ("bob", bob)] {
            let _ = shot(session, &format!("{prefix}-{who}")).await;
            let html = session.client.source().await.unwrap_or_default();
            let path = artifacts_dir()?.join(format!("{prefix}-{who}.html"));
            let _ = std::fs::write(path, html);
        }
    }
    ann.client.clone().close().await?;
    bob.client.clone().close().await?;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_counts_search_and_an_offline_outbox() -> anyhow::Result<()> {
    let options = StackOptions {
        edge: true,
        frontend_dir: Some(frontend_dist()?),
        // A process of its own, so that the test can take it away.
        origin: OriginMode::Process(env!("CARGO_BIN_EXE_e2e-origin").into()),
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(Db::Sqlite, options).await?;
    let url = stack.front_url();
    let browser = Browser::start().await?;
    let ann = browser.session(1280, 800).await?;
    let bob = browser.session(390, 844).await?;
    let result = features(&mut stack, &url, &ann, &bob).await;
    finish(result, "failure-features", &ann, &bob).await
}

/// Unread badges that move live, search that jumps to a message in context, and messages
/// written offline that survive leaving the page and are sent once when the stack is back.
async fn features(
    stack: &mut Stack,
    url: &str,
    ann: &Session,
    bob: &Session,
) -> anyhow::Result<()> {
    let url = url.to_owned();
    sign_up(&ann.client, &url, "ann").await?;
    create_room(&ann.client, "lobby", "The Lobby").await?;
    sign_up(&bob.client, &url, "bob").await?;
    let badge = "const b = document.querySelector('#rooms li[data-slug=lobby] .unread');
                 return b ? b.textContent : ''";

    // Bob's room list counts Ann's messages as they come, without a reload.
    wait_text(&bob.client, badge, "").await?;
    send(&ann.client, "first news").await?;
    wait_text(&bob.client, badge, "1").await?;
    send(&ann.client, "second news").await?;
    wait_text(&bob.client, badge, "2").await?;
    shot(bob, "11-rooms-unread-phone").await?;

    // Reading the room moves his mark (stored, so another browser agrees), and the badge goes.
    bob.client.goto(&format!("{url}/rooms/lobby")).await?;
    wait_bodies(&bob.client, &["first news", "second news"]).await?;
    wait_text(
        &bob.client,
        "return document.getElementById('messages').dataset.read || ''",
        "2",
    )
    .await?;
    bob.client.goto(&url).await?;
    wait_text(&bob.client, badge, "").await?;

    // Search in a long room: a result jumps to the message in context, loading older pages.
    let carol = e2e::client::Client::signed_up(url.clone(), "carol").await?;
    carol.create_room("archive", false).await?;
    for n in 1..=150 {
        carol.post("archive", &format!("archived {n}")).await?;
    }
    bob.client.goto(&format!("{url}/rooms/archive")).await?;
    wait_live(&bob.client).await?;
    bob.client
        .find(Locator::Css("#search summary"))
        .await?
        .click()
        .await?;
    let query = bob.client.find(Locator::Id("search-query")).await?;
    query.send_keys("archived 7").await?;
    query.send_keys("\u{E007}").await?;
    let results = "return [...document.querySelectorAll('#search-results button[data-seq]')]
                   .map(b => b.dataset.seq).join(' ')";
    wait_text(&bob.client, results, "79 78 77 76 75 74 73 72 71 70 7").await?;
    bob.client
        .find(Locator::Css("#search-results button[data-seq='7']"))
        .await?
        .click()
        .await?;
    wait_text(
        &bob.client,
        "const m = document.querySelector('#messages li.message[aria-current=true]');
         if (!m) return '';
         const list = document.getElementById('messages').getBoundingClientRect();
         const r = m.getBoundingClientRect();
         return m.dataset.seq + (r.top >= list.top && r.bottom <= list.bottom ? ' in view' : ' hidden')",
        "7 in view",
    )
    .await?;
    shot(bob, "12-search-jump-phone").await?;

    // Ann writes while the whole stack behind the edge is gone: the message stays on screen
    // as pending, and in the browser's storage.
    ann.client.goto(&format!("{url}/rooms/lobby")).await?;
    wait_live(&ann.client).await?;
    stack.pushpin.stop();
    stack.origin.kill()?;
    send(&ann.client, "written offline").await?;
    let pending = "return [...document.querySelectorAll('#messages li.pending .body')]
                   .map(e => e.textContent).join('|')";
    wait_text(&ann.client, pending, "written offline").await?;
    let stored = "return localStorage.getItem('chat.outbox.ann.lobby') || ''";
    let kept = string(&ann.client, stored).await?;
    anyhow::ensure!(kept.contains("written offline"), "kept: {kept}");
    shot(ann, "13-outbox-offline").await?;

    // She leaves the page; the stack comes back; she opens the room again: sent, once.
    ann.client.goto("about:blank").await?;
    stack.origin.restart().await?;
    stack.pushpin.restart().await?;
    ann.client.goto(&format!("{url}/rooms/lobby")).await?;
    let sent = ["first news", "second news", "written offline"];
    wait_bodies(&ann.client, &sent).await?;
    wait_text(&ann.client, pending, "").await?;
    let emptied = "return localStorage.getItem('chat.outbox.ann.lobby') || '[]'";
    wait_text(&ann.client, emptied, "[]").await?;

    // Offline with the page open: it retries by itself once the origin is back.
    stack.origin.kill()?;
    send(&ann.client, "retried by itself").await?;
    wait_text(&ann.client, pending, "retried by itself").await?;
    stack.origin.restart().await?;
    let all = [
        "first news",
        "second news",
        "written offline",
        "retried by itself",
    ];
    wait_bodies(&ann.client, &all).await?;
    bob.client.goto(&format!("{url}/rooms/lobby")).await?;
    wait_bodies(&bob.client, &all).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_live_figures_across_a_pushpin_restart() -> anyhow::Result<()> {
    let options = StackOptions {
        edge: true,
        frontend_dir: Some(frontend_dist()?),
        dashboard_interval_ms: 250,
        ..StackOptions::default()
    };
    let mut stack = Stack::start_with(Db::Sqlite, options).await?;
    let url = stack.front_url();
    let browser = Browser::start().await?;
    let ann = browser.session(1280, 900).await?;
    let result = dashboard(&mut stack, &url, &ann).await;
    if result.is_err() {
        let _ = shot(&ann, "failure-dashboard").await;
        let html = ann.client.source().await.unwrap_or_default();
        let _ = std::fs::write(artifacts_dir()?.join("failure-dashboard.html"), html);
    }
    ann.client.clone().close().await?;
    result
}

/// What the dashboard shows: the seqs it holds, and the points each line of the posts chart
/// draws (its `data-points`, and the vertices of its path).
#[derive(Debug, serde::Deserialize)]
struct Drawn {
    first: u64,
    last: u64,
    count: u64,
    points: Vec<u64>,
    vertices: Vec<u64>,
    posts_top: String,
}

async fn drawn(client: &Client) -> anyhow::Result<Drawn> {
    let script = "const d = document.getElementById('dashboard');
        const lines = [...document.querySelectorAll('#posts path.line')];
        return {
            first: Number(d.dataset.firstSeq), last: Number(d.dataset.lastSeq),
            count: Number(d.dataset.count),
            points: lines.map(l => Number(l.dataset.points)),
            vertices: lines.map(l => (l.getAttribute('d').match(/[ML]/g) || []).length),
            posts_top: document.querySelector('#posts .top').textContent,
        };";
    Ok(serde_json::from_value(
        client.execute(script, vec![]).await?,
    )?)
}

/// Waits until the dashboard holds a gapless run of samples past `seq`, each drawn once.
async fn wait_drawn_past(client: &Client, seq: u64) -> anyhow::Result<Drawn> {
    wait_until(&format!("samples drawn past {seq}"), WAIT, || async {
        let d = drawn(client).await?;
        anyhow::ensure!(
            d.count == 0 || d.count == d.last - d.first + 1,
            "a hole in the samples: {d:?}"
        );
        anyhow::ensure!(
            d.points.iter().sum::<u64>() == d.count && d.points == d.vertices,
            "every sample is one point of one line: {d:?}"
        );
        Ok(d.last > seq)
    })
    .await?;
    drawn(client).await
}

async fn dashboard(stack: &mut Stack, url: &str, ann: &Session) -> anyhow::Result<()> {
    sign_up(&ann.client, url, "ann").await?;
    create_room(&ann.client, "lobby", "The Lobby").await?;
    for n in 0..6 {
        send(&ann.client, &format!("figure {n}")).await?;
    }
    ann.client
        .find(Locator::Id("nav-dashboard"))
        .await?
        .click()
        .await?;
    wait_live(&ann.client).await?;
    let before = wait_drawn_past(&ann.client, 8).await?;
    anyhow::ensure!(before.points.len() == 1, "one origin, one line: {before:?}");
    anyhow::ensure!(before.posts_top != "1/s", "the posts are drawn: {before:?}");
    shot(ann, "9-dashboard-live").await?;

    // Fanout goes away; the origin keeps sampling, and the page says it is reconnecting.
    stack.pushpin.stop();
    wait_status(&ann.client, "reconnecting").await?;
    let outage_from = drawn(&ann.client).await?.last;
    wait_until("samples stored during the outage", WAIT, || async {
        let store = stack.store().await?;
        let channel = store
            .channel_by_name(&shared::dashboard::dashboard_channel(
                shared::dashboard::SYSTEM,
            ))
            .await?;
        store.close().await;
        Ok(channel.is_some_and(|c| c.last_seq >= outage_from + 8))
    })
    .await?;

    // Back: the samples of the outage fill in, and the lines have no hole.
    stack.pushpin.restart().await?;
    wait_live(&ann.client).await?;
    let after = wait_drawn_past(&ann.client, outage_from + 10).await?;
    anyhow::ensure!(
        after.first <= outage_from,
        "the window still reaches back: {after:?}"
    );
    shot(ann, "10-dashboard-after-restart").await?;
    Ok(())
}

async fn scenario(
    stack: &mut Stack,
    url: &str,
    ann: &Session,
    bob: &Session,
) -> anyhow::Result<()> {
    let url = url.to_owned();
    sign_up(&ann.client, &url, "ann").await?;
    shot(ann, "1-rooms-empty").await?;
    create_room(&ann.client, "lobby", "The Lobby").await?;
    sign_up(&bob.client, &url, "bob").await?;
    shot(bob, "2-rooms-list-phone").await?;
    bob.client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#rooms a[href='/rooms/lobby']"))
        .await?
        .click()
        .await?;
    wait_live(&bob.client).await?;

    // Ann sends over the default transport (EventSource); Bob sees it, Ann sees it once.
    send(&ann.client, "hello from ann").await?;
    wait_bodies(&bob.client, &["hello from ann"]).await?;
    wait_bodies(&ann.client, &["hello from ann"]).await?;

    // Both are online in the room, with a dot; Ann types, and Bob sees it (it fades by itself).
    for client in [&ann.client, &bob.client] {
        wait_text(client, "return [...document.querySelectorAll('#members .member')].map(e => e.textContent).join(' ')", "ann bob").await?;
    }
    let composer = ann.client.find(Locator::Id("composer")).await?;
    composer.send_keys("hi").await?;
    wait_text(
        &bob.client,
        "return document.getElementById('typing').textContent",
        "ann is typing…",
    )
    .await?;
    shot(bob, "2b-room-typing-phone").await?;
    // Found again, and the draft is still there.
    let composer = ann.client.find(Locator::Id("composer")).await?;
    let draft = composer.prop("value").await?;
    anyhow::ensure!(draft.as_deref() == Some("hi"), "the draft is {draft:?}");
    composer.send_keys("\u{E003}\u{E003}").await?; // two backspaces: the draft is empty again
    wait_text(
        &bob.client,
        "return document.getElementById('typing').textContent",
        "",
    )
    .await?;

    // Text stays text.
    send(&ann.client, "<b>not bold</b>").await?;
    wait_bodies(&bob.client, &["hello from ann", "<b>not bold</b>"]).await?;
    let injected: i64 = number(
        &bob.client,
        "return document.querySelectorAll('#messages b').length",
    )
    .await?;
    assert_eq!(injected, 0, "a message body was rendered as HTML");

    // Bob switches to WebSocket; the switch is remembered across a reload below.
    choose_transport(&bob.client, "ws").await?;
    wait_live(&bob.client).await?;
    send(&ann.client, "over the websocket").await?;
    let so_far = ["hello from ann", "<b>not bold</b>", "over the websocket"];
    wait_bodies(&bob.client, &so_far).await?;
    shot(bob, "3-room-websocket-phone").await?;

    // Fanout goes away: Bob's stream is cut. Ann's posts still reach the origin (the edge
    // forwards them straight to it) and wait there.
    stack.pushpin.stop();
    wait_status(&bob.client, "reconnecting").await?;
    for body in ["one", "two", "three"] {
        send(&ann.client, body).await?;
    }
    wait_until("Ann's three posts stored", WAIT, || async {
        let stored = number(
            &ann.client,
            "return document.querySelectorAll('#messages li.pending').length",
        )
        .await?;
        let failed = number(
            &ann.client,
            "return [...document.querySelectorAll('#messages li.pending .state')].filter(e => e.textContent.startsWith('not sent')).length",
        )
        .await?;
        anyhow::ensure!(failed == 0, "a post failed while only Fanout was down");
        Ok(stored == 3)
    })
    .await?;
    shot(bob, "4-room-reconnecting-phone").await?;

    // Fanout is back: Bob recovers all three, once, in order.
    stack.pushpin.restart().await?;
    let all = [
        "hello from ann",
        "<b>not bold</b>",
        "over the websocket",
        "one",
        "two",
        "three",
    ];
    wait_bodies(&bob.client, &all).await?;
    wait_bodies(&ann.client, &all).await?;
    wait_live(&bob.client).await?;
    shot(ann, "5-room-after-outage").await?;

    // A reload shows the history, and the transport choice survived it.
    bob.client.refresh().await?;
    wait_bodies(&bob.client, &all).await?;
    let transport: String = string(
        &bob.client,
        "return document.getElementById('transport').value",
    )
    .await?;
    assert_eq!(transport, "ws");
    wait_live(&bob.client).await?;

    // And the stream still works after the reload.
    send(&bob.client, "back after a reload").await?;
    let mut with_reply = all.to_vec();
    with_reply.push("back after a reload");
    wait_bodies(&ann.client, &with_reply).await?;
    shot(bob, "6-room-after-reload-phone").await?;

    // A long room opens on its newest page; older pages load on request.
    let carol = e2e::client::Client::signed_up(url.clone(), "carol").await?;
    carol.create_room("archive", false).await?;
    let bodies: Vec<String> = (1..=60).map(|n| format!("archived {n}")).collect();
    for body in &bodies {
        carol.post("archive", body).await?;
    }
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    bob.client.goto(&format!("{url}/rooms/archive")).await?;
    wait_bodies(&bob.client, &bodies[10..]).await?;
    // Scrolling near the top loads the older page too, and may already have (the button then
    // goes): click it only if it is still there, in the page itself, so that the click cannot
    // land on a button that is gone.
    bob.client
        .execute(
            "const b = document.getElementById('load-older'); if (b) b.click();",
            vec![],
        )
        .await?;
    wait_bodies(&bob.client, &bodies).await?;

    // Long-poll, and the database restored from an older backup: Bob's cursor is now ahead of
    // the room. The next post's publish does not follow Bob's held poll, the proxy fetches its
    // next link, the origin answers `reset`, and the app reloads the room and goes on.
    bob.client.goto(&format!("{url}/rooms/lobby")).await?;
    choose_transport(&bob.client, "poll").await?;
    wait_bodies(&bob.client, &with_reply).await?;
    wait_live(&bob.client).await?;
    restore_backup(stack, "lobby", 3).await?;
    send(&ann.client, "after the restore").await?;
    let restored = [all[0], all[1], all[2], "after the restore"];
    wait_bodies_replacing(&bob.client, &with_reply, &restored).await?;
    wait_live(&bob.client).await?;
    shot(bob, "7-room-after-reset-long-poll-phone").await?;

    // A right-to-left override in a body stays inside it: the body is laid out on its own
    // (its direction from its own text), and names are isolated from what surrounds them.
    let reversed = "\u{202e}olleh, reversed";
    send(&ann.client, reversed).await?;
    let mut with_override = restored.to_vec();
    with_override.push(reversed);
    wait_bodies(&bob.client, &with_override).await?;
    let layout = string(
        &bob.client,
        "const item = [...document.querySelectorAll('#messages li.message')].pop();
         const style = (selector) => getComputedStyle(item.querySelector(selector)).unicodeBidi;
         return style('.body') + ' ' + style('.author');",
    )
    .await?;
    assert_eq!(layout, "plaintext isolate");
    shot(bob, "8-room-bidi-override-phone").await?;

    // Ann edits one of her messages and deletes another; Bob (long-poll) sees both in place,
    // and a reload (a replay from the start) shows the same: the new text, the tombstone.
    let edited = "after the restore, edited";
    amend(&ann.client, "after the restore", Some(edited)).await?;
    let mut after_edit = with_override.clone();
    after_edit[3] = edited;
    wait_bodies_replacing(&bob.client, &with_override, &after_edit).await?;
    amend(&ann.client, "over the websocket", None).await?;
    let mut after_delete = after_edit.clone();
    after_delete[2] = "message deleted";
    wait_bodies_replacing(&bob.client, &after_edit, &after_delete).await?;
    choose_transport(&bob.client, "sse").await?;
    bob.client.refresh().await?;
    wait_bodies(&bob.client, &after_delete).await?;
    let marks = string(
        &bob.client,
        "return [...document.querySelectorAll('#messages li.message')]
            .map(e => e.classList.contains('deleted') ? 'deleted' : e.querySelector('.edited') ? 'edited' : '-')
            .join(' ')",
    )
    .await?;
    assert_eq!(marks, "- - deleted edited -");
    shot(ann, "9-room-edited-and-deleted").await?;

    // A chat layout: however long the room, only the message list scrolls; the header and the
    // composer stay on screen, on a laptop and on a phone.
    for (who, session) in [("ann", ann), ("bob", bob)] {
        session.client.goto(&format!("{url}/rooms/archive")).await?;
        wait_bodies(&session.client, &bodies[10..]).await?;
        let layout = string(
            &session.client,
            "const inView = (e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; };
             const list = document.getElementById('messages');
             return [inView(document.querySelector('.room-head')), inView(document.getElementById('composer')),
                     document.scrollingElement.scrollHeight <= innerHeight, list.scrollHeight > list.clientHeight].join(' ')",
        )
        .await?;
        assert_eq!(
            layout, "true true true true",
            "{who}: header in view, composer in view, the page does not scroll, the list does"
        );
        shot(session, &format!("10-room-layout-{who}")).await?;
    }
    Ok(())
}

/// The author edits (`Some(new text)`) or deletes (`None`) her message whose text is `body`.
async fn amend(client: &Client, body: &str, edit: Option<&str>) -> anyhow::Result<()> {
    let line = format!(
        "//li[contains(@class,'message')][.//span[contains(@class,'body') and text()='{body}']]"
    );
    let button = if edit.is_some() { "edit" } else { "delete" };
    client
        .find(Locator::XPath(&format!(
            "{line}//button[contains(@class,'{button}')]"
        )))
        .await?
        .click()
        .await?;
    if let Some(text) = edit {
        let field = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("#messages .edit-body"))
            .await?;
        field.clear().await?;
        field.send_keys(text).await?;
        client
            .find(Locator::Css("#messages .edit-form .save"))
            .await?
            .click()
            .await?;
    }
    Ok(())
}

/// What restoring a backup from when `slug` had `keep` messages does to the room: the newer
/// messages are gone and their seqs will be handed out again.
async fn restore_backup(stack: &Stack, slug: &str, keep: i64) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&stack.database_url).await?;
    let channel: i64 = sqlx::query_scalar("SELECT channel_id FROM rooms WHERE slug = $1")
        .bind(slug)
        .fetch_one(&db)
        .await?;
    sqlx::query("DELETE FROM entries WHERE channel_id = $1 AND seq > $2")
        .bind(channel)
        .bind(keep)
        .execute(&db)
        .await?;
    sqlx::query("UPDATE channels SET last_seq = $2, head_seq = 0, heads = 0 WHERE id = $1")
        .bind(channel)
        .bind(keep)
        .execute(&db)
        .await?;
    db.close().await;
    Ok(())
}

async fn sign_up(client: &Client, url: &str, name: &str) -> anyhow::Result<()> {
    client.goto(url).await?;
    let form = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("name"))
        .await?;
    form.send_keys(name).await?;
    client
        .find(Locator::Id("password"))
        .await?
        .send_keys("correct horse battery")
        .await?;
    client.find(Locator::Id("sign-up")).await?.click().await?;
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("sign-out"))
        .await
        .with_context(|| format!("{name} signed up"))?;
    Ok(())
}

async fn create_room(client: &Client, slug: &str, title: &str) -> anyhow::Result<()> {
    client
        .find(Locator::Id("room-title"))
        .await?
        .send_keys(title)
        .await?;
    client
        .find(Locator::Id("room-slug"))
        .await?
        .send_keys(slug)
        .await?;
    client
        .find(Locator::Css("#new-room button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_live(client).await
}

async fn send(client: &Client, body: &str) -> anyhow::Result<()> {
    let composer = client.find(Locator::Id("composer")).await?;
    composer.send_keys(body).await?;
    // Enter sends.
    composer.send_keys("\u{E007}").await?;
    Ok(())
}

async fn choose_transport(client: &Client, key: &str) -> anyhow::Result<()> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!("#transport option[value='{key}']")))
        .await?
        .click()
        .await?;
    Ok(())
}

async fn wait_live(client: &Client) -> anyhow::Result<()> {
    wait_status(client, "live").await
}

async fn wait_status(client: &Client, status: &str) -> anyhow::Result<()> {
    let selector = format!("#status[data-status='{status}']");
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&selector))
        .await
        .with_context(|| format!("waiting for {selector}"))?;
    Ok(())
}

/// Waits until the delivered (not pending) messages are exactly `expected`, in this order,
/// with strictly increasing seqs. Fails at once on a repeat or a stranger.
async fn wait_bodies(client: &Client, expected: &[&str]) -> anyhow::Result<()> {
    wait_bodies_replacing(client, &[], expected).await
}

/// [`wait_bodies`] for a list that starts as `before` and is replaced (a reset), never mixed.
async fn wait_bodies_replacing(
    client: &Client,
    before: &[&str],
    expected: &[&str],
) -> anyhow::Result<()> {
    let script = "return [...document.querySelectorAll('#messages li.message:not(.pending)')]
        .map(e => [Number(e.dataset.seq), e.querySelector('.body').textContent])";
    wait_until(&format!("messages {expected:?}"), WAIT, || async {
        let value = client.execute(script, vec![]).await?;
        let shown: Vec<(u64, String)> = serde_json::from_value(value)?;
        let seqs: Vec<u64> = shown.iter().map(|(seq, _)| *seq).collect();
        anyhow::ensure!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "messages shown out of order or twice: {shown:?}"
        );
        let bodies: Vec<&str> = shown.iter().map(|(_, body)| body.as_str()).collect();
        // On the way there, what is shown is always a run of the expected messages (older pages
        // come in at the top, new messages at the bottom), never anything else.
        anyhow::ensure!(
            bodies.is_empty()
                || bodies == before
                || expected.windows(bodies.len()).any(|run| run == bodies),
            "unexpected messages shown: {bodies:?}, expected {expected:?}"
        );
        Ok(bodies == expected)
    })
    .await
}

/// Waits until `script` returns `expected`.
async fn wait_text(client: &Client, script: &str, expected: &str) -> anyhow::Result<()> {
    wait_until(&format!("{script} to give {expected:?}"), WAIT, || async {
        Ok(string(client, script).await? == expected)
    })
    .await
}

async fn number(client: &Client, script: &str) -> anyhow::Result<i64> {
    let value = client.execute(script, vec![]).await?;
    value
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("{script} gave {value}"))
}

async fn string(client: &Client, script: &str) -> anyhow::Result<String> {
    let value = client.execute(script, vec![]).await?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

async fn shot(session: &Session, name: &str) -> anyhow::Result<()> {
    let png = session.client.screenshot().await?;
    std::fs::write(artifacts_dir()?.join(format!("{name}.png")), png)?;
    Ok(())
}
