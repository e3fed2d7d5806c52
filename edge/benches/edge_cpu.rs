//! The edge's own CPU time per request, measured inside Viceroy (wasmtime, as on Compute):
//! everything `edge::compute::serve` does before it hands off or forwards — read the headers,
//! strip and set the forwarding ones, open the secret store, verify the session token, decide.
//! Printed next to the same work for a plain API request (no token to check) as the baseline.
//!
//! Run with `cargo xtask bench`, which runs this wasm in Viceroy with `edge/fastly.test.toml`.

#[cfg(target_arch = "wasm32")]
fn main() {
    use std::time::{Duration, Instant};

    use edge::compute::{config, prepare, session_keys};
    use fastly::Request;

    const ROUNDS: usize = 2_000;

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let user = shared::api::User {
        id: uuid::Uuid::from_u128(1),
        name: "ann".into(),
    };
    let token = session_keys()
        .expect("the test manifest's secret")
        .issue(&user, uuid::Uuid::from_u128(2), now)
        .expect("signs");
    let cookie = format!("session={token}");

    // One request's worth of edge work; the decision is returned so it cannot be optimised out.
    let handle = |path: &str| {
        let mut request = Request::get(format!("http://chat.example{path}"))
            .with_header("host", "chat.example")
            .with_header("cookie", cookie.as_str())
            .with_header("x-forwarded-for", "6.6.6.6");
        prepare(&mut request, Some([192, 0, 2, 7].into()));
        let config = config();
        let incoming = edge::Incoming {
            method: request.get_method_str(),
            path: request.get_path(),
            own_origin: "http://chat.example",
            origin: request.get_header_str("origin"),
            cookie: request.get_header_str("cookie"),
            authorization: request.get_header_str("authorization"),
        };
        edge::decide(&incoming, &config)
    };
    let median = |path: &str, expected: edge::Decision| -> Duration {
        let mut times: Vec<Duration> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                let decision = handle(path);
                let elapsed = started.elapsed();
                assert_eq!(decision, expected, "{path}");
                elapsed
            })
            .collect();
        times.sort();
        times[ROUNDS / 2]
    };

    let forward = median("/api/me", edge::Decision::Forward { pass: true });
    let stream = median("/api/rooms/lobby/events", edge::Decision::Handoff);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("## edge CPU per request inside Viceroy (median of {ROUNDS})");
    // Both figures include opening the secret and config stores, as every request does.
    println!(
        "forwarded API request (baseline):          {:>7.1} µs",
        us(forward)
    );
    println!(
        "stream request, session verified (HS256):  {:>7.1} µs  ({:.1}× baseline)",
        us(stream),
        stream.as_secs_f64() / forward.as_secs_f64()
    );
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("edge_cpu: run it inside Viceroy with `cargo xtask bench`");
}
