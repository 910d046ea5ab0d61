//! Property tests: any payload round-trips; any change to signed bytes fails.

use oncofed_crypto::{CryptoError, PublicKey, SignedEnvelope, SigningKeyPair};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_payload_round_trips(value in any::<Vec<(String, i64)>>()) {
        let key = SigningKeyPair::generate();
        let env = SignedEnvelope::seal(&value, &key).unwrap();
        prop_assert_eq!(env.open::<Vec<(String, i64)>>(&key.public_key()).unwrap(), value);
    }

    #[test]
    fn any_payload_change_is_rejected(text in "[ -~]{1,40}", index in any::<prop::sample::Index>(), byte in 0x20u8..0x7f) {
        let key = SigningKeyPair::from_secret_bytes(&[3; 32]);
        let mut env = SignedEnvelope::seal(&text, &key).unwrap();
        let mut bytes = env.payload.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        env.payload = String::from_utf8(bytes).unwrap();
        prop_assert!(matches!(env.open::<String>(&key.public_key()), Err(CryptoError::BadSignature)));
    }

    #[test]
    fn public_key_text_round_trips(secret in any::<[u8; 32]>()) {
        let public = SigningKeyPair::from_secret_bytes(&secret).public_key();
        prop_assert_eq!(public.to_string().parse::<PublicKey>().unwrap(), public);
        prop_assert_eq!(PublicKey::from_bytes(&public.to_bytes()).unwrap(), public);
    }
}
