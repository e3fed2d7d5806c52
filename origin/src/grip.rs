//! Proof that a request came through the GRIP proxy (Fanout or Pushpin): the `Grip-Sig` JWT.
//!
//! Stream endpoints answer with GRIP instructions (hold this connection, subscribe it to that
//! channel). Only the proxy may receive those: a client that reached the origin directly must
//! not be able to make it hold or subscribe anything. The proxy signs every request it forwards,
//! so the origin verifies that signature (key, algorithm, `exp`, and `iss` when configured);
//! mere presence of the header proves nothing.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::Validation;
use serde::Deserialize;

use crate::app::AppState;
use crate::config::GripConfig;
use crate::error::ApiError;

/// Checks `Grip-Sig` tokens.
#[derive(Clone)]
pub struct GripVerifier {
    key: jsonwebtoken::DecodingKey,
    validation: Validation,
}

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
        GripVerifier {
            key: config.verify_key.clone(),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> bool {
        jsonwebtoken::decode::<GripClaims>(token, &self.key, &self.validation).is_ok()
    }
}

/// Extractor that admits only requests with a valid `Grip-Sig`; others get 403 `not_via_grip`.
pub struct ViaGrip;

impl FromRequestParts<AppState> for ViaGrip {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(shared::grip::SIG)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::NotViaGrip)?;
        if state.grip.verify(token) {
            Ok(ViaGrip)
        } else {
            tracing::warn!("rejected a stream request with an invalid Grip-Sig");
            Err(ApiError::NotViaGrip)
        }
    }
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
