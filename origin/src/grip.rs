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
