-- How far each user has read each room (origin/src/store/reads.rs): the room list's unread
-- counts, the same in every browser the user signs in to.
CREATE TABLE reads (
    user_id TEXT   NOT NULL REFERENCES users (id),
    room_id BIGINT NOT NULL REFERENCES rooms (id),
    -- The newest message seen; it only moves forward.
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
