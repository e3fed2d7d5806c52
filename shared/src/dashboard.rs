//! The live dashboard, built on the core as a fork would build it: its entry type ([`Sample`])
//! and its channel. Nothing else: events, sequencing, streams and replay are the core's.
//!
//! A dashboard is fed by a publisher that is no chat user: each origin measures itself (posts,
//! streams opened, publishing) and appends one sample per interval (`origin::dashboard`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::event::{Entry, NoCommands, NoSignals, ServerEvent};

/// The dashboard every origin feeds: the chat's own figures.
pub const SYSTEM: &str = "system";

/// One reading of the figures of one origin over one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Name of the dashboard.
    pub dashboard: String,
    pub seq: u64,
    /// The end of the interval.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Which origin measured (several may run side by side).
    pub origin: String,
    /// The interval's length, in milliseconds: rates are counts divided by it.
    pub interval_ms: u32,
    /// Messages posted.
    pub posts: u64,
    /// Streams (SSE, WebSocket, long-poll) the origin answered with a hold.
    pub streams: u64,
    /// Items published to Fanout.
    pub published: u64,
    /// Streams that the proxy recovered through their next link.
    pub recoveries: u64,
    /// Time from queueing a publish to Fanout accepting it: the mean and the worst, in
    /// milliseconds (0 when nothing was published).
    pub publish_ms_mean: f64,
    pub publish_ms_max: f64,
    /// The busiest rooms of the interval, busiest first (at most a few).
    pub rooms: Vec<RoomPosts>,
}

/// Posts to one room in one interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPosts {
    pub room: String,
    pub posts: u64,
}

impl Sample {
    /// Posts per second.
    pub fn posts_per_sec(&self) -> f64 {
        self.per_sec(self.posts)
    }

    /// New streams per second.
    pub fn streams_per_sec(&self) -> f64 {
        self.per_sec(self.streams)
    }

    fn per_sec(&self, count: u64) -> f64 {
        match self.interval_ms {
            0 => 0.0,
            ms => count as f64 * 1000.0 / f64::from(ms),
        }
    }
}

impl Entry for Sample {
    const KIND: &'static str = "sample";
    const PLURAL: &'static str = "samples";
    type Signal = NoSignals;

    fn seq(&self) -> u64 {
        self.seq
    }
}

/// What a dashboard's subscribers receive.
pub type DashboardEvent = ServerEvent<Sample>;

/// A dashboard's WebSocket clients send nothing but `resume`.
pub type DashboardCommand = crate::event::ClientCommand<NoCommands>;

/// The Fanout channel of a dashboard.
pub fn dashboard_channel(name: &str) -> String {
    format!("dashboard-{name}")
}
