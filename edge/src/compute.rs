//! The Compute glue: turns [`crate::decide`]'s answer into Compute calls. Only built for wasm32;
//! its tests run inside Viceroy as the cargo test runner (see `cargo xtask test`), because
//! requests, responses and secret stores exist only in the Compute runtime.

use std::net::IpAddr;

use fastly::http::StatusCode;
use fastly::{Request, Response};
use shared::api::{ErrorBody, ErrorCode};
use shared::session::SessionKeys;

use crate::{Decision, EDGE_ONLY_HEADERS, EdgeConfig, HSTS, Incoming, VIA_EDGE, decide};

/// The backend both paths lead to: Fanout's route to the origin, and the origin itself.
pub const ORIGIN: &str = "origin";

/// Where the session secret comes from: the Compute secret store (fastly.toml's
/// `[local_server.secret_stores]` when run locally), never the code.
pub const SECRET_STORE: &str = "edge_secrets";
pub const SECRET_KEY: &str = "session_secret";

/// Settings that are not secret: the Compute config store `edge_config`, key
/// `allowed_origins` (comma-separated `scheme://host` of other sites allowed to write).
pub const CONFIG_STORE: &str = "edge_config";
pub const ALLOWED_ORIGINS_KEY: &str = "allowed_origins";

/// Handles the client's request from start to end.
pub fn serve(mut request: Request) {
    let client_ip = request.get_client_ip_addr();
    prepare(&mut request, client_ip);
    let https = request.get_url().scheme() == "https";
    let own_origin = format!(
        "{}://{}",
        request.get_url().scheme(),
        request.get_header_str("host").unwrap_or_default()
    );
    let config = config();
    let incoming = Incoming {
        method: request.get_method_str(),
        path: request.get_path(),
        own_origin: &own_origin,
        origin: request.get_header_str("origin"),
        cookie: request.get_header_str("cookie"),
        authorization: request.get_header_str("authorization"),
    };
    let response = match decide(&incoming, &config) {
        Decision::Handoff => {
            // Fanout takes the connection from here; no response may be sent after this.
            match request.handoff_fanout(ORIGIN) {
                Ok(()) => return,
                Err(err) => bad_gateway(&format!("Fanout is not available: {err}")),
            }
        }
        Decision::Forward { pass } => {
            request.set_pass(pass);
            forward(request)
        }
        Decision::Reject { status, body } => rejection(status, body),
    };
    secure(response, https).send_to_client();
}

/// Removes what only the edge may say and says it afresh: who the client is, over which
/// scheme, to which host, and that the request came through the edge.
pub fn prepare(request: &mut Request, client_ip: Option<IpAddr>) {
    for name in EDGE_ONLY_HEADERS {
        request.remove_header(*name);
    }
    if let Some(ip) = client_ip {
        request.set_header("x-forwarded-for", ip.to_string());
    }
    let proto = request.get_url().scheme().to_owned();
    request.set_header("x-forwarded-proto", proto);
    if let Some(host) = request.get_header_str("host").map(str::to_owned) {
        request.set_header("x-forwarded-host", host);
    }
    request.set_header(VIA_EDGE, "1");
}

/// Adds HSTS to an answer over HTTPS (on plain-HTTP localhost it would be meaningless).
pub fn secure(response: Response, https: bool) -> Response {
    match https {
        true => response.with_header("strict-transport-security", HSTS),
        false => response,
    }
}

/// Sends a plain request to the origin; an unreachable origin is a 502 with a JSON body.
pub fn forward(request: Request) -> Response {
    request
        .send(ORIGIN)
        .unwrap_or_else(|err| bad_gateway(&format!("the origin is unreachable: {err}")))
}

/// Everything the decision needs besides the request.
pub fn config() -> EdgeConfig {
    let allowed_origins = fastly::ConfigStore::try_open(CONFIG_STORE)
        .ok()
        .and_then(|store| store.try_get(ALLOWED_ORIGINS_KEY).ok().flatten())
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    EdgeConfig {
        keys: session_keys(),
        allowed_origins,
    }
}

/// The keys from the secret store, if it holds a non-empty secret (Viceroy turns an unset
/// `env` source into "").
pub fn session_keys() -> Option<SessionKeys> {
    let store = fastly::SecretStore::open(SECRET_STORE).ok()?;
    let secret = store.try_get(SECRET_KEY).ok()??;
    let bytes = secret.try_plaintext().ok()?;
    (!bytes.is_empty()).then(|| SessionKeys::new(&bytes))
}

/// The edge's own answer (401, 403, 404, 503), never cached.
pub fn rejection(status: u16, body: String) -> Response {
    Response::from_status(StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED))
        .with_content_type(fastly::mime::APPLICATION_JSON)
        .with_header("cache-control", "no-store")
        .with_body(body)
}

fn bad_gateway(message: &str) -> Response {
    let body = ErrorBody::new(ErrorCode::BadGateway, message);
    Response::from_status(StatusCode::BAD_GATEWAY)
        .with_content_type(fastly::mime::APPLICATION_JSON)
        .with_header("cache-control", "no-store")
        .with_body(serde_json::to_string(&body).expect("serialises"))
}

/// Run by `cargo xtask test` with `viceroy run -C edge/fastly.test.toml` as the runner: the
/// manifest's secret store holds [`tests::SECRET`] and its origin is a closed port.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::token_issued;

    /// Must match `edge/fastly.test.toml`.
    const SECRET: &[u8] = b"viceroy-test-secret-of-32-bytes!";

    fn body_of(mut response: Response) -> ErrorBody {
        serde_json::from_str(&response.take_body_str()).expect("a JSON error body")
    }

    #[test]
    fn client_copies_of_edge_only_headers_are_replaced() {
        let mut request = Request::get("http://chat.example/api/me")
            .with_header("grip-sig", "forged")
            .with_header("grip-last", "room-lobby; last-id=9")
            .with_header("pushpin-route", "elsewhere")
            .with_header("x-forwarded-for", "6.6.6.6")
            .with_header("x-forwarded-host", "evil.example")
            .with_header("host", "chat.example")
            .with_header("cookie", "session=kept");
        prepare(&mut request, Some("192.0.2.7".parse().unwrap()));
        for name in ["grip-sig", "grip-last", "pushpin-route"] {
            assert_eq!(request.get_header_str(name), None, "{name}");
        }
        assert_eq!(request.get_header_str(VIA_EDGE), Some("1"));
        assert_eq!(request.get_header_str("x-forwarded-for"), Some("192.0.2.7"));
        assert_eq!(
            request.get_header_str("x-forwarded-host"),
            Some("chat.example")
        );
        assert_eq!(request.get_header_str("x-forwarded-proto"), Some("http"));
        assert_eq!(request.get_header_str("cookie"), Some("session=kept"));
    }

    #[test]
    fn the_secret_store_holds_the_keys_that_verify_the_origins_tokens() {
        let keys = session_keys().expect("edge_secrets/session_secret from fastly.test.toml");
        let fresh = token_issued(SECRET, 0);
        assert_eq!(
            keys.verify(&fresh).map(|claims| claims.name),
            Some("ann".into())
        );
        // Expiry is judged by the runtime's clock.
        assert!(keys.verify(&token_issued(SECRET, 30 * 24 * 3600)).is_none());
    }

    #[test]
    fn a_client_cannot_pose_as_the_edge() {
        let mut request =
            Request::get("http://chat.example/api/me").with_header(VIA_EDGE, "forged");
        prepare(&mut request, None);
        assert_eq!(request.get_header_str(VIA_EDGE), Some("1"));
    }

    #[test]
    fn answers_over_https_carry_hsts_and_plain_http_ones_do_not() {
        let over_https = secure(Response::new(), true);
        assert_eq!(
            over_https.get_header_str("strict-transport-security"),
            Some(HSTS)
        );
        assert_eq!(
            secure(Response::new(), false).get_header_str("strict-transport-security"),
            None
        );
    }

    #[test]
    fn the_config_store_lists_the_other_allowed_origins() {
        assert_eq!(
            config().allowed_origins,
            vec![
                "https://app.chat.example".to_owned(),
                "https://other.example".to_owned()
            ],
            "from edge/fastly.test.toml"
        );
    }

    #[test]
    fn rejections_are_uncached_json() {
        let streams = Incoming {
            method: "GET",
            path: "/api/rooms/lobby/events",
            ..Incoming::default()
        };
        let Decision::Reject { status, body } = decide(&streams, &EdgeConfig::default()) else {
            panic!("no secret must refuse streams");
        };
        let response = rejection(status, body);
        assert_eq!(response.get_status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.get_header_str("cache-control"), Some("no-store"));
        assert_eq!(
            response
                .get_content_type()
                .map(|mime| mime.essence_str().to_owned()),
            Some("application/json".into())
        );
        assert_eq!(body_of(response).error.code, ErrorCode::Unavailable);
    }

    #[test]
    fn an_unreachable_origin_is_a_502_with_a_json_body() {
        let response = forward(Request::get("http://chat.example/api/me"));
        assert_eq!(response.get_status(), StatusCode::BAD_GATEWAY);
        assert_eq!(body_of(response).error.code, ErrorCode::BadGateway);
    }
}
