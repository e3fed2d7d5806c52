-- Heads: a quiet room announces its position on its Fanout channel (origin/src/heads.rs).
-- Each head is a link of the channel's publish chain with an id of its own ("seq.n", see
-- shared::publish::ChainId), so the chain's tail is part of the room's state: `heads` counts the
-- heads published after message `head_seq`. When a post moves `last_seq` past `head_seq` the
-- count stops applying, so posting never has to reset it.
ALTER TABLE rooms ADD COLUMN head_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN heads BIGINT NOT NULL DEFAULT 0;
