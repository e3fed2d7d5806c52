//! Session tokens: what the origin issues, the edge and the origin accept, and nothing else.
#![cfg(feature = "jwt")]

use shared::api::User;
use shared::session::{SESSION_TTL_SECS, SessionKeys};
use uuid::Uuid;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const SID: Uuid = Uuid::from_u128(99);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn ann() -> User {
    User {
        id: Uuid::from_u128(7),
        name: "ann".into(),
    }
}

#[test]
fn an_issued_token_verifies_with_its_claims() {
    let keys = SessionKeys::new(SECRET);
    let token = keys.issue(&ann(), SID, now()).unwrap();
    let claims = keys.verify(&token).expect("valid");
    assert_eq!((claims.sub, claims.name.as_str()), (ann().id, "ann"));
    assert_eq!(claims.exp - claims.iat, SESSION_TTL_SECS);
}

#[test]
fn expired_forged_and_unsigned_tokens_are_refused() {
    let keys = SessionKeys::new(SECRET);
    let expired = keys
        .issue(&ann(), SID, now() - SESSION_TTL_SECS - 60)
        .unwrap();
    assert_eq!(keys.verify(&expired), None, "expired");
    let other = SessionKeys::new(b"another secret, also 32 bytes long");
    assert_eq!(
        keys.verify(&other.issue(&ann(), SID, now()).unwrap()),
        None,
        "forged"
    );
    // `alg: none` with the same claims.
    let token = keys.issue(&ann(), SID, now()).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    assert_eq!(keys.verify(&unsigned), None, "alg none");
    assert_eq!(keys.verify("not a token"), None);
}
