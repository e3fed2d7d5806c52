//! The live dashboard: the chat's own figures (posts, new streams, publish latency), one line per
//! origin, drawn as SVG charts that update in place as samples arrive.
//!
//! Built on the same core as a room: a history page first, then `live::follow` from its last
//! seq, over the transport chosen in the header. A reconnect resumes from the last sample
//! shown, so a Pushpin restart leaves no hole in the lines. At most [`WINDOW`] samples are kept.

use std::collections::{BTreeMap, VecDeque};

use leptos::prelude::*;
use shared::dashboard::{SYSTEM, Sample};
use shared::paths::{DASHBOARD_SAMPLES, DASHBOARD_STREAMS};
use shared::subscription::Transport;

use crate::api;
use crate::indicator::Indicator;
use crate::live::{self, Delivery, Follow, Status};

/// Samples kept and drawn: five minutes of one origin sampling every second.
const WINDOW: usize = 300;

/// The chart's drawing area, in SVG units (it scales to the page's width).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
/// The same, as the view writes them: numbers drawn as text go through [`tenths`], not
/// `f64`'s formatter, which would add its float-printing code to the download.
const VIEW_BOX: &str = "0 0 600 160";
const WIDTH_TEXT: &str = "600";
const HEIGHT_TEXT: &str = "160";
const MIDDLE_TEXT: &str = "80";
const BOTTOM_TEXT: &str = "159.5";

/// Line colours, one per origin, in the order origins first appear.
const PALETTE: [&str; 6] = [
    "#e5202e", "#2f6fec", "#12a150", "#d98a00", "#8a3ffc", "#0f9bab",
];

#[component]
pub fn DashboardPage(transport: RwSignal<Transport>) -> impl IntoView {
    let samples = RwSignal::new(VecDeque::<Sample>::new());
    let status = RwSignal::new(Status::Connecting);
    let error = RwSignal::new(None::<String>);
    let generation = RwSignal::new(0u32);
    let follow = StoredValue::new_local(None::<Follow>);
    on_cleanup(move || follow.set_value(None));

    let start = move |transport: Transport| {
        let after = samples.with_untracked(|s| s.back().map_or(0, |s| s.seq));
        let deliver = move |delivery: Delivery<Sample>| match delivery {
            Delivery::Entries(new) => samples.update(|window| {
                window.extend(new);
                let excess = window.len().saturating_sub(WINDOW);
                window.drain(..excess);
            }),
            Delivery::Reset => generation.update(|g| *g += 1),
            // A dashboard has no signals (`NoSignals` has no value).
            Delivery::Signals(_) => {}
        };
        let stream = live::follow(
            DASHBOARD_STREAMS,
            SYSTEM.to_owned(),
            after,
            transport,
            status.write_only(),
            deliver,
        );
        follow.set_value(Some(stream));
    };

    // The newest samples, then live from there; again after a reset.
    Effect::new(move || {
        generation.track();
        follow.set_value(None);
        status.set(Status::Connecting);
        leptos::task::spawn_local(async move {
            let newest = api::history::<Sample>(DASHBOARD_SAMPLES, SYSTEM, None, 100).await;
            match newest {
                Ok(page) => {
                    samples.set(page.into());
                    error.set(None);
                    start(transport.get_untracked());
                }
                Err(err) => error.set(Some(err.to_string())),
            }
        });
    });

    // Another transport: the same stream, resumed over it.
    Effect::new(move |previous: Option<Transport>| {
        let now = transport.get();
        if previous.is_some_and(|p| p != now) {
            start(now);
        }
        now
    });

    // What the charts show, and what the browser test checks: the seqs held, without holes.
    let first_seq = move || samples.with(|s| s.front().map_or(0, |s| s.seq));
    let last_seq = move || samples.with(|s| s.back().map_or(0, |s| s.seq));
    let count = move || samples.with(VecDeque::len);

    view! {
        <section class="dashboard" id="dashboard" data-first-seq=first_seq data-last-seq=last_seq data-count=count>
            <header class="room-head">
                <h1>"System dashboard"</h1>
                <Indicator status />
            </header>
            <p class="muted">"The chat's own figures, per origin, over the last five minutes."</p>
            <p class="error" role="alert">{move || error.get()}</p>
            <Chart id="posts" title="Posts per second" unit="/s" samples figure=Sample::posts_per_sec />
            <Chart id="streams" title="Streams opened per second" unit="/s" samples figure=Sample::streams_per_sec />
            <Chart id="latency" title="Publish latency (mean)" unit=" ms" samples figure=|s: &Sample| s.publish_ms_mean />
        </section>
    }
}

/// One figure over time, one line per origin.
#[component]
fn Chart(
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    samples: RwSignal<VecDeque<Sample>>,
    figure: fn(&Sample) -> f64,
) -> impl IntoView {
    let plot = Memo::new(move |_| samples.with(|s| Plot::of(s, figure)));
    let top = move || plot.with(|p| format!("{}{unit}", round(p.top)));
    view! {
        <figure class="chart card" id=id>
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="legend">
                    {move || {
                        plot.with(|p| {
                            p.lines
                                .iter()
                                .map(|line| {
                                    let latest = format!("{}{unit}", round(line.latest));
                                    view! {
                                        <span class="key">
                                            <span class="swatch" style:background=line.colour></span>
                                            {line.origin.clone()}
                                            " "
                                            <b>{latest}</b>
                                        </span>
                                    }
                                })
                                .collect_view()
                        })
                    }}
                </span>
            </figcaption>
            <svg viewBox=VIEW_BOX preserveAspectRatio="none" role="img" aria-label=title>
                <line class="grid" x1="0" y1="0.5" x2=WIDTH_TEXT y2="0.5" />
                <line class="grid" x1="0" y1=MIDDLE_TEXT x2=WIDTH_TEXT y2=MIDDLE_TEXT />
                <line class="axis" x1="0" y1=BOTTOM_TEXT x2=WIDTH_TEXT y2=BOTTOM_TEXT />
                // One pair of paths per origin, kept across samples: only their `d` changes,
                // so a new sample redraws no element (no flicker).
                <For each=move || plot.with(|p| p.origins()) key=|origin| origin.clone() let:origin>
                    {
                        let line = Memo::new(move |_| plot.with(|p| p.line(&origin)));
                        let colour = move || line.with(|l| l.as_ref().map_or("", |l| l.colour));
                        view! {
                            <path class="area" d=move || line.with(|l| l.as_ref().map(|l| l.area.clone())) style:fill=colour />
                            <path
                                class="line"
                                d=move || line.with(|l| l.as_ref().map(|l| l.path.clone()))
                                style:stroke=colour
                                data-origin=move || line.with(|l| l.as_ref().map(|l| l.origin.clone()))
                                data-points=move || line.with(|l| l.as_ref().map_or(0, |l| l.points))
                            />
                        }
                    }
                </For>
            </svg>
            <span class="top">{top}</span>
        </figure>
    }
}

/// What a chart draws: one line per origin, scaled to the window's time span and the highest
/// value.
#[derive(Clone, PartialEq)]
struct Plot {
    lines: Vec<Line>,
    top: f64,
}

#[derive(Clone, PartialEq)]
struct Line {
    origin: String,
    colour: &'static str,
    /// SVG path data: the line, and the area under it.
    path: String,
    area: String,
    points: usize,
    latest: f64,
}

impl Plot {
    /// The origins drawn, in the order they first appeared.
    fn origins(&self) -> Vec<String> {
        self.lines.iter().map(|line| line.origin.clone()).collect()
    }

    fn line(&self, origin: &str) -> Option<Line> {
        self.lines
            .iter()
            .find(|line| line.origin == origin)
            .cloned()
    }

    fn of(samples: &VecDeque<Sample>, figure: fn(&Sample) -> f64) -> Plot {
        let time = |s: &Sample| s.at.unix_timestamp() as f64 + f64::from(s.at.nanosecond()) / 1e9;
        let (Some(first), Some(last)) = (samples.front(), samples.back()) else {
            return Plot {
                lines: Vec::new(),
                top: 1.0,
            };
        };
        let (start, end) = (time(first), time(last));
        let span = (end - start).max(1.0);
        let top = nice_ceiling(samples.iter().map(figure).fold(0.0, f64::max));
        // Origins in the order they first appear, so colours stay put as samples arrive.
        let mut order = Vec::new();
        let mut by_origin: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for sample in samples {
            if !by_origin.contains_key(sample.origin.as_str()) {
                order.push(sample.origin.as_str());
            }
            let x = (time(sample) - start) / span * WIDTH;
            let y = HEIGHT - figure(sample) / top * HEIGHT;
            by_origin.entry(&sample.origin).or_default().push((x, y));
        }
        let lines = order
            .iter()
            .enumerate()
            .map(|(i, origin)| {
                let points = &by_origin[origin];
                let mut path = String::new();
                for (j, &(x, y)) in points.iter().enumerate() {
                    path.push(if j == 0 { 'M' } else { 'L' });
                    tenths(x, &mut path);
                    path.push(',');
                    tenths(y, &mut path);
                }
                let (x0, x1) = (points[0].0, points[points.len() - 1].0);
                let mut area = path.clone();
                for x in [x1, x0] {
                    area.push('L');
                    tenths(x, &mut area);
                    area.push(',');
                    area.push_str(HEIGHT_TEXT);
                }
                area.push('Z');
                let latest = samples
                    .iter()
                    .rev()
                    .find(|s| s.origin == *origin)
                    .map_or(0.0, figure);
                Line {
                    origin: (*origin).to_owned(),
                    colour: PALETTE[i % PALETTE.len()],
                    path,
                    area,
                    points: points.len(),
                    latest,
                }
            })
            .collect();
        Plot { lines, top }
    }
}

/// The smallest of 1, 2 or 5 × 10ⁿ at or above `max` (and at least 1): a round top for the axis.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 1.0 {
        return 1.0;
    }
    // 10 to the power of `max`'s order of magnitude (a loop: `powf` and `log10` would add
    // libm's code to the download).
    let mut magnitude = 1.0;
    while magnitude * 10.0 <= max {
        magnitude *= 10.0;
    }
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|&top| top >= max)
        .unwrap_or(10.0 * magnitude)
}

/// A figure as people read it: whole numbers as such, others to one decimal.
fn round(value: f64) -> String {
    let mut text = String::new();
    match value.fract() == 0.0 {
        true => text.push_str(&(value as i64).to_string()),
        false => tenths(value, &mut text),
    }
    text
}

/// `value` to one decimal ("12.3", "-0.5"), with integer formatting only: `f64`'s own
/// formatter (`{:.1}`) costs several KB of the download.
fn tenths(value: f64, out: &mut String) {
    let tenths = (value * 10.0).round() as i64;
    if tenths < 0 {
        out.push('-');
    }
    let tenths = tenths.unsigned_abs();
    out.push_str(&(tenths / 10).to_string());
    out.push('.');
    out.push(char::from(b'0' + (tenths % 10) as u8));
}
