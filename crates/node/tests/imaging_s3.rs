//! The image archive on S3-compatible storage: a real S3 server (moto's
//! `moto_server`, from `.venv-s3` as `scripts/setup-peers` installs it, or
//! `ONCOFED_MOTO_SERVER`) takes the de-identified objects of an ingest under
//! a bucket prefix, returns them byte for byte, and deletes them.

mod support;

use oncofed_node::imaging::{self, ImagingSetup, ObjectArchive};
use oncofed_trustee::{PseudonymKey, TrusteeConfig};
use oncofed_trustee_api::TrusteeClient;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::{Node, registry, serve};

const TOKEN: &str = "token-of-site-1-0123456789abcdef";

/// A moto S3 server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    url: String,
    python: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto() -> Option<Moto> {
    let server = std::env::var_os("ONCOFED_MOTO_SERVER").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-s3/bin/moto_server"),
        PathBuf::from,
    );
    let server = oncofed_test_peers::peer(server.to_str()?)?;
    let port = oncofed_test_peers::free_port();
    let child = Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let url = format!("http://127.0.0.1:{port}");
    let up = oncofed_test_peers::wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "moto_server did not listen on {url}");
    let python = server.with_file_name("python");
    Some(Moto { child, url, python })
}

#[tokio::test]
async fn the_archive_keeps_objects_in_an_s3_bucket() {
    let Some(s3) = moto() else {
        return;
    };
    // The bucket, as the site's storage admin would create it.
    let made = Command::new(&s3.python)
        .args([
            "-c",
            &format!(
                "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
                 aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket='oncofed-images')",
                s3.url
            ),
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let options: Vec<(String, String)> = [
        ("aws_endpoint", s3.url.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
        ("aws_region", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let archive = ObjectArchive::at_url("s3://oncofed-images/site-1", &options).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let key = PseudonymKey::from_bytes(vec![7; 32]).unwrap();
    let config =
        TrusteeConfig::new(tmp.path().join("tc"), key, registry([("site-1", TOKEN)])).unwrap();
    let trustee = serve(config).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let setup = ImagingSetup::new(&[9; 32], archive.clone());
    let input = tempfile::tempdir().unwrap();
    support::dicom::wilma_ct(&input.path().join("ct.dcm"));
    let report = imaging::ingest_dicom(
        &node.store,
        &client,
        &setup,
        &[input.path().to_owned()],
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.objects_stored, 1, "{report:?}");

    let store = node.store.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let s = store.lock().unwrap();
        let mut psns = Vec::new();
        s.for_each_patient(&mut |p| psns.push(p.pseudonym))?;
        s.images_of(&psns)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(rows.len(), 1);
    let object_key = &rows[0].object_key;
    assert!(archive.contains(object_key).await.unwrap());
    let bytes = archive.get(object_key).await.unwrap();
    assert_eq!(
        ObjectArchive::key_of(&bytes),
        *object_key,
        "content-addressed"
    );
    assert!(
        !bytes.windows(7).any(|w| w == b"Beispie"),
        "de-identified in S3"
    );
    assert_eq!(
        archive
            .delete(std::slice::from_ref(object_key))
            .await
            .unwrap(),
        1
    );
    assert!(!archive.contains(object_key).await.unwrap());
}
