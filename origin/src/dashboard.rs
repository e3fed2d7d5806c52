//! The live dashboard, built on the channel core as a fork would build it (docs/FORKING.md):
//! a [`Feed`] of [`Sample`]s, a history route, and a publisher that is no chat user.
//!
//! The publisher is the [`Sampler`]: every interval it reads this origin's own figures (posts,
//! streams opened, items published and how long publishing took, recoveries, the busiest
//! rooms) and appends them to the `system` dashboard through the same [`Channels::append`]
//! chat posts use. Several origins feed one dashboard side by side, each under its own name.
//! A dashboard keeps a window of samples ([`KEEP`]); a subscriber that falls behind it starts
//! over (a `reset`).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use shared::api::{Invalid, validate_slug};
use shared::dashboard::{RoomPosts, SYSTEM, Sample, dashboard_channel};
use shared::event::{NoCommands, Page, ServerEvent};
use shared::paths;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::auth::{CurrentUser, Session};
use crate::channel::history::{self, HistoryQuery};
use crate::channel::{Channels, Feed, Target, stream};
use crate::error::{ApiError, ApiResult};
use crate::extract::{PathOf, Query};
use crate::grip::GripVerifier;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::Store;

/// Samples a dashboard keeps: an hour of one origin sampling every second.
const KEEP: u64 = 3600;

/// The busiest rooms a sample names.
const TOP_ROOMS: usize = 5;

/// Dashboards, as the channel core sees them.
pub struct Dashboard;

impl Feed for Dashboard {
    type Entry = Sample;
    type Command = NoCommands;
    const STREAMS: paths::Streams = paths::DASHBOARD_STREAMS;

    fn validate_key(name: &str) -> Result<(), Invalid> {
        validate_slug(name)
    }

    fn channel(name: &str) -> String {
        dashboard_channel(name)
    }

    /// Any signed-in user may watch any dashboard that exists.
    async fn open(state: &AppState, name: &str, _user: Uuid) -> ApiResult<Target> {
        let channel = state
            .store
            .channel_by_name(&dashboard_channel(name))
            .await?
            .ok_or(ApiError::NotFound("dashboard"))?;
        Ok(Target {
            signals: None,
            channel,
            ends_with: Vec::new(),
        })
    }

    async fn command(
        _: &AppState,
        _: &str,
        _: &Target,
        _: &Session,
        command: NoCommands,
    ) -> ApiResult<Vec<ServerEvent<Sample>>> {
        match command {}
    }
}

/// The dashboard's routes: its history and its three streams.
pub fn routes(grip: &GripVerifier) -> Router<AppState> {
    Router::new()
        .route(paths::DASHBOARD_SAMPLES.template(), get(history))
        .merge(stream::routes::<Dashboard>(grip))
}

/// `GET /api/dashboards/{name}/samples?before=SEQ&limit=N`: a page of samples, oldest first.
async fn history(
    State(store): State<Store>,
    CurrentUser(_): CurrentUser,
    PathOf(name): PathOf<String>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<Page<Sample>>> {
    validate_slug(&name)?;
    let channel = store
        .channel_by_name(&dashboard_channel(&name))
        .await?
        .ok_or(ApiError::NotFound("dashboard"))?;
    Ok(Json(history::page(&store, &channel, &query).await?))
}

/// The publisher: this origin's figures, appended to the `system` dashboard every `interval`.
pub struct Sampler {
    pub channels: Channels,
    pub metrics: Arc<Metrics>,
    pub interval: Duration,
    /// This origin's name on the dashboard.
    pub origin: String,
}

/// Counter readings, to take differences between samples.
#[derive(Default)]
struct Readings {
    posts: u64,
    streams: u64,
    published: u64,
    recoveries: u64,
}

impl Sampler {
    /// Creates the dashboard's channel if needed, then samples until the task is aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(err) = self.run().await {
                tracing::error!(error = %err, "the dashboard sampler stopped");
            }
        })
    }

    async fn run(self) -> ApiResult<()> {
        let store = &self.channels.store;
        let channel = store.ensure_channel(&dashboard_channel(SYSTEM)).await?;
        let mut before = self.read();
        let mut every = tokio::time::interval(self.interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            let now = self.read();
            let sample = self.sample(&before, &now);
            before = now;
            // A failed append (the database is down) loses one sample, not the sampler.
            match self
                .channels
                .append(&channel, None, |seq| Sample { seq, ..sample })
                .await
            {
                Ok(appended) if appended.entry.seq % KEEP == 0 => {
                    let upto = appended.entry.seq.saturating_sub(KEEP);
                    if let Err(err) = store.forget_entries(channel.id, upto).await {
                        tracing::warn!(error = %err, "could not forget old samples");
                    }
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "could not append a sample"),
            }
        }
    }

    fn read(&self) -> Readings {
        Readings {
            posts: self.metrics.posts.get(),
            streams: self.metrics.holds_total(),
            published: self.metrics.published.get(),
            recoveries: self.metrics.recoveries_total(),
        }
    }

    /// The sample for the interval between two readings (its seq is the channel's to give).
    fn sample(&self, before: &Readings, now: &Readings) -> Sample {
        let latency = self.metrics.publish_latency.take();
        let millis = |d: Duration| d.as_secs_f64() * 1000.0;
        let mut rooms: Vec<RoomPosts> = self
            .metrics
            .take_room_posts()
            .into_iter()
            .map(|(room, posts)| RoomPosts { room, posts })
            .collect();
        rooms.sort_by(|a, b| b.posts.cmp(&a.posts).then_with(|| a.room.cmp(&b.room)));
        rooms.truncate(TOP_ROOMS);
        Sample {
            dashboard: SYSTEM.to_owned(),
            seq: 0,
            at: time::OffsetDateTime::now_utc(),
            origin: self.origin.clone(),
            interval_ms: u32::try_from(self.interval.as_millis()).unwrap_or(u32::MAX),
            posts: now.posts - before.posts,
            streams: now.streams - before.streams,
            published: now.published - before.published,
            recoveries: now.recoveries - before.recoveries,
            publish_ms_mean: match latency.count {
                0 => 0.0,
                n => millis(latency.total) / n as f64,
            },
            publish_ms_max: millis(latency.max),
            rooms,
        }
    }
}
