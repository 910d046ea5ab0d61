//! `oncofed trustee rotate-linkage-key` and `serve --linkage-key-file` (issue 18,
//! item 4): a trust centre links a person, is stopped, its blocking index is
//! re-keyed into a key file of its own, and it links the same person from
//! another site under the new key; started without that key it refuses to run
//! rather than search an index it cannot read.

mod support;

use oncofed_trustee_api::{PseudonymiseItem, TrusteeClient};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{Served, add_site, oncofed, serve_trustee_with, text};

fn erika(local_id: &str) -> PseudonymiseItem {
    serde_json::from_value(serde_json::json!({
        "local_id": local_id,
        "idat": {"given": ["Erika"], "family": "Mustermann", "birth_date": "1964-08-12",
                 "sex": "female", "address": {"lines": ["Lindenweg 4"], "postal_code": "50667",
                 "city": "Köln"}}
    }))
    .unwrap()
}

async fn research_pseudonym(url: &str, token: &Path, local_id: &str) -> String {
    let token = std::fs::read_to_string(token).unwrap();
    let client = TrusteeClient::new(url, token.trim()).unwrap();
    let pairs = client.pseudonymise(vec![erika(local_id)]).await.unwrap();
    pairs[0].research.as_str().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_moves_the_index_to_a_key_file_and_linkage_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let tc = dir.path().join("tc");
    add_site(&tc, "site-1", &dir.path().join("site-1.token"));
    add_site(&tc, "site-2", &dir.path().join("site-2.token"));

    let (served, url) = serve_trustee_with(&tc, &[]);
    let before = research_pseudonym(&url, &dir.path().join("site-1.token"), "a-1").await;
    drop(served);

    let key = tc.join("linkage.key");
    let out = oncofed()
        .args(["trustee", "rotate-linkage-key", "--data-dir"])
        .arg(&tc)
        .arg("--new-key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("re-indexed 1 records"),
        "{}",
        text(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the new key file is owner-only");

    // Under the new key, site 2's record of the same person links to her.
    let (served, url) = serve_trustee_with(&tc, &["--linkage-key-file", key.to_str().unwrap()]);
    let after = research_pseudonym(&url, &dir.path().join("site-2.token"), "b-1").await;
    assert_eq!(after, before, "the re-keyed index still finds the person");
    drop(served);

    // Without the key file the service refuses to start, and says what to do.
    let mut child = oncofed()
        .args(["trustee", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&tc)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _guard = Served(child);
            panic!("the trust centre started with the wrong linkage key");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert!(!status.success());
    assert!(
        text(&out).contains("rotate-linkage-key"),
        "the error says what to do: {}",
        text(&out)
    );
}
