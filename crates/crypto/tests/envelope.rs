//! Signed envelopes.

use oncofed_crypto::{CryptoError, SignedEnvelope, SigningKeyPair};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Task {
    id: String,
    sites: Vec<u32>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Other {
    count: u64,
}

fn task() -> Task {
    Task {
        id: "q-1".into(),
        sites: vec![1, 2],
    }
}

#[test]
fn seal_open_round_trip_through_json() {
    let key = SigningKeyPair::generate();
    let env = SignedEnvelope::seal(&task(), &key).unwrap();
    assert_eq!(env.payload, serde_json::to_string(&task()).unwrap());
    let wire = serde_json::to_string(&env).unwrap();
    let back: SignedEnvelope = serde_json::from_str(&wire).unwrap();
    assert_eq!(back.open::<Task>(&key.public_key()).unwrap(), task());
}

#[test]
fn tampered_payload_is_rejected() {
    let key = SigningKeyPair::generate();
    let mut env = SignedEnvelope::seal(&task(), &key).unwrap();
    env.payload = env.payload.replace("q-1", "q-2");
    assert!(matches!(
        env.open::<Task>(&key.public_key()),
        Err(CryptoError::BadSignature)
    ));
    // Even a change that parses to the same value is refused: the text is signed.
    let mut env = SignedEnvelope::seal(&task(), &key).unwrap();
    env.payload = env.payload.replace(',', ", ");
    assert!(matches!(
        env.open::<Task>(&key.public_key()),
        Err(CryptoError::BadSignature)
    ));
}

#[test]
fn tampered_signature_is_rejected() {
    let key = SigningKeyPair::generate();
    let mut env = SignedEnvelope::seal(&task(), &key).unwrap();
    env.signature = key.sign(env.payload.as_bytes()); // right key, no domain prefix
    assert!(matches!(
        env.open::<Task>(&key.public_key()),
        Err(CryptoError::BadSignature)
    ));
}

#[test]
fn substituted_signer_is_rejected() {
    let hub = SigningKeyPair::generate();
    let mallory = SigningKeyPair::generate();
    let env = SignedEnvelope::seal(&task(), &mallory).unwrap();
    let err = env.open::<Task>(&hub.public_key()).unwrap_err();
    assert!(matches!(err, CryptoError::UntrustedSigner { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&mallory.public_key().fingerprint())
    );

    // Claiming to be the hub while signing with another key.
    let mut env = SignedEnvelope::seal(&task(), &mallory).unwrap();
    env.signer = hub.public_key();
    assert!(matches!(
        env.open::<Task>(&hub.public_key()),
        Err(CryptoError::BadSignature)
    ));
}

#[test]
fn wrong_type_is_rejected_without_echoing_payload() {
    let key = SigningKeyPair::generate();
    let env = SignedEnvelope::seal(&task(), &key).unwrap();
    let err = env.open::<Other>(&key.public_key()).unwrap_err();
    assert!(matches!(err, CryptoError::PayloadType { .. }), "{err}");
    assert!(!err.to_string().contains("q-1"));
}

#[test]
fn open_any_of_accepts_each_trusted_key() {
    let a = SigningKeyPair::generate();
    let b = SigningKeyPair::generate();
    let c = SigningKeyPair::generate();
    let trusted = [a.public_key(), b.public_key()];
    for key in [&a, &b] {
        let env = SignedEnvelope::seal(&task(), key).unwrap();
        assert_eq!(env.open_any_of::<Task>(&trusted).unwrap(), task());
    }
    let env = SignedEnvelope::seal(&task(), &c).unwrap();
    assert!(matches!(
        env.open_any_of::<Task>(&trusted),
        Err(CryptoError::UntrustedSigner { .. })
    ));
    assert!(matches!(
        env.open_any_of::<Task>(&[]),
        Err(CryptoError::UntrustedSigner { .. })
    ));
}

#[test]
fn unknown_envelope_fields_are_refused() {
    let key = SigningKeyPair::generate();
    let env = SignedEnvelope::seal(&task(), &key).unwrap();
    let mut value = serde_json::to_value(&env).unwrap();
    value["extra"] = serde_json::json!(1);
    assert!(serde_json::from_value::<SignedEnvelope>(value).is_err());
}
