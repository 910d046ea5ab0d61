//! The site-request extractor against bodies that count what the hub pulls.

use super::*;
use crate::{HubConfig, Users};
use axum::http::Request as HttpRequest;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use oncofed_crypto::SigningKeyPair;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// A body of `total` bytes in 64 KiB chunks that records how many it handed out.
struct CountingBody {
    left: usize,
    pulled: Arc<AtomicUsize>,
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(64 << 10);
        self.left -= n;
        self.pulled.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n])))))
    }
}

/// The bytes of a [`CountingBody`] of `n` bytes (all `x`).
fn content(n: usize) -> Vec<u8> {
    vec![b'x'; n]
}

struct Fixture {
    state: AppState,
    key: SigningKeyPair,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = HubConfig::new(
        dir.path().join("hub"),
        SigningKeyPair::generate(),
        Users::default(),
    );
    let state = AppState::open(config).unwrap();
    let key = SigningKeyPair::generate();
    state
        .inner
        .site_keys
        .lock()
        .unwrap()
        .insert("site-1".into(), key.public_key());
    Fixture {
        state,
        key,
        _dir: dir,
    }
}

/// How a test request departs from a correctly signed one.
#[derive(Default, Clone)]
struct Spec {
    method: &'static str,
    path: &'static str,
    site: Option<&'static str>,
    skew: i64,
    zero_signature: bool,
    no_digest: bool,
    /// Sign a body of this many bytes but send `body` bytes.
    signed_len: Option<usize>,
    body: usize,
    /// Send no `Content-Length` (a chunked body).
    no_length: bool,
}

fn request(f: &Fixture, spec: &Spec, pulled: &Arc<AtomicUsize>) -> Request {
    let ts = chrono::Utc::now().timestamp() + spec.skew;
    let method = if spec.method.is_empty() {
        "POST"
    } else {
        spec.method
    };
    let path = if spec.path.is_empty() {
        "/v1/site/results?nonce=1"
    } else {
        spec.path
    };
    let signed = content(spec.signed_len.unwrap_or(spec.body));
    let signature = if spec.zero_signature {
        Signature::from_bytes(&[0; 64])
    } else {
        oncofed_crypto::sign_request(&f.key, method, path, ts, &signed)
    };
    let mut b = HttpRequest::builder()
        .method(method)
        .uri(path)
        .header(SITE_HEADER, spec.site.unwrap_or("site-1"))
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(SIGNATURE_HEADER, signature.to_string());
    if !spec.no_digest {
        b = b.header(DIGEST_HEADER, oncofed_crypto::body_digest(&signed));
    }
    if !spec.no_length {
        b = b.header(header::CONTENT_LENGTH, spec.body.to_string());
    }
    b.body(Body::new(CountingBody {
        left: spec.body,
        pulled: pulled.clone(),
    }))
    .unwrap()
}

/// Runs the results-route extractor; returns its outcome and the bytes it pulled.
async fn extract(
    f: &Fixture,
    spec: &Spec,
) -> (Result<SiteRequest<MAX_RESULT_BODY>, Response>, usize) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let r = SiteRequest::<MAX_RESULT_BODY>::from_request(request(f, spec, &pulled), &f.state)
        .await
        .map_err(IntoResponse::into_response);
    (r, pulled.load(Ordering::SeqCst))
}

const SIXTY_MB: usize = 60 << 20;

#[tokio::test]
async fn red_team_site_results_body_not_read_before_signature() {
    let f = fixture();
    let forged = [
        (
            "unknown site",
            Spec {
                site: Some("site-9"),
                ..Spec::default()
            },
        ),
        (
            "timestamp out of the window",
            Spec {
                skew: -1000,
                ..Spec::default()
            },
        ),
        (
            "zero signature",
            Spec {
                zero_signature: true,
                ..Spec::default()
            },
        ),
        (
            "no digest header",
            Spec {
                no_digest: true,
                ..Spec::default()
            },
        ),
    ];
    for (what, spec) in forged {
        let spec = Spec {
            body: SIXTY_MB,
            ..spec
        };
        let (r, pulled) = extract(&f, &spec).await;
        let status = r.expect_err(what).status();
        assert_eq!(status, 401, "{what}");
        assert_eq!(pulled, 0, "{what}: the hub read {pulled} body bytes");
    }
    // A body announced beyond the route's limit is refused at once, signed or not.
    let (r, pulled) = extract(
        &f,
        &Spec {
            body: MAX_RESULT_BODY + 1,
            ..Spec::default()
        },
    )
    .await;
    assert_eq!(r.expect_err("too large").status(), 413);
    assert_eq!(pulled, 0);
    // A signed request is read in full and its body handed on.
    let (r, pulled) = extract(
        &f,
        &Spec {
            body: 100_000,
            ..Spec::default()
        },
    )
    .await;
    let req = r.expect("a correctly signed request");
    assert_eq!(
        (req.site.as_str(), req.body.len(), pulled),
        ("site-1", 100_000, 100_000)
    );
}

#[tokio::test]
async fn a_body_that_differs_from_its_signed_digest_is_refused() {
    let f = fixture();
    // Signed over 1,000 bytes, sent with 1,001 (and with 999) bytes.
    for body in [1001, 999] {
        let (r, _) = extract(
            &f,
            &Spec {
                signed_len: Some(1000),
                body,
                ..Spec::default()
            },
        )
        .await;
        assert_eq!(r.expect_err("digest mismatch").status(), 401);
    }
    // A body without a declared length stops at the route's limit.
    let (r, pulled) = extract(
        &f,
        &Spec {
            body: MAX_RESULT_BODY + 1,
            no_length: true,
            ..Spec::default()
        },
    )
    .await;
    assert_eq!(r.expect_err("too large").status(), 413);
    assert!(pulled <= MAX_RESULT_BODY + (64 << 10), "{pulled}");
}

#[tokio::test]
async fn red_team_site_poll_body_limit_is_small() {
    let f = fixture();
    let pulled = Arc::new(AtomicUsize::new(0));
    let spec = Spec {
        method: "GET",
        path: "/v1/site/tasks?wait=0&nonce=1",
        body: SMALL_SITE_BODY + 1,
        ..Spec::default()
    };
    let r =
        SiteRequest::<SMALL_SITE_BODY>::from_request(request(&f, &spec, &pulled), &f.state).await;
    let status = r.map(|_| ()).map_err(|e| e.into_response().status());
    assert_eq!(status, Err(axum::http::StatusCode::PAYLOAD_TOO_LARGE));
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    // A poll without body and without digest header is fine.
    let spec = Spec {
        method: "GET",
        path: "/v1/site/tasks?wait=0&nonce=2",
        no_digest: true,
        ..Spec::default()
    };
    let r =
        SiteRequest::<SMALL_SITE_BODY>::from_request(request(&f, &spec, &pulled), &f.state).await;
    assert!(r.is_ok());
}

#[tokio::test]
async fn red_team_concurrent_large_site_bodies_are_capped() {
    let f = fixture();
    let budget = &f.state.inner.body_budget;
    // Other sites' requests hold the whole budget.
    let held = budget.try_reserve("site-2", MAX_RESULT_BODY).unwrap();
    let more: Vec<_> = (3..6)
        .map(|k| {
            budget
                .try_reserve(&format!("site-{k}"), MAX_RESULT_BODY)
                .unwrap()
        })
        .collect();
    assert!(
        budget.try_reserve("site-6", 1 << 20).is_err(),
        "256 MiB in flight"
    );
    let spec = Spec {
        path: "/v1/site/results?nonce=budget-1",
        body: 1 << 20,
        ..Spec::default()
    };
    let (r, pulled) = extract(&f, &spec).await;
    let resp = r.expect_err("over the budget");
    assert_eq!(resp.status(), 503);
    let retry: u64 = resp.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    assert_eq!(pulled, 0, "refused before reading");
    // Small bodies (feasibility outcomes) do not wait for the budget.
    let small = Spec {
        path: "/v1/site/results?nonce=budget-2",
        body: 10_000,
        ..Spec::default()
    };
    assert!(extract(&f, &small).await.0.is_ok());
    drop((held, more));
    // Signed afresh (a new nonce): once the budget is free the post goes through,
    // and its permit is held as long as the request is.
    let again = Spec {
        path: "/v1/site/results?nonce=budget-3",
        ..spec.clone()
    };
    let req = extract(&f, &again).await.0.expect("budget free again");
    assert!(budget.try_reserve("site-1", MAX_RESULT_BODY).is_err());
    drop(req);
    // One site cannot take the budget from the others: with a maximal body of
    // its own in flight it is refused, while another site still fits.
    let own = budget.try_reserve("site-1", MAX_RESULT_BODY).unwrap();
    let spec = Spec {
        path: "/v1/site/results?nonce=budget-4",
        ..spec
    };
    assert_eq!(
        extract(&f, &spec)
            .await
            .0
            .expect_err("own share used")
            .status(),
        503
    );
    assert!(budget.try_reserve("site-2", MAX_RESULT_BODY).is_ok());
    drop(own);
}

#[tokio::test]
async fn red_team_signed_site_request_replay_refused_before_its_body() {
    let f = fixture();
    let pulled = Arc::new(AtomicUsize::new(0));
    let spec = Spec {
        body: 1 << 20,
        ..Spec::default()
    };
    // The same signed request twice (one capture, sent again).
    let first = request(&f, &spec, &pulled);
    let (parts, _) = first.into_parts();
    let replay = |body: usize| {
        let mut r = HttpRequest::new(Body::new(CountingBody {
            left: body,
            pulled: pulled.clone(),
        }));
        *r.method_mut() = parts.method.clone();
        *r.uri_mut() = parts.uri.clone();
        *r.headers_mut() = parts.headers.clone();
        r
    };
    let ok = SiteRequest::<MAX_RESULT_BODY>::from_request(replay(1 << 20), &f.state).await;
    assert!(ok.is_ok());
    let before = pulled.load(Ordering::SeqCst);
    let again = SiteRequest::<MAX_RESULT_BODY>::from_request(replay(1 << 20), &f.state)
        .await
        .map(|_| ())
        .map_err(|e| e.into_response().status());
    assert_eq!(again, Err(axum::http::StatusCode::UNAUTHORIZED));
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        before,
        "replay refused unread"
    );
}

#[tokio::test]
async fn red_team_request_signed_before_a_hub_restart_is_refused() {
    // The replay memory does not survive a restart, so a request captured
    // before it (here: stamped 60 s before this hub opened, well inside the
    // clock window) must not count as fresh afterwards.
    let f = fixture();
    let (r, pulled) = extract(
        &f,
        &Spec {
            skew: -60,
            body: 1 << 20,
            ..Spec::default()
        },
    )
    .await;
    let resp = r.expect_err("signed before the start");
    assert_eq!((resp.status().as_u16(), pulled), (401, 0));
    let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("before the hub started"),
        "{body:?}"
    );
}
