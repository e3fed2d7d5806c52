//! The Compute program: read the request, ask [`edge::decide`], act. Everything that can be
//! tested on the host lives in `lib.rs`; this file only talks to the Compute runtime.

/// The backend both paths lead to: Fanout's route to the origin, and the origin itself.
#[cfg(target_arch = "wasm32")]
const ORIGIN: &str = "origin";

/// Where the session secret comes from: the Compute secret store (fastly.toml's
/// `[local_server.secret_stores]` when run locally), never the code.
#[cfg(target_arch = "wasm32")]
const SECRET_STORE: &str = "edge_secrets";
#[cfg(target_arch = "wasm32")]
const SECRET_KEY: &str = "session_secret";

#[cfg(target_arch = "wasm32")]
fn main() -> Result<(), fastly::Error> {
    use fastly::http::StatusCode;
    use fastly::{Request, Response};

    let mut request = Request::from_client();
    let client_ip = request.get_client_ip_addr();
    for name in edge::EDGE_ONLY_HEADERS {
        request.remove_header(*name);
    }
    let keys = session_secret().map(|secret| shared::session::SessionKeys::new(&secret));
    let decision = edge::decide(
        request.get_path(),
        request.get_header_str("cookie"),
        request.get_header_str("authorization"),
        keys.as_ref(),
    );
    if let Some(ip) = client_ip {
        request.set_header("x-forwarded-for", ip.to_string());
    }
    let proto = request.get_url().scheme().to_owned();
    request.set_header("x-forwarded-proto", proto);
    if let Some(host) = request.get_header_str("host").map(str::to_owned) {
        request.set_header("x-forwarded-host", host);
    }

    match decision {
        edge::Decision::Handoff => {
            // Fanout takes the connection from here; no response may be sent after this.
            if let Err(err) = request.handoff_fanout(ORIGIN) {
                unavailable(&format!("Fanout is not available: {err}")).send_to_client();
            }
        }
        edge::Decision::Forward => match request.send(ORIGIN) {
            Ok(response) => response.send_to_client(),
            Err(err) => unavailable(&format!("the origin is unreachable: {err}")).send_to_client(),
        },
        edge::Decision::Reject { status, body } => {
            Response::from_status(StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED))
                .with_content_type(fastly::mime::APPLICATION_JSON)
                .with_header("cache-control", "no-store")
                .with_body(body)
                .send_to_client();
        }
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
fn unavailable(message: &str) -> fastly::Response {
    let body = shared::api::ErrorBody::new("bad_gateway", message);
    fastly::Response::from_status(fastly::http::StatusCode::BAD_GATEWAY)
        .with_content_type(fastly::mime::APPLICATION_JSON)
        .with_body(serde_json::to_string(&body).expect("serialises"))
}

/// The secret, if the store has a non-empty one (Viceroy turns an unset `env` into "").
#[cfg(target_arch = "wasm32")]
fn session_secret() -> Option<Vec<u8>> {
    let store = fastly::SecretStore::open(SECRET_STORE).ok()?;
    let secret = store.try_get(SECRET_KEY).ok()??;
    let bytes = secret.try_plaintext().ok()?;
    (!bytes.is_empty()).then(|| bytes.to_vec())
}

/// On the host there is no Compute runtime: build the wasm and run it in Viceroy instead.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("edge: build with `--target wasm32-wasip1` and run it in Viceroy or on Compute");
    std::process::exit(2);
}
