//! The room's live stream: started from the newest message shown, restarted when the reader
//! picks another transport or a message of ours does not come back in time, and given up for a
//! reload when the server does not know our position.

use leptos::prelude::*;
use shared::chat::Message;
use shared::paths::ROOM_STREAMS;
use shared::subscription::Transport;

use super::older::Older;
use super::outbox::Outbox;
use super::presence::Presence;
use super::scroll::Scroll;
use super::timeline::Timeline;
use crate::live::{self, Delivery, Follow, Status};

/// What the stream feeds. Cheap to copy.
#[derive(Clone, Copy)]
pub struct RoomStream {
    pub slug: StoredValue<String>,
    pub timeline: Timeline,
    pub outbox: Outbox,
    pub presence: Presence,
    pub scroll: Scroll,
    pub older: Older,
    pub status: RwSignal<Status>,
    /// Bumped when the server says our position is unknown: the room reloads everything.
    pub generation: RwSignal<u32>,
    follow: StoredValue<Option<Follow>, LocalStorage>,
}

impl RoomStream {
    pub fn new(
        slug: StoredValue<String>,
        timeline: Timeline,
        outbox: Outbox,
        presence: Presence,
        scroll: Scroll,
        older: Older,
    ) -> RoomStream {
        RoomStream {
            slug,
            timeline,
            outbox,
            presence,
            scroll,
            older,
            status: RwSignal::new(Status::Connecting),
            generation: RwSignal::new(0),
            follow: StoredValue::new_local(None),
        }
    }

    /// (Re)starts the stream after the newest message shown, over `transport`.
    pub fn start(self, transport: Transport) {
        self.status.set(Status::Connecting);
        let deliver = move |delivery: Delivery<Message>| match delivery {
            Delivery::Entries(new) => {
                // While older pages load (a search result's jump), the reader is in the past.
                let following = self.scroll.near_bottom() && !self.older.loading.get_untracked();
                self.outbox.arrived(&new);
                self.timeline.append(new, following);
                if following {
                    self.scroll.to_bottom();
                }
            }
            Delivery::Signals(signals) => signals
                .into_iter()
                .for_each(|signal| self.presence.on_signal(signal)),
            Delivery::Reset => self.generation.update(|g| *g += 1),
        };
        let follow = live::follow(
            ROOM_STREAMS,
            self.slug.get_value(),
            self.timeline.last_seq(),
            transport,
            self.status.write_only(),
            deliver,
        );
        self.follow.set_value(Some(follow));
    }

    pub fn stop(self) {
        self.follow.set_value(None);
    }
}
