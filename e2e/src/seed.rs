//! Rooms filled straight in the database: a large history in seconds, for benchmarks, and for
//! tests that need messages stored but never published (as when an origin dies between the
//! two, at scale).

use sqlx::any::AnyPoolOptions;

/// Inserts `size` messages into room `slug` with one statement and sets its `last_seq`.
pub async fn messages(url: &str, slug: &str, size: usize) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    // Message ids are UUIDs; seeded ones are 00000000-0000-4000-8000-<seq, 12 digits>.
    let (series, uuid_tail) = if url.starts_with("sqlite:") {
        (
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $2) SELECT n FROM s",
            "substr('000000000000' || s.n, -12)",
        )
    } else {
        (
            "SELECT generate_series(1, $2) AS n",
            "lpad(s.n::text, 12, '0')",
        )
    };
    // The payload is a message's JSON, as the origin stores it, and `search_text` its words
    // (`seeded message N wK`, K = N mod 1000: words common and rare, for the search benchmark).
    let words = "'seeded message ' || s.n || ' w' || (s.n % 1000)";
    let insert = format!(
        "INSERT INTO entries (channel_id, seq, payload, search_text) \
         SELECT r.channel_id, s.n, '{{\"room\":\"' || r.slug || '\",\"seq\":' || s.n || \
                ',\"id\":\"00000000-0000-4000-8000-' || {uuid_tail} || '\",\"author\":\"owner\",' || \
                '\"body\":\"' || {words} || '\",\"sent_at\":\"1970-01-01T00:00:00Z\",' || \
                '\"client_id\":\"seed-' || s.n || '\"}}', {words} \
         FROM rooms r, ({series}) s WHERE r.slug = $1"
    );
    let mut tx = pool.begin().await?;
    sqlx::query(&insert)
        .bind(slug)
        .bind(size as i64)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE channels SET last_seq = $1 \
         WHERE id = (SELECT channel_id FROM rooms WHERE slug = $2)",
    )
    .bind(size as i64)
    .bind(slug)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // A bulk insert leaves the planner's statistics stale (Postgres autovacuum catches up
    // later, maybe mid-measurement): refresh them now, as a real deployment would have them.
    sqlx::query("ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(())
}
