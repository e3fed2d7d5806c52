//! GRIP, the origin's side of the conversation with Fanout/Pushpin: proof that a stream request
//! came through the proxy (the `Grip-Sig` JWT, checked by a layer on every stream route), and
//! the instructions a stream request is answered with ([`Subscribe`]).
//!
//! Stream endpoints answer with GRIP instructions (hold this connection, subscribe it to that
//! channel). Only the proxy may receive those: a client that reached the origin directly must
//! not be able to make it hold or subscribe anything. The proxy signs every request it forwards,
//! so the origin verifies that signature (key, algorithm, `exp`, and `iss` when configured);
//! mere presence of the header proves nothing.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::Validation;
use serde::Deserialize;
use shared::grip::{self, Hold};
use shared::wsoh::{self, WsEvent};

use crate::config::GripConfig;
use crate::error::ApiError;

/// Checks `Grip-Sig` tokens. Cheap to clone (the stream routes' middleware gets a clone per
/// request): the key and the rules are shared.
#[derive(Clone)]
pub struct GripVerifier(Arc<(jsonwebtoken::DecodingKey, Validation)>);

/// Pushpin signs `{"iss": …, "exp": …}`; nothing else is needed.
#[derive(Deserialize)]
struct GripClaims {}

impl GripVerifier {
    pub fn new(config: &GripConfig) -> GripVerifier {
        let mut validation = Validation::new(config.verify_alg);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = false;
        if let Some(iss) = &config.verify_iss {
            validation.set_issuer(&[iss]);
        }
        GripVerifier(Arc::new((config.verify_key.clone(), validation)))
    }

    pub fn verify(&self, token: &str) -> bool {
        let (key, validation) = &*self.0;
        jsonwebtoken::decode::<GripClaims>(token, key, validation).is_ok()
    }
}

/// Middleware for the stream routes: admits only requests with a valid `Grip-Sig`; others get
/// 403 `not_via_grip` before any handler runs, so no stream handler can forget the check.
pub async fn require_grip(
    State(verifier): State<GripVerifier>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(grip::SIG)
        .and_then(|v| v.to_str().ok());
    match token {
        Some(token) if verifier.verify(token) => next.run(request).await,
        Some(_) => {
            tracing::warn!("rejected a stream request with an invalid Grip-Sig");
            ApiError::NotViaGrip.into_response()
        }
        None => ApiError::NotViaGrip.into_response(),
    }
}

/// How often an idle SSE stream gets a keep-alive comment, in seconds.
const KEEP_ALIVE_SECS: u32 = 30;

/// The instructions that make a stream live: hold it (or, for a WebSocket, keep it), subscribe
/// it to channels, each with the id of the last item the stream already has (`prev-id`), and
/// where the proxy fetches what it missed (the next link). The one builder SSE, long-poll and
/// WebSocket answers share.
#[derive(Debug, Default)]
pub struct Subscribe {
    /// Channel names, each with its `prev-id` (only the channel whose items are numbered has one).
    pub channels: Vec<(String, Option<String>)>,
    /// The `Grip-Link` value.
    pub next_link: Option<String>,
}

impl Subscribe {
    /// An SSE stream: hold it open, with keep-alives.
    pub fn stream(self, headers: &mut HeaderMap) {
        headers.insert(grip::HOLD, HeaderValue::from_static(Hold::Stream.as_str()));
        headers.insert(
            grip::KEEP_ALIVE,
            value(grip::keep_alive(
                &shared::sse::comment("keep-alive"),
                KEEP_ALIVE_SECS,
            )),
        );
        self.headers(headers);
    }

    /// A long-poll: hold the request until an item is published, or `timeout_secs`.
    pub fn response(self, timeout_secs: u64, headers: &mut HeaderMap) {
        headers.insert(
            grip::HOLD,
            HeaderValue::from_static(Hold::Response.as_str()),
        );
        headers.insert(grip::TIMEOUT, value(timeout_secs.to_string()));
        self.headers(headers);
    }

    /// A WebSocket: control messages that subscribe the connection. (The proxy keeps no position
    /// for sockets, so `prev-id`s and next links do not apply; clients resume themselves.)
    pub fn socket(self) -> Vec<WsEvent> {
        self.channels
            .iter()
            .map(|(name, _)| wsoh::subscribe(name))
            .collect()
    }

    fn headers(self, headers: &mut HeaderMap) {
        let channels = self
            .channels
            .iter()
            .map(|(name, prev)| grip::channel(name, prev.as_deref()))
            .collect::<Vec<_>>()
            .join(", ");
        headers.insert(grip::CHANNEL, value(channels));
        if let Some(link) = self.next_link {
            headers.insert(grip::LINK, value(link));
        }
    }
}

/// Only the next link of a stream not yet caught up: no hold, so the proxy sends this page and
/// fetches the link at once.
pub fn next_page(link: String, headers: &mut HeaderMap) {
    headers.insert(grip::LINK, value(link));
}

/// A header value built from parts that are ASCII by construction (names, ids, signed tokens).
fn value(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("GRIP header values are ASCII")
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    use super::GripVerifier;
    use crate::config::GripConfig;

    /// A throwaway P-256 key pair standing in for Fanout's (whose private half only Fastly has).
    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4THAD7R7MIBbXmFj
xVJumZUJYq6Va3oig2Q7oClgDXmhRANCAATY3KuGuupSqbb/LGOegUbn8AAaudVx
wOJeTwtMX7iG7+4v/gfi7/B2jevId0bn+Z1W7MB0aWTTC3OA8IzaRk3t
-----END PRIVATE KEY-----
";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2NyrhrrqUqm2/yxjnoFG5/AAGrnV
ccDiXk8LTF+4hu/uL/4H4u/wdo3ryHdG5/mdVuzAdGlk0wtzgPCM2kZN7Q==
-----END PUBLIC KEY-----
";

    fn exp() -> u64 {
        crate::auth::unix_now() + 60
    }

    fn fanout() -> GripVerifier {
        let config = GripConfig::parse(
            "https://api.fastly.com/service/SVC/?verify-iss=fastly:SVC&key=T",
            Some(PUBLIC),
            None,
        )
        .unwrap();
        GripVerifier::new(&config)
    }

    fn es256(iss: &str, exp: u64) -> String {
        let key = EncodingKey::from_ec_pem(PRIVATE.as_bytes()).unwrap();
        jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &json!({"iss": iss, "exp": exp}),
            &key,
        )
        .unwrap()
    }

    #[test]
    fn fanout_signatures_verify_with_the_public_key() {
        assert!(fanout().verify(&es256("fastly:SVC", exp())));
    }

    #[test]
    fn wrong_issuer_or_expired_is_refused() {
        assert!(!fanout().verify(&es256("fastly:OTHER", exp())));
        assert!(!fanout().verify(&es256("fastly:SVC", exp() - 3600)));
    }

    #[test]
    fn an_hs256_token_keyed_with_the_public_key_is_refused() {
        // The classic algorithm-confusion forgery: anyone has the public key.
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"iss": "fastly:SVC", "exp": exp()}),
            &EncodingKey::from_secret(PUBLIC.as_bytes()),
        )
        .unwrap();
        assert!(!fanout().verify(&forged));
    }
}
