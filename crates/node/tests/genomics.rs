//! Sequencing output at the site end to end (issue 16): a real three-person
//! VCF of the bcftools test suite and a Mutect2-style tumour/normal file ingest
//! through the trust centre; files are kept only Crypt4GH-encrypted, a
//! multi-person file as one extract per person; sample ids never reach the
//! store or the archive; calls answer the `variant` and `marker` criteria; a
//! bad record lands nothing and names file, line and field; a region is
//! delivered encrypted to a researcher only with the genetic opt-in, and
//! bcftools reads it; a withdrawal deletes the person's files only.

mod support;

use oncofed_criteria::Criteria;
use oncofed_crypt4gh::SecretKey;
use oncofed_model::{Pseudonym, VariantOrigin};
use oncofed_node::ConsentGate;
use oncofed_node::genomics::{self, DeliveryError, GenomicsSetup, RegionQuery, SequenceRequest};
use oncofed_node::imaging::ObjectArchive;
use oncofed_node::imaging::deliver::{DeliveryAudit, ProjectKey};
use oncofed_node::withdrawal::WithdrawalPoller;
use oncofed_trustee_api::TrusteeClient;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::dicom::walk;
use support::genomics::{HEAD, fhir, mutect2};
use support::{Node, Served, write_bundle};

const TOKEN: &str = "token-of-site-1-0123456789abcdef";
const ADMIN: &str = "admin-token-0123456789abcdef-genomics";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/vcf-bcftools-htslib-tests")
}

async fn start_trustee(dir: &Path) -> Served {
    support::trustee_for_site_1(dir, TOKEN, ADMIN).await
}

fn bcftools() -> Option<&'static str> {
    let found = Command::new("bcftools").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("ONCOFED_REQUIRE_PEERS").is_none(),
            "bcftools is required (scripts/setup-peers installs it)"
        );
        eprintln!("skipping the bcftools checks: bcftools not found");
    }
    found.then_some("bcftools")
}

async fn matching(node: &Node, json: &str) -> Vec<Pseudonym> {
    let criteria: Criteria = serde_json::from_str(json).unwrap();
    criteria.validate().unwrap();
    let store = node.store.clone();
    let mut out: Vec<Pseudonym> =
        tokio::task::spawn_blocking(move || store.lock().unwrap().feasibility(&criteria))
            .await
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|(site, _)| site)
            .collect();
    out.sort();
    out
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn sequencing_batches_land_encrypted_answer_criteria_deliver_with_consent_and_withdraw() {
    let Some(bcftools) = bcftools() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let bundle = tmp.path().join("site.json");
    write_bundle(&bundle, fhir());
    node.ingest_clean(&client, &[bundle]).await;

    let dir = tmp.path().join("batch");
    std::fs::create_dir(&dir).unwrap();
    // The bcftools test suite's three-sample pileup, genotyped by `bcftools call`
    // as a germline pipeline would (the pileup itself has likelihoods, no GT).
    let called = Command::new(bcftools)
        .args(["call", "-m"])
        .arg(data().join("bcftools-mpileup.vcf"))
        .output()
        .unwrap();
    assert!(called.status.success());
    std::fs::write(dir.join("trio.vcf"), called.stdout).unwrap();
    mutect2(&dir.join("anna.somatic.vcf"), None);
    std::fs::write(
        dir.join("samples.csv"),
        format!(
            "{HEAD}trio.vcf,HG00100,p-1,Probe,Anna,1961-02-03,female,2024-02-01,germline\n\
             trio.vcf,HG00101,p-2,Probe,Berta,1970-05-06,female,2024-02-01,germline\n\
             trio.vcf,HG00102,p-3,Probe,Clara,1980-07-08,female,2024-02-01,germline\n\
             anna.somatic.vcf,T-ANNA-0815,p-1,Probe,Anna,1961-02-03,female,2024-03-01,\n\
             anna.somatic.vcf,N-ANNA-0815,p-1,Probe,Anna,1961-02-03,female,2024-03-01,\n"
        ),
    )
    .unwrap();
    assert!(genomics::is_sequencing_batch(&dir));
    let archive = ObjectArchive::local(&node.dir.path().join("images")).unwrap();
    let site_key = SecretKey::generate().unwrap();
    let setup = GenomicsSetup::new(archive.clone(), [9; 32], site_key.clone());
    let report = genomics::ingest_sequencing(&node.store, &client, &setup, &dir)
        .await
        .unwrap();
    assert_eq!(
        (report.files, report.objects, report.patients),
        (2, 4, 3),
        "{report:?}"
    );
    assert_eq!(report.somatic_calls, 2, "{report:?}");
    assert!(report.germline_calls >= 20, "{report:?}");
    assert_eq!(report.per_gene.get("EGFR"), Some(&1));
    assert_eq!(
        report.per_gene.get("KRAS"),
        Some(&1),
        "the gene table names KRAS"
    );
    assert_eq!(report.facts, 1, "one protein-altering call of a known gene");

    // The archive holds Crypt4GH files only: no sample id, no plain VCF.
    let objects = walk(
        &node
            .dir
            .path()
            .join("images")
            .join(genomics::ARCHIVE_PREFIX),
    );
    assert_eq!(objects.len(), 4);
    let mut plain = Vec::new();
    for f in &objects {
        let bytes = std::fs::read(f).unwrap();
        assert!(bytes.starts_with(b"crypt4gh"), "{f:?}");
        for secret in ["HG00100", "T-ANNA", "##fileformat", "55191822"] {
            assert!(!contains(&bytes, secret), "{secret} in {f:?}");
        }
        let mut out = Vec::new();
        oncofed_crypt4gh::decrypt(bytes.as_slice(), &mut out, &site_key, None).unwrap();
        plain.push(out);
    }
    // The trio became three one-person extracts with keyed column names;
    // Anna's tumour/normal file is kept as it came.
    let extracts: Vec<&Vec<u8>> = plain.iter().filter(|p| !contains(p, "T-ANNA")).collect();
    assert_eq!(extracts.len(), 3);
    for e in &extracts {
        let header = String::from_utf8_lossy(e)
            .lines()
            .find(|l| l.starts_with("#CHROM"))
            .unwrap()
            .to_owned();
        let columns: Vec<&str> = header.split('\t').skip(9).collect();
        assert_eq!(columns.len(), 1, "{header}");
        assert!(
            columns[0].starts_with('S') && !columns[0].contains("HG"),
            "{header}"
        );
        assert!(!contains(e, "nfs/srpipe"), "reference paths are dropped");
    }
    // The store: no sample id, no name.
    let db = std::fs::read(node.dir.path().join("research.db")).unwrap_or_default();
    for secret in ["HG00100", "T-ANNA-0815", "Anna"] {
        assert!(!contains(&db, secret), "{secret} in the store file");
    }

    let person = |id: &str| {
        let client = client.clone();
        let id = id.to_owned();
        async move { client.resolve(vec![id]).await.unwrap()[0].clone().unwrap() }
    };
    let (anna, berta, clara) = (
        person("p-1").await,
        person("p-2").await,
        person("p-3").await,
    );
    assert_eq!(
        matching(&node, r#"{"variant": {"gene": "EGFR", "protein": "p.Leu858Arg", "origin": "somatic", "vaf_min": 0.3}}"#).await,
        vec![anna.site.clone()]
    );
    assert!(
        matching(&node, r#"{"variant": {"gene": "EGFR", "vaf_min": 0.4}}"#)
            .await
            .is_empty()
    );
    assert_eq!(
        matching(
            &node,
            r#"{"marker": {"gene": "HGNC:3236", "present": true}}"#
        )
        .await,
        vec![anna.site.clone()],
        "a VCF call answers the FHIR marker criterion"
    );
    let mut all = vec![anna.site.clone(), berta.site.clone(), clara.site.clone()];
    all.sort();
    assert_eq!(
        matching(&node, r#"{"variant": {"origin": "germline"}}"#).await,
        all
    );

    // The same batch again: the same rows, no second object.
    let again = genomics::ingest_sequencing(&node.store, &client, &setup, &dir)
        .await
        .unwrap();
    assert_eq!(again.objects_existing, 4);
    assert_eq!(
        walk(
            &node
                .dir
                .path()
                .join("images")
                .join(genomics::ARCHIVE_PREFIX)
        )
        .len(),
        4
    );

    // Delivery of a region to a researcher: Anna's somatic EGFR region.
    let researcher = SecretKey::generate().unwrap();
    let gate = Arc::new(ConsentGate::new(client.clone(), Duration::from_secs(60)));
    let audit = DeliveryAudit::open(
        node.dir.path().join("deliveries.audit"),
        oncofed_crypto::SigningKeyPair::generate(),
        16,
    )
    .unwrap();
    let request = SequenceRequest {
        project: "p-genomics".into(),
        key: ProjectKey::new([3; 32]),
        recipient: researcher.public_key(),
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
    };
    let region = "chr7:55000000-55300000"
        .parse::<oncofed_vcf::Region>()
        .unwrap();
    let anna_project = request.key.pseudonym(&anna.research);
    let delivered = genomics::deliver_region(
        &node.store,
        &gate,
        &setup,
        &audit,
        &request,
        &RegionQuery {
            id: anna_project.clone(),
            origin: VariantOrigin::Somatic,
            region: Some(region),
        },
    )
    .await
    .unwrap();
    assert_eq!(delivered.records, 1);
    let mut bgzf = Vec::new();
    oncofed_crypt4gh::decrypt(delivered.bytes.as_slice(), &mut bgzf, &researcher, None).unwrap();
    assert!(
        oncofed_crypt4gh::decrypt(delivered.bytes.as_slice(), &mut Vec::new(), &site_key, None)
            .is_err(),
        "only the researcher can read it"
    );
    // Berta has no genetic opt-in: her germline extract is not delivered, and
    // the answer is the one for an unknown id.
    let berta_project = request.key.pseudonym(&berta.research);
    for (id, origin) in [
        (berta_project.as_str(), VariantOrigin::Germline),
        ("NO-SUCH-PERSON", VariantOrigin::Germline),
    ] {
        let e = genomics::deliver_region(
            &node.store,
            &gate,
            &setup,
            &audit,
            &request,
            &RegionQuery {
                id: id.to_owned(),
                origin,
                region: None,
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(e, DeliveryError::NotFound), "{e}");
    }
    let clara_project = request.key.pseudonym(&clara.research);
    let germline = genomics::deliver_region(
        &node.store,
        &gate,
        &setup,
        &audit,
        &request,
        &RegionQuery {
            id: clara_project.clone(),
            origin: VariantOrigin::Germline,
            region: None,
        },
    )
    .await
    .unwrap();
    assert!(germline.records > 100);
    let actions: Vec<String> = audit
        .entries(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("sequences."))
        .collect();
    assert_eq!(
        actions,
        [
            "sequences.delivery.granted",
            "sequences.delivery.refused",
            "sequences.delivery.refused",
            "sequences.delivery.granted"
        ],
        "every request is audited, granted or not"
    );

    {
        // bcftools reads, indexes and region-queries the delivered file and finds
        // what `bcftools view -r` finds in the source.
        let out = tmp.path().join("anna.vcf.gz");
        std::fs::write(&out, &bgzf).unwrap();
        let ok = Command::new(bcftools)
            .args(["index", "-t"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(ok.success());
        let records = |args: &[&str], file: &Path| -> Vec<String> {
            let o = Command::new(bcftools)
                .args(["view", "-H"])
                .args(args)
                .arg(file)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout)
                .unwrap()
                .lines()
                .map(|l| l.split('\t').take(5).collect::<Vec<_>>().join("\t"))
                .collect()
        };
        let source = tmp.path().join("source.vcf.gz");
        let ok = Command::new(bcftools)
            .args(["view", "-Oz", "-o"])
            .arg(&source)
            .arg(dir.join("anna.somatic.vcf"))
            .status()
            .unwrap();
        assert!(ok.success());
        assert!(
            Command::new(bcftools)
                .args(["index", "-t"])
                .arg(&source)
                .status()
                .unwrap()
                .success()
        );
        let want = records(&["-r", "chr7:55000000-55300000"], &source);
        assert_eq!(want.len(), 1);
        let got = records(&["-r", "chr7:55000000-55300000"], &out);
        let strip = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|l| l.trim_start_matches("chr").to_owned())
                .collect()
        };
        assert_eq!(strip(got), strip(want));
    }

    // Withdrawal of Clara: her extract goes, the others stay.
    let before = walk(
        &node
            .dir
            .path()
            .join("images")
            .join(genomics::ARCHIVE_PREFIX),
    )
    .len();
    let staff = TrusteeClient::new(&trustee.url, ADMIN).unwrap();
    let withdrawal = json!({"resourceType": "Consent", "id": "withdrawal-3", "status": "active", "dateTime": "2026-01-15",
        "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}});
    staff
        .record_consent_as_staff(&clara.site, withdrawal)
        .await
        .unwrap();
    let poller = WithdrawalPoller::new(client.clone(), node.store.clone(), gate.clone())
        .with_archive(archive.clone());
    let deadline = Instant::now() + Duration::from_secs(15);
    while poller.run_once().await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "no deletion order arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        walk(
            &node
                .dir
                .path()
                .join("images")
                .join(genomics::ARCHIVE_PREFIX)
        )
        .len(),
        before - 1
    );
    let store = node.store.clone();
    let clara_site = clara.site.clone();
    let (files, calls) = tokio::task::spawn_blocking(move || {
        let s = store.lock().unwrap();
        (
            s.sequence_files_of(std::slice::from_ref(&clara_site))
                .unwrap()
                .len(),
            s.variants_of(&[clara_site]).unwrap().len(),
        )
    })
    .await
    .unwrap();
    assert_eq!((files, calls), (0, 0));
}

#[tokio::test]
async fn a_bad_record_or_a_column_without_a_row_lands_nothing_and_names_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let trustee = start_trustee(tmp.path()).await;
    let client = TrusteeClient::new(&trustee.url, TOKEN).unwrap();
    let node = Node::new();
    let setup = GenomicsSetup::new(
        ObjectArchive::local(&node.dir.path().join("images")).unwrap(),
        [9; 32],
        SecretKey::generate().unwrap(),
    );
    let dir = tmp.path().join("bad");
    std::fs::create_dir(&dir).unwrap();
    mutect2(&dir.join("a.vcf"), Some(0));
    let rows = "a.vcf,T-ANNA-0815,p-1,Probe,Anna,1961-02-03,female,2024-03-01,\n\
                a.vcf,N-ANNA-0815,p-1,Probe,Anna,1961-02-03,female,2024-03-01,\n";
    std::fs::write(dir.join("samples.csv"), format!("{HEAD}{rows}")).unwrap();
    let e = genomics::ingest_sequencing(&node.store, &client, &setup, &dir)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("a.vcf") && e.contains("line 13") && e.contains("POS"),
        "{e}"
    );
    assert!(e.contains("nothing of the batch was stored"), "{e}");
    assert!(
        !e.contains("ANNA") && !e.contains("Probe"),
        "no sample id or name in errors: {e}"
    );

    // A good file, but the normal column has no manifest row.
    mutect2(&dir.join("a.vcf"), None);
    std::fs::write(
        dir.join("samples.csv"),
        format!("{HEAD}{}", rows.lines().next().unwrap()),
    )
    .unwrap();
    let e = genomics::ingest_sequencing(&node.store, &client, &setup, &dir)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sample column 2") && e.contains("samples.csv"),
        "{e}"
    );
    let store = node.store.clone();
    let stats = tokio::task::spawn_blocking(move || store.lock().unwrap().genomics_stats())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stats.files, stats.somatic_calls + stats.germline_calls),
        (0, 0)
    );
    assert!(
        !node
            .dir
            .path()
            .join("images")
            .join(genomics::ARCHIVE_PREFIX)
            .exists()
            || walk(
                &node
                    .dir
                    .path()
                    .join("images")
                    .join(genomics::ARCHIVE_PREFIX)
            )
            .is_empty()
    );
}
