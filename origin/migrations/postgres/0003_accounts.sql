-- Names are one account whatever their case (`shared::api::name_key`): `Ann` and `ann` cannot
-- both exist. (An older database holding both would stop this migration; rename one first.)
ALTER TABLE users ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE users SET name_key = lower(name);
CREATE UNIQUE INDEX users_by_name_key ON users (name_key);

-- Sessions the server can end. A session token names its row (`sid`); signing out ends this
-- one, "sign out everywhere" all of a user's, and a token whose session has ended is refused
-- even though its signature and expiry are still good.
CREATE TABLE sessions (
    id         TEXT   PRIMARY KEY,
    user_id    TEXT   NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
