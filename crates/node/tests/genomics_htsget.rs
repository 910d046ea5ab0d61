//! Controlled access to sequences through the real peers (issue 16, item 5):
//! the Python `htsget` client downloads a region of a person's VCF from the
//! site's htsget endpoint, Python `crypt4gh` decrypts it with the researcher's
//! key (made by `crypt4gh-keygen`), and `bcftools view` finds in it exactly the
//! records `bcftools view -r` finds in the source. A wrong token and a person
//! without the genetic opt-in get the protocol's errors.

mod support;

use oncofed_crypt4gh::SecretKey;
use oncofed_node::ConsentGate;
use oncofed_node::genomics::{self, GenomicsSetup};
use oncofed_node::htsget::{HtsgetGrant, HtsgetState};
use oncofed_node::imaging::ObjectArchive;
use oncofed_node::imaging::deliver::{DeliveryAudit, ProjectKey};
use oncofed_trustee::{PseudonymKey, TrusteeConfig};
use oncofed_trustee_api::TrusteeClient;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use support::genomics::{HEAD, fhir, mutect2};
use support::{Node, registry, serve, write_bundle};

const TOKEN: &str = "token-of-site-1-0123456789abcdef";
const RESEARCHER: &str = "researcher-token-0123456789abcdef";

/// The peer venv's `bin` (crypt4gh, htsget), or `None` to skip.
fn peer_bin() -> Option<PathBuf> {
    let python = std::env::var_os("ONCOFED_C4GH_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-c4gh/bin/python"),
        PathBuf::from,
    );
    let bin = python.parent()?.to_path_buf();
    oncofed_test_peers::peer(bin.join("crypt4gh").to_str()?)?;
    oncofed_test_peers::peer("bcftools")?;
    Some(bin)
}

fn ok(c: &mut Command) -> Vec<u8> {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// CHROM (without `chr`), POS, REF, ALT and the first sample's genotype of every record.
fn records(vcf: &Path, region: Option<&str>) -> Vec<String> {
    let mut c = Command::new("bcftools");
    c.args(["query", "-f", "%CHROM\t%POS\t%REF\t%ALT[\t%GT]\n"]);
    if let Some(r) = region {
        c.args(["-r", r]);
    }
    String::from_utf8(ok(c.arg(vcf)))
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("chr").to_owned())
        .collect()
}

// Several threads: the endpoint serves while the test waits on the peers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_htsget_client_downloads_a_region_python_crypt4gh_decrypts_and_bcftools_agrees()
{
    let Some(bin) = peer_bin() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let key = PseudonymKey::from_bytes(vec![7; 32]).unwrap();
    let trustee = serve(
        TrusteeConfig::new(tmp.path().join("tc"), key, registry([("site-1", TOKEN)])).unwrap(),
    )
    .await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let bundle = tmp.path().join("site.json");
    write_bundle(&bundle, fhir());
    node.ingest_clean(&client, &[bundle]).await;
    let dir = tmp.path().join("batch");
    std::fs::create_dir(&dir).unwrap();
    mutect2(&dir.join("anna.vcf"), None);
    // Berta's tumour is sequenced too, but she has no genetic opt-in.
    let berta = std::fs::read_to_string(dir.join("anna.vcf"))
        .unwrap()
        .replace("ANNA", "BERTA");
    std::fs::write(dir.join("berta.vcf"), berta).unwrap();
    std::fs::write(
        dir.join("samples.csv"),
        format!(
            "{HEAD}anna.vcf,T-ANNA-0815,p-1,Probe,Anna,1961-02-03,female,2024-03-01,\n\
             anna.vcf,N-ANNA-0815,p-1,Probe,Anna,1961-02-03,female,2024-03-01,\n\
             berta.vcf,T-BERTA-0815,p-2,Probe,Berta,1970-05-06,female,2024-03-01,\n\
             berta.vcf,N-BERTA-0815,p-2,Probe,Berta,1970-05-06,female,2024-03-01,\n"
        ),
    )
    .unwrap();
    let setup = GenomicsSetup::new(
        ObjectArchive::local(&node.dir.path().join("images")).unwrap(),
        [9; 32],
        SecretKey::generate().unwrap(),
    );
    genomics::ingest_sequencing(&node.store, &client, &setup, &dir)
        .await
        .unwrap();

    // The researcher's key pair, made by the peer; the site reads the public half.
    let (sk, pk) = (tmp.path().join("r.sec"), tmp.path().join("r.pub"));
    ok(Command::new(bin.join("crypt4gh-keygen"))
        .arg("--nocrypt")
        .arg("--sk")
        .arg(&sk)
        .arg("--pk")
        .arg(&pk));
    let grant_dir = tmp.path().join("grant");
    std::fs::create_dir(&grant_dir).unwrap();
    let project_key = ProjectKey::new([4; 32]);
    oncofed_service::tokens::write_secret(&grant_dir.join("p.key"), &hex::encode([4u8; 32]))
        .unwrap();
    oncofed_service::tokens::write_secret(&grant_dir.join("r.token"), RESEARCHER).unwrap();
    std::fs::copy(&pk, grant_dir.join("r.pub")).unwrap();
    std::fs::write(
        grant_dir.join("grant.json"),
        r#"{"project": "P-7", "project_key_file": "p.key", "token_file": "r.token", "researcher_public_key_file": "r.pub"}"#,
    )
    .unwrap();
    let grant = HtsgetGrant::from_file(&grant_dir.join("grant.json")).unwrap();
    let state = HtsgetState {
        store: node.store.clone(),
        gate: Arc::new(ConsentGate::new(client.clone(), Duration::from_secs(60))),
        setup,
        audit: Arc::new(
            DeliveryAudit::open(
                tmp.path().join("audit.db"),
                oncofed_crypto::SigningKeyPair::generate(),
                16,
            )
            .unwrap(),
        ),
        grants: Arc::new(vec![grant]),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, oncofed_node::htsget::router(state))
            .await
            .unwrap();
    });

    let research = |id: &str| {
        let client = client.clone();
        let id = id.to_owned();
        async move {
            client.resolve(vec![id]).await.unwrap()[0]
                .clone()
                .unwrap()
                .research
        }
    };
    let anna = project_key.pseudonym(&research("p-1").await);
    let berta = project_key.pseudonym(&research("p-2").await);
    let python = bin.join("python");
    let fetch = |id: &str, token: &str, out: &Path| {
        Command::new(&python)
            .arg("-c")
            .arg(
                "import sys, htsget\n\
                 with open(sys.argv[3], 'wb') as f:\n\
                 \x20   htsget.get(sys.argv[1], f, data_format='VCF', reference_name='chr7', start=55000000, end=55300000, bearer_token=sys.argv[2], max_retries=0)\n",
            )
            .arg(format!("{base}/htsget/variants/{id}.somatic"))
            .arg(token)
            .arg(out)
            .output()
            .unwrap()
    };
    let download = tmp.path().join("anna.vcf.gz.c4gh");
    let o = fetch(&anna, RESEARCHER, &download);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sealed = std::fs::read(&download).unwrap();
    assert!(sealed.starts_with(b"crypt4gh"));
    let plain = tmp.path().join("anna.vcf.gz");
    let decrypted = ok(Command::new(bin.join("crypt4gh"))
        .args(["decrypt", "--sk"])
        .arg(&sk)
        .stdin(std::fs::File::open(&download).unwrap()));
    std::fs::write(&plain, decrypted).unwrap();
    let header = String::from_utf8(ok(Command::new("bcftools")
        .args(["view", "-h"])
        .arg(&plain)))
    .unwrap();
    assert!(
        !header.contains("ANNA"),
        "the lab's sample ids do not leave: {header}"
    );
    assert!(header.contains(&format!("{anna}-tumor")), "{header}");
    // The source, bgzipped and indexed, queried with bcftools -r.
    let source = tmp.path().join("source.vcf.gz");
    ok(Command::new("bcftools")
        .args(["view", "-Oz", "-o"])
        .arg(&source)
        .arg(dir.join("anna.vcf")));
    ok(Command::new("bcftools").args(["index", "-t"]).arg(&source));
    let want = records(&source, Some("chr7:55000001-55300000"));
    assert_eq!(want.len(), 1);
    ok(Command::new("bcftools").args(["index", "-t"]).arg(&plain));
    assert_eq!(records(&plain, None), want);
    assert_eq!(records(&plain, Some("chr7:55000001-55300000")), want);

    // A wrong token and a person without the genetic opt-in: the client fails.
    let o = fetch(
        &anna,
        "not-the-token-0123456789abcdef",
        &tmp.path().join("x"),
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = fetch(&berta, RESEARCHER, &tmp.path().join("y"));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
