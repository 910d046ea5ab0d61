//! Request signing.

use oncofed_crypto::{
    CryptoError, SigningKeyPair, body_digest, check_request_time, request_message, sign_request,
    verify_request, verify_request_digest,
};

const NOW: i64 = 1_700_000_000;

#[test]
fn message_layout_is_as_documented() {
    let msg = request_message("POST", "/v1/tasks?site=a", 42, b"");
    assert_eq!(
        String::from_utf8(msg).unwrap(),
        "oncofed-request-v1\nPOST\n/v1/tasks?site=a\n42\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn signed_request_verifies_within_skew() {
    let key = SigningKeyPair::generate();
    let sig = sign_request(&key, "POST", "/v1/results", NOW, b"{}");
    for now in [NOW, NOW + 300, NOW - 300] {
        verify_request(
            &key.public_key(),
            "POST",
            "/v1/results",
            NOW,
            b"{}",
            &sig,
            now,
            300,
        )
        .unwrap();
    }
}

#[test]
fn skew_outside_window_is_rejected() {
    let key = SigningKeyPair::generate();
    let sig = sign_request(&key, "GET", "/v1/tasks", NOW, b"");
    for now in [NOW + 301, NOW - 301, i64::MAX, i64::MIN] {
        let err = verify_request(
            &key.public_key(),
            "GET",
            "/v1/tasks",
            NOW,
            b"",
            &sig,
            now,
            300,
        )
        .unwrap_err();
        assert!(matches!(err, CryptoError::RequestExpired { .. }), "{err}");
    }
}

#[test]
fn any_changed_part_is_rejected() {
    let key = SigningKeyPair::generate();
    let pk = key.public_key();
    let sig = sign_request(&key, "POST", "/v1/results?x=1", NOW, b"body");
    let bad =
        |r: Result<(), CryptoError>| assert!(matches!(r, Err(CryptoError::BadSignature)), "{r:?}");
    bad(verify_request(
        &pk,
        "PUT",
        "/v1/results?x=1",
        NOW,
        b"body",
        &sig,
        NOW,
        60,
    ));
    bad(verify_request(
        &pk,
        "post",
        "/v1/results?x=1",
        NOW,
        b"body",
        &sig,
        NOW,
        60,
    ));
    bad(verify_request(
        &pk,
        "POST",
        "/v1/results?x=2",
        NOW,
        b"body",
        &sig,
        NOW,
        60,
    ));
    bad(verify_request(
        &pk,
        "POST",
        "/v1/results?x=1",
        NOW + 1,
        b"body",
        &sig,
        NOW,
        60,
    ));
    bad(verify_request(
        &pk,
        "POST",
        "/v1/results?x=1",
        NOW,
        b"bodY",
        &sig,
        NOW,
        60,
    ));
    let other = SigningKeyPair::generate().public_key();
    bad(verify_request(
        &other,
        "POST",
        "/v1/results?x=1",
        NOW,
        b"body",
        &sig,
        NOW,
        60,
    ));
}

#[test]
fn line_breaks_in_method_or_path_are_refused() {
    let key = SigningKeyPair::generate();
    // "GET\n/a" + "b" and "GET" + "/a\nb" would give the same message.
    let sig = sign_request(&key, "GET", "/a\nb", NOW, b"");
    let err =
        verify_request(&key.public_key(), "GET\n/a", "b", NOW, b"", &sig, NOW, 60).unwrap_err();
    assert!(matches!(err, CryptoError::RequestField), "{err}");
}

#[test]
fn a_signature_verifies_against_the_body_digest_sent_ahead_of_the_body() {
    let key = SigningKeyPair::generate();
    let pk = key.public_key();
    let body = br#"{"sealed":"outcome"}"#;
    let sig = sign_request(&key, "POST", "/v1/site/results?nonce=1", NOW, body);
    let digest = body_digest(body);
    verify_request_digest(
        &pk,
        "POST",
        "/v1/site/results?nonce=1",
        NOW,
        &digest,
        &sig,
        NOW,
        60,
    )
    .unwrap();
    // Another body's digest, or the same digest in upper case, does not verify.
    let other = body_digest(b"{}");
    let r = verify_request_digest(
        &pk,
        "POST",
        "/v1/site/results?nonce=1",
        NOW,
        &other,
        &sig,
        NOW,
        60,
    );
    assert!(matches!(r, Err(CryptoError::BadSignature)), "{r:?}");
    for bad in [
        digest.to_uppercase(),
        digest[..63].to_owned(),
        format!("{digest}0"),
        String::new(),
    ] {
        let r = verify_request_digest(
            &pk,
            "POST",
            "/v1/site/results?nonce=1",
            NOW,
            &bad,
            &sig,
            NOW,
            60,
        );
        assert!(matches!(r, Err(CryptoError::RequestDigest)), "{bad}: {r:?}");
    }
}

#[test]
fn the_clock_check_stands_alone() {
    check_request_time(NOW, NOW + 120, 120).unwrap();
    check_request_time(NOW, NOW - 120, 120).unwrap();
    for now in [NOW + 121, NOW - 121, i64::MIN, i64::MAX] {
        assert!(matches!(
            check_request_time(NOW, now, 120),
            Err(CryptoError::RequestExpired { .. })
        ));
    }
}
