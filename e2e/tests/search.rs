//! Search through the whole stack (edge in Viceroy → Pushpin → origin), on SQLite's FTS5 and
//! Postgres's full-text search alike: every word by prefix, newest first, a page at a time;
//! edits and deletes change what is found; a private room is searched by its members only; bad
//! queries get specific errors.

use std::collections::BTreeSet;

use anyhow::ensure;
use e2e::client::{Client, expect_status, two_through_the_edge};
use e2e::{Db, Stack, StackOptions, on_both_databases};
use reqwest::StatusCode;
use serde_json::Value;

on_both_databases!(
    search_pages_through_a_room_and_keeps_private_rooms_private,
    a_search_reaches_back_through_a_long_room,
    bad_searches_are_refused,
);

async fn edge_stack(db: Db) -> anyhow::Result<(Stack, Client, Client)> {
    let (stack, ann, bob) =
        two_through_the_edge(db, StackOptions::default(), ["ann", "bob"]).await?;
    ann.create_room("lobby", false).await?;
    Ok((stack, ann, bob))
}

/// The seqs of every result for `q`, following `next` page by page.
async fn every_result(client: &Client, slug: &str, q: &str) -> anyhow::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    let mut before = None;
    loop {
        let page = client.search(slug, q, before).await?;
        ensure!(page.messages.len() <= 20, "pages of 20 by default");
        seqs.extend(page.messages.iter().map(|m| m.seq));
        match page.next {
            Some(next) => before = Some(next),
            None => return Ok(seqs),
        }
    }
}

/// A room longer than the part Postgres searches by walking it (`origin::store::search`):
/// matches on both sides of that line, a miss, and a word in every message answer the same on
/// both databases.
async fn a_search_reaches_back_through_a_long_room(db: Db) -> anyhow::Result<()> {
    let stack = Stack::start(db).await?;
    let ann = Client::signed_up(stack.pushpin.client_url(), "ann").await?;
    ann.create_room("long", false).await?;
    // Messages `seeded message N wK`, K = N mod 1000.
    e2e::seed::messages(&stack.database_url, "long", 6_000).await?;
    let found = every_result(&ann, "long", "w123").await?;
    ensure!(
        found == [5123, 4123, 3123, 2123, 1123, 123],
        "found {found:?}"
    );
    let older = ann.search("long", "w123", Some(2123)).await?;
    let older: Vec<u64> = older.messages.iter().map(|m| m.seq).collect();
    ensure!(older == [1123, 123], "before 2123: {older:?}");
    let missed = every_result(&ann, "long", "zebra").await?;
    ensure!(missed.is_empty(), "zebra: {missed:?}");
    let everywhere = ann.search("long", "seeded", None).await?;
    let everywhere: Vec<u64> = everywhere.messages.iter().map(|m| m.seq).collect();
    ensure!(
        everywhere == (5981..=6000).rev().collect::<Vec<_>>(),
        "the newest page: {everywhere:?}"
    );
    Ok(())
}

async fn search_pages_through_a_room_and_keeps_private_rooms_private(db: Db) -> anyhow::Result<()> {
    let (_stack, ann, bob) = edge_stack(db).await?;
    let mut reports = Vec::new();
    for i in 1..=25 {
        reports.push(
            ann.post("lobby", &format!("Weekly report number {i}"))
                .await?
                .seq,
        );
    }
    let lunch = ann.post("lobby", "Lunch at noon? Café Grüße").await?.seq;
    bob.post("lobby", "reporting for duty").await?;

    // 26 messages start with "report" (one of them bob's "reporting"), newest first, in pages.
    let found = every_result(&bob, "lobby", "report").await?;
    ensure!(found.len() == 26, "found {found:?}");
    ensure!(
        found.windows(2).all(|w| w[0] > w[1]),
        "newest first: {found:?}"
    );
    let first = bob.search("lobby", "report", None).await?;
    ensure!(first.messages.len() == 20 && first.next == Some(first.messages[19].seq));

    // Every word must match, each as a prefix, whatever the case and punctuation.
    ensure!(every_result(&bob, "lobby", "WEEK num 7").await? == [reports[6]]);
    ensure!(every_result(&bob, "lobby", "café, grüße!").await? == [lunch]);
    ensure!(
        every_result(&bob, "lobby", "report lunch")
            .await?
            .is_empty()
    );

    // An edit changes what is found; a deleted message is never found again.
    ann.edit("lobby", lunch, "Dinner at eight").await?;
    ensure!(every_result(&bob, "lobby", "lunch").await?.is_empty());
    ensure!(every_result(&bob, "lobby", "dinner eight").await? == [lunch]);
    ann.delete("lobby", reports[0]).await?;
    ensure!(every_result(&bob, "lobby", "weekly").await?.len() == 24);
    ensure!(
        every_result(&bob, "lobby", "number 1").await?.len() == 10,
        "1 and 10–19"
    );

    // A private room: its members search it; to anyone else it does not exist.
    ann.create_room("secret", true).await?;
    let plan = ann.post("secret", "the secret plan").await?.seq;
    ensure!(every_result(&ann, "secret", "plan").await? == [plan]);
    let response = bob
        .search_raw("secret", &[("q", "plan".to_owned())])
        .await?;
    let body: Value = expect_status(response, StatusCode::NOT_FOUND)
        .await?
        .json()
        .await?;
    ensure!(body["error"]["code"] == "not_found", "{body}");
    ensure!(
        every_result(&bob, "lobby", "plan").await?.is_empty(),
        "one room's search never finds another's"
    );
    Ok(())
}

async fn bad_searches_are_refused(db: Db) -> anyhow::Result<()> {
    let (_stack, ann, bob) = edge_stack(db).await?;
    ann.post("lobby", "hello").await?;
    let q = |q: &str| ("q", q.to_owned());
    let cases = [
        (vec![], StatusCode::BAD_REQUEST, "bad_query"),
        (vec![q(" ?! ")], StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        (
            vec![q("a b c d e f g h i")],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![q(&"x".repeat(201))],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![q("hi"), ("limit", "0".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![q("hi"), ("limit", "51".into())],
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            vec![q("hi"), ("before", "soon".into())],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            vec![q("hi"), ("sort", "asc".into())],
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
    ];
    for (i, (query, status, code)) in cases.into_iter().enumerate() {
        let response = bob.search_raw("lobby", &query).await?;
        let body: Value = expect_status(response, status).await?.json().await?;
        ensure!(body["error"]["code"] == code, "case {i}: {body}");
    }
    let nowhere = bob.search_raw("nowhere", &[q("hi")]).await?;
    expect_status(nowhere, StatusCode::NOT_FOUND).await?;
    let anonymous = bob.with_token(None).search_raw("lobby", &[q("hi")]).await?;
    expect_status(anonymous, StatusCode::UNAUTHORIZED).await?;

    // A burst of searches is cut off with 429 and Retry-After; others are not affected.
    let hello = [q("hello")];
    let burst = (0..40).map(|_| bob.search_raw("lobby", &hello));
    let mut statuses = BTreeSet::new();
    for response in futures_util::future::join_all(burst).await {
        let response = response?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            ensure!(response.headers().contains_key("retry-after"));
        }
        statuses.insert(response.status());
    }
    ensure!(
        statuses == BTreeSet::from([StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]),
        "{statuses:?}"
    );
    ensure!(ann.search("lobby", "hello", None).await?.messages.len() == 1);
    Ok(())
}
