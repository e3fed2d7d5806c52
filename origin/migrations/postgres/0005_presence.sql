-- Who is in which room now (origin/src/chat/presence.rs): one row per device of a user, kept
-- fresh by its heartbeats and forgotten when they stop. In the database rather than in one
-- origin's memory, so that every origin agrees on who is online.
CREATE TABLE presence (
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    user_id    TEXT   NOT NULL REFERENCES users (id),
    -- Names never change: stored here, listing who is online reads one table.
    user_name  TEXT   NOT NULL,
    device     TEXT   NOT NULL,
    -- The last heartbeat (Unix ms).
    seen_at    BIGINT NOT NULL,
    PRIMARY KEY (channel_id, user_id, device)
);
CREATE INDEX presence_by_seen ON presence (seen_at);
