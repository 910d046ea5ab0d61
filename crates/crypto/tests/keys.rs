//! Key pairs, encodings and key files.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oncofed_crypto::{CryptoError, PublicKey, Signature, SigningKeyPair};
use std::str::FromStr;

#[test]
fn sign_verify_round_trip() {
    let key = SigningKeyPair::generate();
    let sig = key.sign(b"hello");
    key.public_key().verify(b"hello", &sig).unwrap();
    assert!(matches!(
        key.public_key().verify(b"hellO", &sig),
        Err(CryptoError::BadSignature)
    ));
    let other = SigningKeyPair::generate();
    assert!(matches!(
        other.public_key().verify(b"hello", &sig),
        Err(CryptoError::BadSignature)
    ));
}

#[test]
fn public_key_and_signature_text_round_trip() {
    let key = SigningKeyPair::from_secret_bytes(&[1; 32]);
    let public = key.public_key();
    let text = public.to_string();
    assert_eq!(text.len(), 44);
    assert_eq!(PublicKey::from_str(&text).unwrap(), public);
    assert_eq!(PublicKey::from_str(&format!(" {text}\n")).unwrap(), public);
    let json = serde_json::to_string(&public).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), public);

    let sig = key.sign(b"m");
    let sig_text = sig.to_string();
    assert_eq!(sig_text.len(), 88);
    assert_eq!(Signature::from_str(&sig_text).unwrap(), sig);
    let json = serde_json::to_string(&sig).unwrap();
    assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), sig);
}

#[test]
fn bad_encodings_are_refused() {
    assert!(matches!(
        PublicKey::from_str("abc"),
        Err(CryptoError::InvalidPublicKey { .. })
    ));
    // The identity point (0, 1): a valid encoding of a small-order point.
    let small_order = STANDARD.encode({
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    });
    assert!(matches!(
        PublicKey::from_str(&small_order),
        Err(CryptoError::InvalidPublicKey { .. })
    ));
    assert!(matches!(
        Signature::from_str("AAAA"),
        Err(CryptoError::InvalidSignatureEncoding)
    ));
    // Setting a trailing bit in the last base64 digit must not give a second
    // text form of the same signature.
    let sig = SigningKeyPair::generate().sign(b"m").to_string();
    let mut tweaked = sig.into_bytes();
    let i = tweaked.len() - 3;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let value = alphabet.iter().position(|&c| c == tweaked[i]).unwrap();
    tweaked[i] = alphabet[value | 1];
    let tweaked = String::from_utf8(tweaked).unwrap();
    assert!(matches!(
        Signature::from_str(&tweaked),
        Err(CryptoError::InvalidSignatureEncoding)
    ));
    assert!(Signature::from_str(&format!(" {}", &tweaked[..88])).is_err());
}

#[test]
fn fingerprint_is_16_hex_digits_and_stable() {
    let key = SigningKeyPair::from_secret_bytes(&[9; 32]).public_key();
    let fp = key.fingerprint();
    assert_eq!(fp.len(), 16);
    assert!(
        fp.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(fp, key.fingerprint());
    assert_ne!(
        fp,
        SigningKeyPair::from_secret_bytes(&[8; 32])
            .public_key()
            .fingerprint()
    );
}

#[test]
fn debug_redacts_the_secret() {
    let key = SigningKeyPair::from_secret_bytes(&[0xab; 32]);
    let debug = format!("{key:?}");
    assert!(debug.contains("redacted"));
    assert!(!debug.to_lowercase().contains("abab"));
    assert!(!debug.contains("171"));
}

#[test]
fn load_or_create_is_idempotent_and_writes_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.key");
    let first = SigningKeyPair::load_or_create(&path).unwrap();
    let second = SigningKeyPair::load_or_create(&path).unwrap();
    assert_eq!(first.public_key(), second.public_key());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn load_accepts_raw_and_hex_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let expected = SigningKeyPair::from_secret_bytes(&[5; 32]).public_key();
    for (name, contents) in [
        ("raw", vec![5u8; 32]),
        ("hex", format!("{}\n", "05".repeat(32)).into_bytes()),
    ] {
        let path = dir.path().join(name);
        write_private(&path, &contents);
        assert_eq!(
            SigningKeyPair::load_or_create(&path).unwrap().public_key(),
            expected,
            "{name}"
        );
    }
}

#[test]
fn load_refuses_garbage_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.key");
    write_private(&path, b"secret-looking-garbage");
    let err = SigningKeyPair::load_or_create(&path).unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileFormat { .. }), "{err}");
    assert!(!err.to_string().contains("garbage"));
}

#[cfg(unix)]
#[test]
fn load_refuses_group_or_world_readable_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.key");
    SigningKeyPair::load_or_create(&path).unwrap();
    for mode in [0o640, 0o604, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = SigningKeyPair::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, CryptoError::KeyFilePermissions { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    SigningKeyPair::load_or_create(&path).unwrap();
}

#[test]
fn create_fails_clearly_in_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = SigningKeyPair::load_or_create(dir.path().join("no/such/dir/k")).unwrap_err();
    assert!(matches!(err, CryptoError::KeyFileWrite { .. }), "{err}");
}

fn write_private(path: &std::path::Path, contents: &[u8]) {
    std::fs::write(path, contents).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
