-- The whole schema. Timestamps are Unix milliseconds and ids are text so that
-- the same queries run on SQLite and Postgres through sqlx's `Any` driver.

CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE rooms (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    title      TEXT    NOT NULL,
    private    BOOLEAN NOT NULL,
    owner_id   TEXT    NOT NULL REFERENCES users (id),
    -- The seq of the room's newest message. Posting bumps it in the same
    -- transaction that inserts the message: that row is the per-room lock
    -- which keeps seq gapless under concurrent posts.
    last_seq   BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL
);

CREATE TABLE room_members (
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    user_id TEXT   NOT NULL REFERENCES users (id),
    PRIMARY KEY (room_id, user_id)
);

CREATE TABLE messages (
    room_id   BIGINT NOT NULL REFERENCES rooms (id),
    seq       BIGINT NOT NULL,
    id        TEXT   NOT NULL UNIQUE,
    author_id TEXT   NOT NULL REFERENCES users (id),
    -- Names never change, so the author's name is stored with the message:
    -- a replay reads one table.
    author    TEXT   NOT NULL,
    body      TEXT   NOT NULL,
    client_id TEXT   NOT NULL,
    sent_at   BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq),
    -- A retried post (same author, same client_id) finds the first one.
    UNIQUE (room_id, author_id, client_id)
);
