//! Fuzzing of what the origin and the edge read from the network that the codec suites
//! (`sse.rs`, `wsoh.rs`, `grip.rs`) do not already cover: API bodies, WebSocket commands,
//! publish-chain ids and session headers. Random bytes, and random JSON made of the bodies' own
//! field names, so that generated cases reach past the first parse error; nothing may panic, and
//! nothing may take long.
//!
//! `cargo test` runs proptest's default count of cases; `cargo xtask fuzz` runs every fuzzing
//! property of this crate (these and the codecs') with many more (`PROPTEST_CASES`), in release
//! mode, within a time limit.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::api::{AddMember, CreateRoom, Credentials, PostMessage};
use shared::chat::ChatCommand;
use shared::dashboard::DashboardCommand;
use shared::publish::ChainId;
use shared::session::token_from;

/// The longest one case may take: inputs are a few KB, every reader is linear.
const SLOW: Duration = Duration::from_millis(100);

/// Reads `bytes` as a `T` and validates it, as the origin does; never panics, never takes long.
fn read<T: DeserializeOwned>(bytes: &[u8], validate: impl Fn(&T)) -> Result<(), TestCaseError> {
    let started = Instant::now();
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        validate(&value);
    }
    prop_assert!(
        started.elapsed() < SLOW,
        "{:?} for {} bytes",
        started.elapsed(),
        bytes.len()
    );
    Ok(())
}

fn read_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    read::<Credentials>(bytes, |c| drop(c.validate()))?;
    read::<PostMessage>(bytes, |p| drop(p.validate()))?;
    read::<CreateRoom>(bytes, |r| drop(r.validate()))?;
    read::<AddMember>(bytes, |m| drop(m.validate()))?;
    let text = String::from_utf8_lossy(bytes);
    timed(|| drop(ChatCommand::from_json(&text)))?;
    timed(|| drop(DashboardCommand::from_json(&text)))
}

/// Runs `f`, which must not take long.
fn timed(f: impl FnOnce()) -> Result<(), TestCaseError> {
    let started = Instant::now();
    f();
    prop_assert!(started.elapsed() < SLOW, "{:?}", started.elapsed());
    Ok(())
}

/// JSON whose keys are the bodies' own field names and whose values are anything, nested.
fn body_like() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "name",
        "password",
        "slug",
        "title",
        "private",
        "body",
        "client_id",
        "type",
        "after",
        "extra",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,80}".prop_map(Value::from),
        prop::sample::select(vec!["send", "resume", "a", "", "\u{0}", "\u{202e}"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn api_bodies_from_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        read_all(&bytes)?;
    }

    #[test]
    fn api_bodies_from_random_json(body in body_like()) {
        read_all(body.to_string().as_bytes())?;
    }

    #[test]
    fn chain_ids_from_random_text(id in prop_oneof![".{0,40}", "[0-9.]{0,12}"]) {
        let started = Instant::now();
        if let Some(link) = ChainId::parse(&id) {
            // Whatever parses writes itself back the same way.
            prop_assert_eq!(link.to_string(), id);
        }
        prop_assert!(started.elapsed() < SLOW);
    }

    #[test]
    fn session_headers_from_random_text(cookie in ".{0,400}", authorization in ".{0,400}") {
        let started = Instant::now();
        let _ = token_from(Some(&cookie), Some(&authorization));
        prop_assert!(started.elapsed() < SLOW);
    }
}

#[test]
fn chain_ids_have_one_spelling() {
    let link = |seq, heads| Some(ChainId { seq, heads });
    for (id, parsed) in [
        ("0", link(0, 0)),
        ("12", link(12, 0)),
        ("12.3", link(12, 3)),
    ] {
        assert_eq!(ChainId::parse(id), parsed, "{id}");
        assert_eq!(parsed.unwrap().to_string(), id);
    }
    for bad in [
        "", ".", "12.", ".3", "12.0", "012", "12.03", "1.2.3", "-1", "x", "12.x", " 12",
    ] {
        assert_eq!(ChainId::parse(bad), None, "{bad:?}");
    }
    assert_eq!(
        ChainId::message(7).next_head().next_head().to_string(),
        "7.2"
    );
}
