-- The payload-agnostic core (origin/src/channel): a channel is a gapless, numbered log of
-- entries of one kind, published on one Fanout channel of the same name. Chat rooms are
-- channels of messages ("room-<slug>"); dashboards are channels of samples. Rooms keep what is
-- theirs (title, privacy, members) and point at their channel; the messages move into entries.

CREATE TABLE channels (
    id       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The Fanout channel.
    name     TEXT    NOT NULL UNIQUE,
    -- The seq of the newest entry. Appending bumps it in the same transaction that inserts
    -- the entry: this row is the per-channel lock that keeps seq gapless.
    last_seq BIGINT  NOT NULL DEFAULT 0,
    -- The publish chain's tail: `heads` heads were published after entry `head_seq`
    -- (origin/src/channel/heads.rs, shared::publish::ChainId).
    head_seq BIGINT  NOT NULL DEFAULT 0,
    heads    BIGINT  NOT NULL DEFAULT 0,
    -- When the newest entry was appended (Unix ms): after a restart, recently active channels
    -- are announced, in case the origin that stored their last entry died before publishing it.
    last_at  BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE entries (
    channel_id BIGINT NOT NULL REFERENCES channels (id),
    seq        BIGINT NOT NULL,
    -- The entry as its subscribers get it (JSON, `seq` included).
    payload    TEXT   NOT NULL,
    -- Set by publishers that retry (chat: the author and the client_id): a retry finds the
    -- first entry instead of appending another. NULLs never collide.
    dedupe     TEXT,
    PRIMARY KEY (channel_id, seq),
    UNIQUE (channel_id, dedupe)
);

INSERT INTO channels (name, last_seq, head_seq, heads, last_at)
SELECT 'room-' || slug, last_seq, head_seq, heads,
       COALESCE((SELECT max(sent_at) FROM messages WHERE messages.room_id = rooms.id), created_at)
FROM rooms ORDER BY id;

ALTER TABLE rooms ADD COLUMN channel_id BIGINT REFERENCES channels (id);
UPDATE rooms SET channel_id = (SELECT id FROM channels WHERE channels.name = 'room-' || rooms.slug);
ALTER TABLE rooms ALTER COLUMN channel_id SET NOT NULL;
CREATE UNIQUE INDEX rooms_by_channel ON rooms (channel_id);

INSERT INTO entries (channel_id, seq, payload, dedupe)
SELECT rooms.channel_id, m.seq,
       json_build_object('room', rooms.slug, 'seq', m.seq, 'id', m.id, 'author', m.author,
                         'body', m.body,
                         'sent_at', to_char(to_timestamp(m.sent_at / 1000.0) AT TIME ZONE 'UTC',
                                            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                         'client_id', m.client_id)::text,
       m.author_id || ' ' || m.client_id
FROM messages m JOIN rooms ON rooms.id = m.room_id;

DROP TABLE messages;
ALTER TABLE rooms DROP COLUMN last_seq;
ALTER TABLE rooms DROP COLUMN head_seq;
ALTER TABLE rooms DROP COLUMN heads;
